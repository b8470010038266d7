"""Named models (the ``register_models`` hook): a name picks its backend and options everywhere ``model=`` goes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sql2nl import Backend, Draft, describe, describe_many, hookimpl
from sql2nl.api import describe_stream
from sql2nl.cli import cli
from sql2nl.errors import InvalidInputError, ModelError, UnknownModelError
from sql2nl.models import available_models
from sql2nl.plugins import get_plugin_manager, register_plugin, unregister_plugin

SQL = "SELECT name FROM singer WHERE age > 30"


class Tagged(Backend):
    """Answers with its options, so a test sees exactly what the name resolved to."""

    name = "tagged"

    def __init__(self, model=None, style="plain", retries=0):
        self.model, self.style, self.retries = model, style, retries

    @property
    def identity(self):
        return f"tagged:{self.model}:{self.style}:{self.retries}"

    def describe(self, request):
        return Draft(text=f"{self.style} {self.model} retries={self.retries}")


class ModelPlugin:
    """Registers backend "tagged" and two names for it: one with fixed options, one computed on first use."""

    def __init__(self):
        self.computed = 0

    def options(self):
        self.computed += 1
        return {"model": "/weights/lazy.bin", "style": "fancy", "retries": 2}

    @hookimpl
    def register_backends(self, register):
        register("tagged", Tagged, description="repeats its options")

    @hookimpl
    def register_models(self, register):
        register("tiny-fixed", backend="tagged", options={"model": "/weights/fixed.bin"}, description="fixed options")
        register(
            "tiny-lazy",
            backend="tagged",
            options=self.options,
            description="options on first use",
            install="pip install tiny-lazy",
        )


@pytest.fixture
def plugin():
    p = ModelPlugin()
    name = register_plugin(p, name="test-model-plugin")
    yield p
    unregister_plugin(name)


def test_register_models_hook_is_called_with_a_register_callback(plugin):
    got = []
    get_plugin_manager().hook.register_models(register=lambda name, **kw: got.append((name, kw)))
    mine = dict(got)
    assert mine["tiny-fixed"]["backend"] == "tagged"
    assert mine["tiny-lazy"]["options"] == plugin.options and mine["tiny-lazy"]["install"] == "pip install tiny-lazy"
    info = available_models()["tiny-lazy"]
    assert info.plugin == "test-model-plugin" and info.backend == "tagged"
    assert plugin.computed == 0  # listing models does not compute their options


def test_a_name_picks_its_backend_and_options(plugin):
    d = describe(SQL, model="tiny-fixed")
    assert d.backend == "tagged" and d.text == "plain /weights/fixed.bin retries=0"
    assert describe(SQL, model="tiny-lazy").text == "fancy /weights/lazy.bin retries=2"
    # the same through the other entry points
    assert describe_many([SQL], model="tiny-lazy")[0].text == "fancy /weights/lazy.bin retries=2"
    assert "".join(describe_stream(SQL, model="tiny-fixed")) == "plain /weights/fixed.bin retries=0"


def test_the_users_options_override_the_models_defaults(plugin):
    assert describe(SQL, model="tiny-lazy", retries=0).text == "fancy /weights/lazy.bin retries=0"


def test_options_are_computed_once_per_process(plugin):
    for retries in (0, 1, 2, 0):
        describe(SQL, model="tiny-lazy", retries=retries, cache=False)
    assert plugin.computed == 1


def test_resolved_options_are_forgotten_when_the_plugins_change(plugin):
    """Another plugin may register the name differently (plugins.on_plugins_changed clears them)."""
    describe(SQL, model="tiny-lazy", cache=False)
    unregister_plugin(register_plugin(object(), name="unrelated-plugin"))
    describe(SQL, model="tiny-lazy", cache=False)
    assert plugin.computed == 2


def test_explicit_backend_that_agrees_is_fine_and_one_that_disagrees_is_an_error(plugin):
    assert describe(SQL, backend="tagged", model="tiny-fixed").backend == "tagged"
    with pytest.raises(InvalidInputError, match="'tiny-fixed' runs on the 'tagged' backend, not 'rules'"):
        describe(SQL, backend="rules", model="tiny-fixed")


def test_unknown_name_suggests_the_closest(plugin):
    with pytest.raises(UnknownModelError, match="Did you mean 'tiny-lazy'.*Registered models: .*tiny-fixed"):
        describe(SQL, model="tiny-lazzy")
    # also when a backend was chosen, as long as the value is not a path
    with pytest.raises(UnknownModelError, match="Did you mean 'tiny-fixed'"):
        describe(SQL, backend="tagged", model="tiny-fixd")


def test_a_path_still_goes_to_the_chosen_backend(plugin, tmp_path):
    assert describe(SQL, backend="tagged", model="/weights/other.bin").text == "plain /weights/other.bin retries=0"
    (tmp_path / "tiny-fixd").write_text("a local file named like a typo of a model")
    assert describe(SQL, backend="tagged", model=str(tmp_path / "tiny-fixd")).text.startswith("plain ")


def test_a_model_path_without_a_backend_says_to_choose_one(plugin):
    with pytest.raises(UnknownModelError, match="-b llamacpp"):
        describe(SQL, model="/weights/other.bin")


def test_a_plugin_whose_options_fail_gives_a_model_error():
    class Broken:
        @hookimpl
        def register_models(self, register):
            register("broken-model", backend="rules", options=lambda: 1 / 0)

    name = register_plugin(Broken(), name="broken-model-plugin")
    try:
        with pytest.raises(ModelError, match="'broken-model' .*could not be prepared: ZeroDivisionError"):
            describe(SQL, model="broken-model")
    finally:
        unregister_plugin(name)


def test_cli_models_backends_and_describe(plugin):
    runner = CliRunner()
    r = runner.invoke(cli, ["models"])
    assert r.exit_code == 0
    line = next(x for x in r.output.splitlines() if x.startswith("tiny-lazy"))
    assert "backend tagged" in line and "test-model-plugin" in line
    r = runner.invoke(cli, ["models", "--json"])
    assert json.loads(r.output)["tiny-fixed"]["backend"] == "tagged"
    r = runner.invoke(cli, ["backends"])
    assert "models: tiny-fixed, tiny-lazy" in next(x for x in r.output.splitlines() if x.startswith("tagged"))
    r = runner.invoke(cli, ["describe", "-m", "tiny-lazy", SQL])
    assert r.exit_code == 0 and r.output.strip() == "fancy /weights/lazy.bin retries=2"
    r = runner.invoke(cli, ["describe", "-b", "rules", "-m", "tiny-lazy", SQL])
    assert r.exit_code == 1 and "runs on the 'tagged' backend" in r.output and "Traceback" not in r.output
    r = runner.invoke(cli, ["describe", "-m", "tiny-lazi", SQL])
    assert r.exit_code == 1 and "Did you mean 'tiny-lazy'?" in r.output
