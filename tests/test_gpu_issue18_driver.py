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

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_driver_runs_every_stage_on_cpu(tmp_path):
    out, work, data = tmp_path / "out", tmp_path / "work", tmp_path / "pairs"
    data.mkdir()
    (data / "train.jsonl").write_text("".join(json.dumps(p) + "\n" for p in SHOP_SCHOOL + MUSIC))
    (data / "valid.jsonl").write_text("".join(json.dumps(p) + "\n" for p in MUSIC_MORE))
    env = {
        **os.environ,
        "SQL2NL_WHEELS": str(tmp_path / "no-wheels"),
        "SQL2NL_SITE": str(tmp_path / "no-site"),
        "OMP_NUM_THREADS": "1",
    }
    env.pop("NCCL_NVLS_ENABLE", None)
    r = subprocess.run(
        [
            "bash",
            str(ROOT / "benchmarks" / "gpu_issue18.sh"),
            "--tiny",
            "--out",
            str(out),
            "--work",
            str(work),
            "--data",
            str(data),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=2400,
    )
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


# A stage script that writes its results file at once (as ddp_real.py does after each job), then
# works on past any budget; the driver must stop it in time and keep what it wrote.
SLOW_STAGE = """
import json, pathlib, sys, time
res = pathlib.Path(sys.argv[1])
res.parent.mkdir(parents=True, exist_ok=True)
res.with_suffix(".tmp").write_text(json.dumps({"runs": {"g1": {"steps": 4}}}))
res.with_suffix(".tmp").replace(res)
print("first job done", flush=True)
time.sleep(600)
"""


def _driver(tmp_path, seconds_left: float):
    """The driver with its call's deadline ``seconds_left`` from now, --out refreshed twice a second."""
    import argparse
    import sys
    import time

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gpu_issue18

    a = argparse.Namespace(
        out=str(tmp_path / "out"),
        work=str(tmp_path / "work"),
        tiny=True,
        gpus_max=1,
        total_s=600.0,
        call_deadline=time.time() + seconds_left,
        publish_every=0.5,
        min_stage_s=5.0,
    )
    return gpu_issue18.Driver(a), gpu_issue18.PUBLISH_RESERVE_S


def test_a_stage_ends_at_the_calls_deadline_and_its_results_so_far_are_published(tmp_path):
    import sys
    import threading
    import time

    d, reserve = _driver(tmp_path, 0)
    d.a.call_deadline = time.time() + reserve + 8  # the stage gets 8 s
    seen = []
    done = threading.Event()

    def watch():  # what --out holds while the stage runs
        while not done.wait(0.2):
            f = d.out / "issue18.json"
            if f.is_file():
                st = json.loads(f.read_text())["stages"].get("real", {})
                if st.get("status") == "running" and "result" in st:
                    seen.append(st["result"])

    threading.Thread(target=watch, daemon=True).start()
    t0 = time.monotonic()
    budgets = []

    def build(budget):
        budgets.append(budget)
        return [sys.executable, "-c", SLOW_STAGE, str(d.work / "real" / "ddp_real.json")]

    d.stage("real", build, None, "ddp_real.md", "ddp_real.json")
    took = time.monotonic() - t0
    done.set()
    assert budgets and budgets[0] <= 8.5  # the stage was given only what was left before the deadline
    assert took < 8 + 25  # stopped at its budget (SIGTERM, then the process group is gone)
    st = json.loads((d.out / "issue18.json").read_text())["stages"]["real"]
    assert st["status"] == "timed out" and st["result"] == {"runs": {"g1": {"steps": 4}}}
    assert seen and seen[0] == st["result"]  # published while the stage still ran
    assert "first job done" in (d.work / "real" / "stage.log").read_text()
    assert {p.name for p in d.out.iterdir()} == {"issue18.json", "issue18.md", "logs.tar.gz"}


def test_no_stage_starts_without_time_for_it(tmp_path):
    import sys

    d, reserve = _driver(tmp_path, 0)
    d.a.call_deadline += reserve + 3  # less than the 5 s a stage needs at least (30 s by default)
    started = []
    d.stage(
        "scaling",
        lambda b: started.append(b) or [sys.executable, "-c", "print(1)"],
        None,
        "training_throughput.md",
        "training_throughput.json",
    )
    st = json.loads((d.out / "issue18.json").read_text())["stages"]["scaling"]
    assert st["status"] == "skipped" and "left before the call's deadline" in st["error"]
    assert not (d.work / "scaling" / "stage.log").exists()
