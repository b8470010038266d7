"""Backends for the Spark tests, registered through the plugin hook on the driver.

Spark's executors import this module by name (the tests ship it with ``SparkContext.addPyFile``,
as a user ships a plugin with ``spark-submit --py-files``).

* ``counting``: the rules describer, plus one line per statement it is asked to describe appended
  to the file its ``log`` option names (process id, Spark partition, fingerprint), and one when it
  is built (process id, ``built``), so a test can count the work done in executor processes; ``voice="shout"`` upper-cases the text (an
  option that changes the text, to show options reach the executors).
* ``needs-model``: refuses to start unless its ``model`` file exists (a model missing on the
  executors is a row error, not a failed job).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sql2nl import Backend, hookimpl
from sql2nl.backends import Draft, Request
from sql2nl.cache import fingerprint
from sql2nl.errors import ModelError
from sql2nl.options import Options, option
from sql2nl.rules.backend import RulesBackend


@dataclass
class CountingOptions(Options):
    log: str = option("", "File that gets one line per statement described.", changes_text=False)
    voice: str = option("plain", "'shout' upper-cases the text.", choices=("plain", "shout"))


class CountingBackend(Backend):
    name = "counting"
    Options = CountingOptions

    def __init__(self, **options):
        super().__init__(**options)
        self._log("built", "-")

    def _log(self, what: str, fp: str) -> None:
        if self.options.log:
            fd = os.open(self.options.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:  # one short O_APPEND write: lines from several processes do not interleave
                os.write(fd, f"{os.getpid()}\t{what}\t{fp}\n".encode())
            finally:
                os.close(fd)

    def describe(self, request: Request) -> Draft:
        draft = RulesBackend().describe(request)
        if self.options.log:
            from pyspark import TaskContext

            ctx = TaskContext.get()
            self._log(str(ctx.partitionId() if ctx else -1), fingerprint(request.sql))
        if self.options.voice == "shout":
            draft.text = draft.text.upper()
        return draft


@dataclass
class NeedsModelOptions(Options):
    model: str = option("", "A model file that must exist.")


class NeedsModel(Backend):
    name = "needs-model"
    Options = NeedsModelOptions

    def __init__(self, **options):
        super().__init__(**options)
        if not os.path.exists(self.options.model):
            raise ModelError(f"No model file at {self.options.model!r} on this machine.")

    def describe(self, request: Request) -> Draft:
        return RulesBackend().describe(request)


@hookimpl
def register_backends(register):
    register("counting", CountingBackend, description="rules, counting what it describes (Spark tests)")
    register("needs-model", NeedsModel, description="needs a model file (Spark tests)")
