"""The rules backend: describes each statement with the describer for the requested language."""

from __future__ import annotations

import importlib

from ..backends import Backend, Draft, Request
from ..errors import InvalidInputError
from .base import Describer

_LANGUAGE_MODULES = {"en": "sql2nl.rules.en", "zh": "sql2nl.rules.zh"}
#: Bumped when the rules' wording changes, so a persistent cache does not serve older texts.
RULES_VERSION = "2"
_describers: dict[str, type[Describer]] = {}


def describer_for(language: str) -> type[Describer]:
    """The describer class for ``language`` (one module per language under ``sql2nl.rules``)."""
    cls = _describers.get(language)
    if cls is None:
        if language not in _LANGUAGE_MODULES:
            raise InvalidInputError(
                f"The rules backend has no {language!r} describer; choose one of {', '.join(_LANGUAGE_MODULES)}."
            )
        cls = importlib.import_module(_LANGUAGE_MODULES[language]).DESCRIBER
        _describers[language] = cls
    return cls


class RulesBackend(Backend):
    """Describes SQL with hand-written rules over the syntax tree; needs no model and no network."""

    name = "rules"

    @property
    def identity(self) -> str:
        return f"rules@{RULES_VERSION}"

    def describe(self, request: Request) -> Draft:
        cls = describer_for(request.language)
        texts, warnings = [], []
        for facts in request.facts:
            d = cls(facts, schema=request.schema, dialect=request.dialect, style=request.style, detail=request.detail)
            try:
                texts.append(d.describe())
            except RecursionError:
                raise
            except Exception as e:  # a gap in the rules must not cost the user an answer
                d.warnings.append(
                    f"the rules describer failed on this statement ({type(e).__name__}: {e}); described generically"
                )
                texts.append(d.fallback_text())
            warnings.extend(d.warnings)
        # One statement per line; a script's outlines are set apart by a blank line.
        return Draft(text=("\n\n" if request.detail == "steps" else "\n").join(texts), warnings=warnings)
