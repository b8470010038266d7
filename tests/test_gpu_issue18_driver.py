"""The issue-18 GPU driver, end to end on the CPU (gloo, tiny models, a few steps), so that the one
or two device calls it is written for cannot fail for a reason the CPU can show: the wrapper script,
both stages, the job launching, the result files and the bundle."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from skips import require

require("torch")
require("trl")
require("sql2nl_training")

from training_pairs import MUSIC, MUSIC_MORE, SHOP_SCHOOL  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_driver_runs_every_stage_on_cpu(tmp_path):
    out, work, data = tmp_path / "out", tmp_path / "work", tmp_path / "pairs"
    data.mkdir()
    (data / "train.jsonl").write_text("".join(json.dumps(p) + "\n" for p in SHOP_SCHOOL + MUSIC))
    (data / "valid.jsonl").write_text("".join(json.dumps(p) + "\n" for p in MUSIC_MORE))
    env = {**os.environ, "SQL2NL_WHEELS": str(tmp_path / "no-wheels"), "OMP_NUM_THREADS": "1"}
    env.pop("NCCL_NVLS_ENABLE", None)
    r = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_issue18.sh"), "--tiny", "--out", str(out),
                        "--work", str(work), "--data", str(data)], env=env, capture_output=True, text=True,
                       timeout=2400)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert sorted(p.name for p in out.iterdir()) == ["ddp_real_loss.png", "issue18.json", "issue18.md", "logs.tar.gz"]
    summary = json.loads((out / "issue18.json").read_text())
    assert summary["environment"]["env"]["NCCL_NVLS_ENABLE"] == "0"  # set by the wrapper
    stages = summary["stages"]
    assert {k: v["status"] for k, v in stages.items()} == {"scaling": "done", "real": "done"}

    rows = stages["scaling"]["result"]["results"]
    assert [(r["gpus"], "error" in r) for r in rows] == [(1, False), (2, False)]
    one, two = rows
    assert two["global_batch"] == 2 * one["global_batch"] and two["useful_tok_s"] > 0
    assert len(two["peak_gib_per_gpu"]) == 2 and len(two["comm_per_gpu"]) == 2
    assert two["comm_per_gpu"][0]["allreduce_calls"] >= 1  # gradients were all-reduced each step
    assert two["allreduce_mb_per_step"] > 0 and "scaling_efficiency" in two

    real = stages["real"]["result"]
    checks = real["checks"]
    assert checks["same_examples_every_step"] is True and checks["max_eval_loss_difference"] < 1e-3
    for name in ("g2-to-g1", "g1-to-g2"):
        assert checks[name]["same_examples_every_step"] is True and checks[name]["steps"] == real["runs"]["g1"]["steps"]
        assert checks[name]["max_loss_difference"] < 1e-3
    assert (real["runs"]["g2"]["world_size"], real["runs"]["g2-to-g1"]["world_size"]) == (2, 1)
    with tarfile.open(out / "logs.tar.gz") as tar:
        names = tar.getnames()
    assert "scaling/training_throughput.json" in names and "real/runs/g2/data_order/rank-1.jsonl" in names
    assert not any("checkpoints/" in n for n in names)
    assert "## scaling (done" in (out / "issue18.md").read_text()
