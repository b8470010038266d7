"""Adds ``train`` and ``eval`` to the ``sql2nl`` CLI (``export`` comes from sql2nl-gguf; the core never imports torch)."""

from sql2nl import hookimpl


@hookimpl
def register_commands(cli):
    from . import commands

    commands.register(cli)
