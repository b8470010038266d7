"""Running one benchmark job at a time on N GPUs: its own process group, its own time limit, its
output in a log file, and every process gone (GPUs released) before the next job starts.

Used by bench_training_gpu.py, ddp_real.py and gpu_issue18.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def job_env(gpus: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a job on ``gpus`` GPUs: NVLink multicast off (unless set),
    the first ``gpus`` visible GPUs, unbuffered Python, nothing fetched from the network."""
    from sql2nl_training.distributed import cuda_devices, launch_env, visible_devices

    env = {
        **launch_env(),
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **(extra or {}),
    }
    if cuda_devices():
        env["CUDA_VISIBLE_DEVICES"] = visible_devices(gpus, env)
    return env


def run_job(cmd: list[str], *, timeout: float | None, log: Path, env: dict[str, str]) -> tuple[int | None, str, float]:
    """Run ``cmd`` (output to ``log``) and wait at most ``timeout`` seconds; past that, SIGTERM then
    SIGKILL to its whole process group. Returns (exit status or None when it timed out, the log's
    text, seconds)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
        rc: int | None
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=20)
                    break
                except subprocess.TimeoutExpired:
                    continue
    _reap(proc.pid)
    return rc, log.read_text(errors="replace"), time.monotonic() - t0


def _reap(pgid: int) -> None:
    """Children of the job that outlived it (torchrun's workers after a crash) are ended too."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
