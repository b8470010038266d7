"""Adds ``train``, ``eval`` and ``export`` to the ``sql2nl`` CLI (the core never imports torch)."""

from sql2nl import hookimpl


@hookimpl
def register_commands(cli):
    from . import commands

    commands.register(cli)
