"""Plugins: the pluggy hooks (each one called here), entry points, SQL2NL_LOAD_PLUGINS, broken plugins."""

from __future__ import annotations

import textwrap
import warnings

import click
import pytest
from click.testing import CliRunner

from sql2nl import Backend, Draft, UnknownBackendError, describe, hookimpl
from sql2nl.backends import available_backends, get_backend
from sql2nl.plugins import (
    PluginLoadWarning,
    get_plugin_manager,
    plugin_errors,
    plugin_names,
    register_plugin,
    reset_plugin_manager,
    unregister_plugin,
)


class Echo(Backend):
    name = "echo"

    def describe(self, request):
        return Draft(text=f"echo: {request.sql}")


class EchoPlugin:
    @hookimpl
    def register_backends(self, register):
        register("echo", Echo, description="repeats the SQL", install="pip install sql2nl-echo")

    @hookimpl
    def register_commands(self, cli):
        @cli.command()
        @click.argument("word")
        def shout(word):
            """Say it loud."""
            click.echo(word.upper())


@pytest.fixture
def echo_plugin():
    name = register_plugin(EchoPlugin(), name="echo-plugin")
    yield name
    unregister_plugin(name)


def test_a_blocked_plugin_name_is_a_clear_error_not_a_silent_none():
    from sql2nl.errors import InvalidInputError
    from sql2nl.plugins import get_plugin_manager

    pm = get_plugin_manager()
    pm.set_blocked("blocked-plugin")
    try:
        with pytest.raises(InvalidInputError, match="'blocked-plugin' is blocked"):
            register_plugin(EchoPlugin(), name="blocked-plugin")
    finally:
        pm.unblock("blocked-plugin")
    assert "blocked-plugin" not in plugin_names()


def test_rules_is_a_builtin_plugin_registered_like_any_other():
    assert "sql2nl.rules.plugin" in plugin_names()
    info = available_backends()["rules"]
    assert info.plugin == "sql2nl.rules.plugin" and "offline" in info.description


def test_register_backends_hook_is_called_with_a_register_callback(echo_plugin):
    got = []
    get_plugin_manager().hook.register_backends(register=lambda name, factory, **kw: got.append((name, factory, kw)))
    names = [n for n, _, _ in got]
    assert "rules" in names and "echo" in names
    echo = next(g for g in got if g[0] == "echo")
    assert echo[1] is Echo and echo[2]["install"] == "pip install sql2nl-echo"


def test_a_registered_backend_is_usable_by_name(echo_plugin):
    assert available_backends()["echo"].plugin == "echo-plugin"
    assert describe("SELECT 1 FROM t", backend="echo").text == "echo: SELECT 1 FROM t"


def test_unregistering_removes_the_backend():
    name = register_plugin(EchoPlugin(), name="echo-temp")
    unregister_plugin(name)
    with pytest.raises(UnknownBackendError):
        describe("SELECT 1 FROM t", backend="echo")


def test_changing_the_plugins_forgets_shared_backend_instances(echo_plugin):
    first = get_backend("echo")
    assert get_backend("echo") is first  # one shared instance per set of options
    other = register_plugin(object(), name="no-hooks")
    assert get_backend("echo") is not first  # a plugin change may replace the factory: built anew
    second = get_backend("echo")
    unregister_plugin(other)
    assert get_backend("echo") is not second


def test_register_commands_hook_adds_click_commands(echo_plugin):
    group = click.Group("test")
    get_plugin_manager().hook.register_commands(cli=group)
    assert "shout" in group.commands
    result = CliRunner().invoke(group, ["shout", "hello"])
    assert result.exit_code == 0 and result.output.strip() == "HELLO"


# -- entry points -------------------------------------------------------------------------------


def _fake_distribution(root, dist: str, module: str, body: str) -> None:
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[sql2nl]\n{module.split('_')[-1]} = {module}\n")


GOOD = """
    from sql2nl import Backend, Draft, hookimpl

    class Upper(Backend):
        name = "upper"
        def describe(self, request):
            return Draft(text=request.sql.upper())

    @hookimpl
    def register_backends(register):
        register("upper", Upper, description="shouts the SQL")
"""
BROKEN = """
    raise ImportError("needs libfoo, which is not installed")
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, "sql2nl-upper", "sql2nl_upper", GOOD)
    _fake_distribution(tmp_path, "sql2nl-broken", "sql2nl_broken", BROKEN)
    monkeypatch.syspath_prepend(str(tmp_path))
    reset_plugin_manager()
    yield tmp_path
    monkeypatch.undo()
    reset_plugin_manager()


def test_entry_point_plugins_load_and_a_broken_one_is_skipped(site, monkeypatch):
    monkeypatch.delenv("SQL2NL_LOAD_PLUGINS", raising=False)
    with pytest.warns(PluginLoadWarning, match="libfoo"):
        names = plugin_names()
    assert "upper" in names and "broken" not in names
    assert "libfoo" in plugin_errors()["broken"]
    assert describe("select 1 from t", backend="upper").text == "SELECT 1 FROM T"
    assert describe("SELECT 1 FROM t").backend == "rules"  # the others still work
    with pytest.raises(UnknownBackendError, match="broken .*libfoo"):
        describe("SELECT 1 FROM t", backend="brokenbackend")


def test_load_plugins_env_restricts_entry_points(site, monkeypatch):
    monkeypatch.setenv("SQL2NL_LOAD_PLUGINS", "sql2nl-upper")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginLoadWarning)  # the broken one is not even tried
        names = plugin_names()
    assert "upper" in names and "sql2nl.rules.plugin" in names and not plugin_errors()
    reset_plugin_manager()
    monkeypatch.setenv("SQL2NL_LOAD_PLUGINS", "")
    names = plugin_names()
    assert names == ["sql2nl.rules.plugin"]  # built-ins always load
