"""Several processes on the CPU (gloo) through torchrun, as `sql2nl train --gpus N` runs them on GPUs.

Two runs of 6 steps with a global batch of 4 — one process × 4 examples and two processes × 2 —
must train on the same examples in every step (the data-order log: a hash of every example each
process trained on) with the same losses, and write the same files (only rank 0 writes). A run
checkpointed at step 4 (mid-epoch of the second epoch: 9 pairs make 3 steps an epoch) resumes on
the other number of processes to step 6 and must match the uninterrupted run step by step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from skips import require

require("torch")
require("trl")
require("sql2nl_training")

pytestmark = pytest.mark.slow

from training_pairs import MUSIC, MUSIC_MORE, SHOP_SCHOOL  # noqa: E402

from sql2nl_training.distributed import SAFE_ENV, copy_run_at, launch, read_data_order  # noqa: E402

CLI = [sys.executable, "-c", "from sql2nl.cli import main; main()"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _files(run: Path) -> set[str]:
    skip = ("checkpoints/", "data_order/")
    return {
        str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and not str(p.relative_to(run)).startswith(skip)
    }


def _history(run: Path, key: str) -> list[tuple[int, float]]:
    return [(h["step"], h[key]) for h in json.loads((run / "log_history.json").read_text()) if key in h]


def _train(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + ["train", "--no-progress", *args], env=ENV, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One process × 4 and two processes × 2, 6 steps each, checkpoints at step 4."""
    tmp = tmp_path_factory.mktemp("ddp")
    (tmp / "train.json").write_text(json.dumps(SHOP_SCHOOL + MUSIC))  # 9 pairs: 3 steps an epoch
    (tmp / "valid.json").write_text(json.dumps(MUSIC_MORE * 2))
    common = [
        "--base=scratch:tiny",
        f"--data={tmp / 'train.json'}",
        f"--valid={tmp / 'valid.json'}",
        "--max-steps=6",
        "--learning-rate=3e-3",
        "--logging-steps=1",
        "--save-steps=4",
        "--eval-steps=2",
        "--engine=peft",
        "--seed=1",
        "--log-data-order",
    ]
    one = _train(common + [f"--out={tmp / 'one'}", "--batch-size=4"])
    assert one.returncode == 0, one.stderr[-3000:]
    two = _train(common + [f"--out={tmp / 'two'}", "--batch-size=2", "--gpus=2"])
    assert two.returncode == 0, two.stderr[-3000:]
    return tmp


def _assert_same_training(run: Path, ref: Path) -> None:
    order, ref_order = read_data_order(run), read_data_order(ref)
    assert sorted(order) == [1, 2, 3, 4, 5, 6]
    assert order == ref_order  # the same examples in every step
    for key in ("loss", "eval_loss"):
        got, want = _history(run, key), _history(ref, key)
        assert [s for s, _ in got] == [s for s, _ in want]
        # the same sums in another order (all-reduce vs one process): equal to float rounding
        assert all(abs(a - b) <= 1e-4 * abs(b) for (_, a), (_, b) in zip(got, want)), (got, want)


def test_two_gloo_processes_match_one(runs):
    one, two = runs / "one", runs / "two"
    m1 = json.loads((one / "manifest.json").read_text())
    m2 = json.loads((two / "manifest.json").read_text())
    assert (m1["world_size"], m1["per_device_batch"], m1["global_batch"]) == (1, 4, 4)
    assert (m2["world_size"], m2["per_device_batch"], m2["global_batch"]) == (2, 2, 4)
    assert m2["status"] == "done" and m2["metrics"]["steps"] == 6
    assert json.loads((two / "config.json").read_text())["global_batch"] == 4
    assert _files(one) == _files(two)
    assert sorted(p.name for p in (two / "checkpoints").glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-6"]
    # each process logged its own half of every step
    assert sorted(p.name for p in (two / "data_order").iterdir()) == ["rank-0.jsonl", "rank-1.jsonl"]
    _assert_same_training(two, one)
    losses = [v for _, v in _history(two, "loss")]
    assert losses[-1] < losses[0]


def test_checkpoint_of_two_processes_resumes_on_one(runs, tmp_path):
    run = copy_run_at(runs / "two", tmp_path / "two-to-one", 4)
    r = _train(["--resume", f"--out={run}"])
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((run / "manifest.json").read_text())
    # the run's global batch of 4 is now one process × 2 examples × 2 accumulation steps
    assert (m["world_size"], m["global_batch"], m["per_device_batch"], m["grad_accum"]) == (1, 4, 2, 2)
    assert m["status"] == "done" and m["metrics"]["steps"] == 6
    _assert_same_training(run, runs / "one")


def test_checkpoint_of_one_process_resumes_on_two(runs, tmp_path):
    run = copy_run_at(runs / "one", tmp_path / "one-to-two", 4)
    r = _train(["--resume", f"--out={run}", "--gpus=2"])
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((run / "manifest.json").read_text())
    assert (m["world_size"], m["global_batch"], m["per_device_batch"], m["grad_accum"]) == (2, 4, 2, 1)
    _assert_same_training(run, runs / "one")


def test_resume_refuses_a_global_batch_it_cannot_split(runs, tmp_path):
    run = copy_run_at(runs / "two", tmp_path / "three", 4)
    r = _train(["--resume", f"--out={run}", "--gpus=3"])
    assert r.returncode != 0
    assert "global batch of 4 examples per step cannot be split evenly over 3 processes" in r.stderr, r.stderr[-2000:]
    assert "Traceback" not in r.stderr  # refused before any process started
    assert not (run / "checkpoints" / "checkpoint-6").exists()


def test_launched_processes_keep_nvlink_multicast_off(tmp_path):
    script = tmp_path / "env.py"
    script.write_text(
        "import json, os, sys\n"
        "keys = ['NCCL_NVLS_ENABLE', 'TORCH_SYMM_MEM_DISABLE_MULTICAST', 'NVSHMEM_DISABLE_NVLS']\n"
        "open(os.path.join(sys.argv[1], 'rank%s.json' % os.environ['RANK']), 'w')"
        ".write(json.dumps({k: os.environ.get(k) for k in keys}))\n"
    )
    clean = {k: v for k, v in ENV.items() if k not in SAFE_ENV}
    (tmp_path / "a").mkdir()
    assert launch(2, [str(script), str(tmp_path / "a")], env=clean) == 0
    for rank in (0, 1):
        assert json.loads((tmp_path / "a" / f"rank{rank}.json").read_text()) == SAFE_ENV
    # a value the user set is kept
    (tmp_path / "b").mkdir()
    assert launch(2, [str(script), str(tmp_path / "b")], env={**clean, "NCCL_NVLS_ENABLE": "1"}) == 0
    got = json.loads((tmp_path / "b" / "rank1.json").read_text())
    assert got == {**SAFE_ENV, "NCCL_NVLS_ENABLE": "1"}
