"""The rule-based describer: the embedded, offline default backend."""

from .backend import RulesBackend, describer_for

__all__ = ["RulesBackend", "describer_for"]
