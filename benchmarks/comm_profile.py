"""Where a DDP step's time goes, from a torch.profiler trace: compute kernels, NCCL kernels, and how
much of the NCCL time the compute hid (for ``bench_training_gpu.py --profile-comm``).

On the GPU every kernel has a start and an end on the device's clock. Per step:

- ``compute_ms``: time any non-NCCL kernel (or copy) ran (the union of their intervals);
- ``nccl_ms``: time any NCCL kernel ran. A process that reaches the all-reduce first waits inside
  the NCCL kernel for the other, so uneven work between processes shows up here too;
- ``nccl_exposed_ms``: NCCL time with no compute running beside it (what overlapping did not hide);
- ``idle_ms``: wall time with no kernel at all (the CPU not keeping the GPU fed: launches, Python,
  the optimizer's host work, waiting for data).

Without CUDA (gloo on the CPU) only the host side exists: the count and CPU time of the
collective calls are reported, which says the code path ran and nothing about a GPU.
"""

from __future__ import annotations

import json
from pathlib import Path

GPU_CATEGORIES = ("kernel", "gpu_memcpy", "gpu_memset")


def _union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _length(intervals: list[tuple[float, float]]) -> float:
    return sum(b - a for a, b in intervals)


def _intersection(xs: list[tuple[float, float]], ys: list[tuple[float, float]]) -> float:
    i = j = 0
    total = 0.0
    while i < len(xs) and j < len(ys):
        a, b = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if a < b:
            total += b - a
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return total


def summarize(trace: str | Path, steps: int, wall_s: float) -> dict:
    """Per-step figures (ms) from a Chrome trace that torch.profiler exported over ``steps`` steps
    lasting ``wall_s`` seconds in all."""
    events = json.loads(Path(trace).read_text()).get("traceEvents", [])
    gpu = [e for e in events if e.get("ph") == "X" and e.get("cat") in GPU_CATEGORIES and "dur" in e]
    per = lambda x: round(x / 1000.0 / max(steps, 1), 3)  # noqa: E731  (us -> ms per step)
    if not gpu:
        calls = [
            e
            for e in events
            if e.get("ph") == "X"
            and e.get("cat") == "cpu_op"
            and any(k in e.get("name", "").lower() for k in ("all_reduce", "allreduce"))
        ]
        return {
            "device": "cpu",
            "steps": steps,
            "wall_ms": round(1000 * wall_s / max(steps, 1), 3),
            "allreduce_calls": round(len(calls) / max(steps, 1), 2),
            "allreduce_cpu_ms": per(sum(e["dur"] for e in calls)),
        }
    nccl = [e for e in gpu if "nccl" in e.get("name", "").lower()]
    compute = [e for e in gpu if "nccl" not in e.get("name", "").lower()]
    c = _union([(e["ts"], e["ts"] + e["dur"]) for e in compute])
    n = _union([(e["ts"], e["ts"] + e["dur"]) for e in nccl])
    busy = _length(_union(c + n))
    overlap = _intersection(c, n)
    wall_us = 1e6 * wall_s
    return {
        "device": "cuda",
        "steps": steps,
        "wall_ms": per(wall_us),
        "compute_ms": per(_length(c)),
        "nccl_ms": per(_length(n)),
        "nccl_exposed_ms": per(_length(n) - overlap),
        "idle_ms": per(max(0.0, wall_us - busy)),
        "nccl_kernels": round(len(nccl) / max(steps, 1), 2),
        "nccl_kernel_names": sorted({e["name"].split("(")[0] for e in nccl})[:4],
    }
