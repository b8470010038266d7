"""``sql2nl tune`` end to end on CPU: scratch:tiny, three short trials, pruning on validation loss, resume."""

from __future__ import annotations

import csv
import json

import pytest
from skips import require

require("torch")
require("optuna")
require("sql2nl_training")

import part2_fixtures as fx  # noqa: E402

from sql2nl.errors import InvalidInputError  # noqa: E402

pytestmark = pytest.mark.slow  # a few tiny trainings: tens of seconds on a busy 2-core machine

SPACE = {
    "lora_r": ["categorical", [4, 8]],
    "learning_rate": ["float", 1e-3, 1e-2, True],
    "batch_size": ["categorical", [2, 3]],
    "epochs": ["float", 1.0, 2.0, False],
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from sql2nl_training.tune import tune

    tmp = tmp_path_factory.mktemp("tune")
    data = fx.write_jsonl(fx.GENERAL, tmp / "train.jsonl")
    valid = fx.write_jsonl(fx.VALID[:3], tmp / "valid.jsonl")
    cfg = fx.tiny_config(max_steps=-1)
    first = tune(
        config=cfg,
        data=str(data),
        valid=str(valid),
        out=tmp / "t",
        trials=3,
        max_steps=4,
        eval_limit=3,
        space=SPACE,
        progress=False,
        log=lambda m: None,
    )
    return tmp, first


def _load(out):
    import optuna

    return optuna.load_study(study_name="sql2nl-tune", storage=f"sqlite:///{out / 'study.db'}")


def test_trials_are_scored_ranked_and_the_best_saved_as_a_recipe(study):
    from sql2nl_training import TrainConfig

    tmp, summary = study
    out = tmp / "t"
    s = _load(out)
    assert len(s.trials) == 3 and summary["trials"] == 3
    done = [t for t in s.trials if t.state.name == "COMPLETE"]
    assert done, [t.state for t in s.trials]
    for t in done:
        assert 0 <= t.user_attrs["faithfulness"] <= 100 and 0 <= t.user_attrs["bleu"] <= 100
        assert t.value == pytest.approx(0.5 * t.user_attrs["faithfulness"] + 0.5 * t.user_attrs["bleu"])
        # the pruner saw the validation loss while the trial trained (as -loss: the study maximises)
        assert t.intermediate_values and all(v < 0 for v in t.intermediate_values.values())
        cfg = t.user_attrs["config"]
        assert cfg["lora_r"] in (4, 8) and cfg["batch_size"] in (2, 3) and 1e-3 <= cfg["learning_rate"] <= 1e-2
        assert (out / "trials" / f"{t.number:04d}" / "adapter" / "adapter_config.json").is_file()
    rows = list(csv.DictReader((out / "trials.csv").open()))
    objectives = [float(r["objective"]) for r in rows if r["state"] == "complete"]
    assert objectives == sorted(objectives, reverse=True) and len(rows) == 3
    best = max(done, key=lambda t: t.value)
    assert summary["best_trial"] == best.number
    recipe = TrainConfig.from_json(out / "best.json")  # usable by `sql2nl train --config`
    for k in ("lora_r", "learning_rate", "batch_size", "epochs"):
        assert getattr(recipe, k) == best.user_attrs["config"][k]
    assert recipe.max_steps == -1 and recipe.data == "" and recipe.out == ""
    assert (out / "trials.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| trial | state | objective" in (out / "trials.md").read_text()


def test_rerunning_adds_trials_and_a_pruned_trial_stops_early(study):
    import optuna

    from sql2nl_training.tune import tune

    tmp, _ = study
    # a pruner that stops every trial at its first validation: this one must end PRUNED, trained < 4 steps
    summary = tune(
        config=fx.tiny_config(max_steps=-1),
        data=str(tmp / "train.jsonl"),
        valid=str(tmp / "valid.jsonl"),
        out=tmp / "t",
        trials=1,
        max_steps=4,
        eval_limit=3,
        space=SPACE,
        progress=False,
        pruner=optuna.pruners.ThresholdPruner(lower=0.0),
        log=lambda m: None,
    )
    s = _load(tmp / "t")
    assert [t.number for t in s.trials] == [0, 1, 2, 3] and summary["trials"] == 4
    last = s.trials[-1]
    assert last.state.name == "PRUNED" and last.user_attrs["steps"] < 4
    assert summary["best_trial"] in [t.number for t in s.trials[:3]]
    # the earlier trials' results survive the second session untouched
    assert len(list(csv.DictReader((tmp / "t" / "trials.csv").open()))) == 4


def test_bad_search_space_is_refused(tmp_path):
    from sql2nl_training.tune import tune

    data = fx.write_jsonl(fx.GENERAL, tmp_path / "train.jsonl")
    with pytest.raises(InvalidInputError, match="'dropout' is not searchable"):
        tune(data=str(data), out=tmp_path / "t", trials=1, space={"dropout": ["float", 0, 0.1]})
    with pytest.raises(InvalidInputError, match="'lora_r' must be"):
        tune(data=str(data), out=tmp_path / "t", trials=1, space={"lora_r": ["int", 8]})
    with pytest.raises(InvalidInputError, match="bleu-weight"):
        tune(data=str(data), out=tmp_path / "t", trials=1, bleu_weight=2)


def test_tune_command_rewrites_the_table_without_new_trials(study):
    from click.testing import CliRunner

    from sql2nl.cli import cli

    tmp, _ = study
    (tmp / "t" / "trials.md").unlink()
    res = CliRunner().invoke(
        cli, ["tune", "--data", str(tmp / "train.jsonl"), "--out", str(tmp / "t"), "--trials", "0", "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["trials"] >= 3 and (tmp / "t" / "trials.md").is_file()
    res = CliRunner().invoke(
        cli,
        ["tune", "--data", str(tmp / "train.jsonl"), "--out", str(tmp / "t2"), "--space", str(tmp / "missing.json")],
    )
    assert res.exit_code == 1 and "Could not read the search space" in res.output
