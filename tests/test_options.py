"""Backend options declared once, and what is derived from them: cache key, -o parsing, docs table, plugin authoring."""

from __future__ import annotations

import inspect
import re
import typing
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from skips import require

from sql2nl import Backend, Draft, InvalidInputError, describe, hookimpl
from sql2nl.backends import available_backends, get_backend
from sql2nl.cli import cli, options_markdown
from sql2nl.options import Options, _convert, _members, option
from sql2nl.plugins import register_plugin, unregister_plugin

DOCS = Path(__file__).resolve().parents[1] / "docs" / "backends.md"

# Options reviewed as NOT changing the text (performance, logging, connection handling, secrets).
# A new option that claims it does not change the text must be added here by a reviewer; every
# other option is in the cache key by construction.
NOT_TEXT = {
    "rules": set(),
    "transformers": {"compile", "static_cache", "fast_decode", "batch_size", "merge_adapter"},
    "llamacpp": {"n_threads", "n_gpu_layers", "n_batch", "verbose"},
    "openai": {"api_key", "timeout", "max_retries", "concurrency"},
}


def _project_backends():
    infos = available_backends()
    missing = set(NOT_TEXT) - set(infos)
    if missing:  # CI installs every plugin; a developer without one still checks the rest
        require("sql2nl_" + sorted(missing)[0])
    return {n: i for n, i in infos.items() if n in NOT_TEXT}


def _other_value(spec):
    """A valid value of the option other than its default."""
    literals = [a for m in _members(spec.type) if typing.get_origin(m) is typing.Literal for a in typing.get_args(m)]
    for candidate in [*literals, "other", 7, 0.5, True, False, ["x"], {"k": 1}]:
        try:
            value = _convert(spec, candidate, "t")
        except InvalidInputError:
            continue
        if value != spec.default:
            return value
    raise AssertionError(f"no other value for {spec.name}")


def test_every_backend_declares_its_options_and_every_text_option_is_in_the_key():
    for name, info in _project_backends().items():
        assert info.options is not None, f"{name} registers no Options declaration"
        specs = info.options.specs()
        assert {s.name for s in specs if not s.changes_text} == NOT_TEXT[name], name
        base = info.options()
        for s in specs:
            changed = base.replace(**{s.name: _other_value(s)})
            if s.changes_text:
                assert changed.key() != base.key(), f"{name}.{s.name} changes the text but not the cache key"
            else:
                assert changed.key() == base.key(), f"{name}.{s.name}"


def test_no_backend_takes_an_option_it_does_not_declare():
    # A keyword argument of __init__ outside the declaration would bypass the cache key.
    from sql2nl.rules.backend import RulesBackend

    classes = {"rules": RulesBackend}
    for mod, cls in (
        ("sql2nl_transformers.backend", "TransformersBackend"),
        ("sql2nl_llamacpp.backend", "LlamaCppBackend"),
        ("sql2nl_openai.backend", "OpenAIBackend"),
    ):
        try:
            classes[cls] = getattr(__import__(mod, fromlist=[cls]), cls)
        except ImportError:
            continue
    for cls in classes.values():
        names = set(cls.Options.names())
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.name in ("self", "_loaded"):
                continue
            assert p.name in names, f"{cls.__name__}.__init__({p.name}=...) is not a declared option"


def test_cli_options_are_typed_and_typos_fail_before_a_model_loads(tmp_path):
    require("sql2nl_llamacpp")
    r = CliRunner().invoke(
        cli, ["describe", "-b", "llamacpp", "-m", str(tmp_path / "none.gguf"), "-o", "n_tcx=4096", "SELECT 1"]
    )
    assert r.exit_code == 2 and "did you mean 'n_ctx'" in r.output  # not "file not found": no load tried
    r = CliRunner().invoke(cli, ["describe", "-b", "llamacpp", "-m", "x.gguf", "-o", "n_ctx=many", "SELECT 1"])
    assert r.exit_code == 2 and "n_ctx must be integer / null, got 'many'" in r.output


def test_docs_table_is_the_generated_one():
    text = DOCS.read_text(encoding="utf-8")
    m = re.search(r"<!-- options:begin -->\n(.*)<!-- options:end -->", text, re.S)
    assert m, "docs/backends.md lost its generated options section"
    assert m.group(1).strip() == options_markdown(_project_backends()).strip(), (
        "docs/backends.md is out of date: regenerate it with `sql2nl backends --options --markdown`"
    )


def test_backends_options_lists_them():
    r = CliRunner().invoke(cli, ["backends", "--options"])
    assert r.exit_code == 0 and "-o on_unfaithful:" in r.output and "-o candidates: integer = 1" in r.output


# -- a third-party backend declares its options the same way -------------------------------------
@dataclass
class ShoutOptions(Options):
    volume: int = option(1, "How many exclamation marks.", minimum=0, maximum=5)
    colour: str = option("red", "Does nothing to the text.", changes_text=False)


class Shout(Backend):
    name = "shout"
    Options = ShoutOptions

    def describe(self, request):
        return Draft(text="SELECT" + "!" * self.options.volume)


class ShoutPlugin:
    @hookimpl
    def register_backends(self, register):
        register("shout", Shout, description="a third-party backend (test)")


@pytest.fixture
def shout():
    name = register_plugin(ShoutPlugin(), name="test-shout")
    yield
    unregister_plugin(name)


def test_third_party_backend_options(shout):
    assert describe("SELECT 1", backend="shout", volume=3).text == "SELECT!!!"
    assert get_backend("shout", volume="2") is get_backend("shout", volume=2)  # one instance for both spellings
    with pytest.raises(InvalidInputError, match="did you mean 'volume'"):
        describe("SELECT 1", backend="shout", volumen=3)
    with pytest.raises(InvalidInputError, match="at most 5"):
        describe("SELECT 1", backend="shout", volume=9)
    r = CliRunner().invoke(cli, ["describe", "-b", "shout", "-o", "volume=2", "SELECT 1"])
    assert r.output.strip() == "SELECT!!"
    # colour does not change the text, so it shares the cache entry.
    assert describe("SELECT 2", backend="shout", colour="blue") is describe("SELECT 2", backend="shout")
