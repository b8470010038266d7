"""Adds ``sql2nl export`` to the CLI (the command module and its heavy imports load only when used)."""

from sql2nl import hookimpl


@hookimpl
def register_commands(cli):
    from .cli import export_command

    if "export" not in cli.commands:
        cli.add_command(export_command, "export")
