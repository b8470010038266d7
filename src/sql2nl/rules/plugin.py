"""Registers the rules backend through the same hook third-party plugins use."""

from ..hookspecs import hookimpl


@hookimpl
def register_backends(register):
    from .backend import RulesBackend

    register("rules", RulesBackend, description="Rule-based describer over the sqlglot tree (offline, default)")
