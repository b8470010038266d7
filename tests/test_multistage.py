"""Multi-stage fine-tuning: ``sql2nl train --from runs/general --data ours --out runs/ours``, lineage, compare."""

from __future__ import annotations

import json

import pytest
from skips import require

require("torch")
require("sql2nl_training")

import part2_fixtures as fx  # noqa: E402

from sql2nl.errors import Sql2NLError  # noqa: E402

pytestmark = pytest.mark.slow  # three tiny trainings and a few generations


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    """Stage 1 on the "general" pairs, stage 2 from it on the team's pairs; both validated on the same pairs."""
    from sql2nl_training import train

    tmp = tmp_path_factory.mktemp("stages")
    general = fx.tiny_run(tmp, "general", max_steps=6)
    ours_data = fx.write_jsonl(fx.OURS, tmp / "ours.jsonl")
    ours = train(
        fx.tiny_config(
            from_run=str(general),
            data=str(ours_data),
            valid=str(tmp / "valid.jsonl"),
            out=str(tmp / "ours"),
            max_steps=4,
            lora_r=4,
            lora_alpha=8,
        ),
        progress=False,
    )
    return tmp, general, ours


def _manifest(run):
    return json.loads((run / "manifest.json").read_text())


def test_second_stage_starts_from_the_first_and_records_the_lineage(stages):
    from sql2nl_training.stages import lineage

    tmp, general, ours = stages
    g, o = _manifest(general), _manifest(ours)
    # stage 2's base is stage 1's merged model (written once into the earlier run), not a new scratch model
    assert o["base_model"] == str(general / "merged") and (general / "merged" / "config.json").is_file()
    assert g["artifacts"]["merged"] == "merged" and not (ours / "base").exists()
    assert o["config"]["from_run"] == str(general) and o["config"]["lora_r"] == 4  # its own config
    assert o["config"]["train_embeddings"] is True  # a scratch lineage keeps training its embeddings
    [first] = o["stages"]
    assert first["run"] == str(general) and first["config"] == g["config"]
    assert first["data"]["train_file"] == str(tmp / "general.jsonl") and first["data"]["train"] == len(fx.GENERAL)
    assert first["metrics"]["steps"] == 6 and first["metrics"]["eval_loss"] == g["metrics"]["eval_loss"]
    chain = lineage(ours)
    assert [s["run"] for s in chain] == [str(general), str(ours)]
    assert chain[-1]["metrics"]["steps"] == 4 and chain[-1]["from_run"] == str(general)
    assert "continues" in (ours / "report.md").read_text()


def test_a_zero_step_change_reproduces_the_first_stage(stages):
    """Through the CLI: a stage 2 with a negligible learning rate scores stage 1's validation loss exactly,
    so the starting point really is stage 1's trained model (weights and tokenizer)."""
    from click.testing import CliRunner

    from sql2nl.cli import cli

    tmp, general, _ = stages
    res = CliRunner().invoke(
        cli,
        [
            "train",
            "--from",
            str(general),
            "--data",
            str(tmp / "ours.jsonl"),
            "--valid",
            str(tmp / "valid.jsonl"),
            "--out",
            str(tmp / "frozen"),
            "--engine",
            "peft",
            "--max-steps",
            "1",
            "--learning-rate",
            "1e-12",
            "--no-progress",
            "--save-steps",
            "100",
            # stage 1's batch size: the validation loss is a mean over batches, so
            # another batching of pairs of different lengths gives another mean
            "--batch-size",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    frozen = _manifest(tmp / "frozen")
    assert frozen["metrics"]["eval_loss"] == pytest.approx(_manifest(general)["metrics"]["eval_loss"], abs=2e-4)


def test_compare_scores_every_stage_on_the_same_data(stages):
    from click.testing import CliRunner

    from sql2nl.cli import cli

    tmp, general, ours = stages
    res = CliRunner().invoke(
        cli,
        [
            "compare",
            str(general),
            str(ours),
            "--data",
            str(tmp / "valid.jsonl"),
            "--out",
            str(tmp / "cmp"),
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    rows = out["rows"]
    assert [r["stage"] for r in rows] == ["rules describer (baseline)", "1. general", "2. ours"]
    assert all(r["n"] == len(fx.VALID) for r in rows)
    assert rows[2]["gain"] == {
        k: pytest.approx(rows[2][k] - rows[1][k], abs=0.011) for k in ("faithfulness", "bleu", "rouge_l")
    }
    assert "gain" not in rows[1]
    md = (tmp / "cmp" / "compare.md").read_text()
    assert "| 2. ours |" in md and "Lineage" in md and (tmp / "cmp" / "compare.png").is_file()
    # each stage's own evaluation report on that data
    assert (tmp / "cmp" / "1-general" / "report.md").is_file() and (tmp / "cmp" / "2-ours" / "report.md").is_file()


def test_from_a_directory_that_is_not_a_run_is_refused(tmp_path):
    from sql2nl_training import train

    data = fx.write_jsonl(fx.OURS, tmp_path / "ours.jsonl")
    valid = fx.write_jsonl(fx.VALID, tmp_path / "valid.jsonl")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(Sql2NLError, match="not a sql2nl run directory"):
        train(
            fx.tiny_config(
                from_run=str(tmp_path / "nothing"), data=str(data), valid=str(valid), out=str(tmp_path / "x")
            ),
            progress=False,
        )
    with pytest.raises(Sql2NLError, match="from_run must be another run"):
        fx.tiny_config(from_run=str(tmp_path / "x"), data=str(data), out=str(tmp_path / "x"))
