"""Deliberately wrong LLM backends, registered through the plugin hook as a third party would.

``wrong``: an :class:`~sql2nl.llm.LLMBackend` whose greedy answer leaves out the filter value;
sampled answers (the guard's extra candidates and retries) get it right from the ``good_from``-th
sample on. It records every batch it was asked to generate, so tests can see the batching.

``spy``: an LLMBackend that records every prompt it is sent and answers by copying the
placeholders it finds, as a model would; used by the redaction tests.

Run in another process (the LSP test) with ``python -c "import wrongllm; wrongllm.main()" lsp ...``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from sql2nl import hookimpl
from sql2nl.llm import LLMBackend, LLMOptions
from sql2nl.options import option

SQL = "SELECT name FROM users WHERE city = 'Oslo'"
WRONG = "List the names of all users."
RIGHT = "List the names of users whose city is Oslo."


@dataclass
class WrongOptions(LLMOptions):
    good_from: int = option(1, "The first sampled answer (1 = the first extra one) that is right; 0: never.")
    # Off here so the tests see the fallback paths; the mending tests turn it on (the library's default).
    mend: bool = option(False, "Mend an answer that leaves things out before falling back.", per_request=True)


class Wrong(LLMBackend):
    name = "wrong"
    Options = WrongOptions
    batches: list[tuple[int, float | None]] = []

    def generate(self, prompts, *, temperature=None):
        Wrong.batches.append((len(prompts), temperature))
        if not temperature:
            return [WRONG for _ in prompts]
        out = []
        for _ in prompts:
            self._samples = getattr(self, "_samples", 0) + 1
            good = self.options.good_from and self._samples >= self.options.good_from
            out.append(RIGHT if good else "Users, some of them.")
        return out

    def generate_stream(self, prompt):
        for i in range(0, len(WRONG), 5):
            yield WRONG[i : i + 5]


class Spy(LLMBackend):
    name = "spy"
    prompts: list = []

    def generate(self, prompts, *, temperature=None):
        self._record(prompts)
        return [self._answer(p) for p in prompts]

    def generate_stream(self, prompt):
        self._record([prompt])
        text = self._answer(prompt)
        for i in range(0, len(text), 3):  # small pieces, so placeholders arrive split
            yield text[i : i + 3]

    @staticmethod
    def _record(prompts) -> None:
        Spy.prompts.extend(prompts)
        log = os.environ.get("SQL2NL_TEST_SPY_LOG")  # a spy in another process (the LSP test) writes here
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.writelines(p + "\n" for p in prompts)

    @staticmethod
    def _answer(prompt: str) -> str:
        names = list(dict.fromkeys(re.findall(r"'((?:x)*value\d+)'", prompt)))
        return "It uses " + (", ".join(f"'{n}'" for n in names) or "no values") + "."


class Plugin:
    @hookimpl
    def register_backends(self, register):
        register("wrong", Wrong, description="leaves the filter value out (test)")
        register("spy", Spy, description="records what it is sent (test)")


def register() -> str:
    from sql2nl.plugins import register_plugin

    return register_plugin(Plugin(), name="test-wrongllm")


def main() -> None:
    """The ``sql2nl`` command line with these backends registered (for tests that run it in a child process)."""
    register()
    from sql2nl.cli import main as cli_main

    cli_main()
