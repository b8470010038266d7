"""Issue 18 (and 19) in one or two device calls: multi-GPU training, measured. Run it through
``benchmarks/gpu_issue18.sh`` (wheels, the SmolLM2 file in two parts, NVLink multicast off).

Stages, in this order, each a job with its own time budget (a slow stage cannot eat the next):

  scaling  benchmarks/bench_training_gpu.py on the Llama-3-8B shape, the setup that met the
           one-GPU goal (PEFT, packed, compiled layers, 4 of 32 layers checkpointed, batch 32 per
           GPU) on 1 GPU, then on 2 (or --gpus), then on 2 with bf16 gradient all-reduce and with
           DDP's static_graph while time is left; compute vs NCCL per step from a profile of two
           more steps (--profile-comm)
  real     benchmarks/ddp_real.py: SmolLM2-135M (gguf:PATH when the file is there) on 1 GPU and on
           N with the same global batch, both validation-loss curves in one PNG; then each run's
           half-way checkpoint resumed on the other number of GPUs (N -> 1, 1 -> N), the examples
           of every step and the losses compared with the uninterrupted run

Everything a stage writes lands in --out as it comes (refreshed every 30 s while a stage runs, so a
call killed mid-stage still returns what was done): issue18.md and issue18.json (a summary that
grows stage by stage), ddp_real_loss.png, and logs.tar.gz (every log, the comm profiles, the runs'
manifests, histories and data-order logs): four files, well inside what a device call returns.
Every stage ends inside the call's deadline (--total-s, and $SQL2NL_CALL_DEADLINE that
gpu_issue18.sh sets from its own start: $SQL2NL_CALL_S seconds, default 540).

  bash benchmarks/gpu_issue18.sh --stages scaling --out $OUT                 # call A of 2
  bash benchmarks/gpu_issue18.sh --stages real --data .whl/spider_s2t --out $OUT   # call B of 2
  bash benchmarks/gpu_issue18.sh --out $OUT                                  # both in one call (less of each)
  OMP_NUM_THREADS=1 bash benchmarks/gpu_issue18.sh --tiny --out /tmp/i18     # CPU: gloo, tiny model
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
STAGES = ("scaling", "real")
SPIDER = [
    Path("/tmp/spider_s2t"),
    ROOT / ".whl" / "spider_s2t",
    ROOT.parent / "shared" / "data" / "spider_s2t",
    Path("/work/shared/data/spider_s2t"),
]
SETUP = "peft:packed+compile+ckpt=0.125"  # the one-GPU goal's setup (benchmarks/RESULTS.md, Training)
SCALING_SHARE = 0.55  # of the call's time, when one call runs both stages
PUBLISH_RESERVE_S = 20.0  # kept back from every stage for the last publish (summary + bundle)


def environment() -> dict:
    """What the results ran on: versions, GPUs and how they are linked, the NCCL variables. Asked in
    a child process, so that this one never opens a CUDA context on a GPU the stages need."""
    try:
        r = subprocess.run(
            [sys.executable, __file__, "--environment", "--out", "-"], capture_output=True, text=True, timeout=120
        )
        return json.loads(r.stdout.strip().splitlines()[-1])
    except Exception as e:  # never lose a stage to a question about the machine
        return {"error": f"{type(e).__name__}: {e}"}


def _environment() -> dict:
    import torch

    from sql2nl_training.distributed import SAFE_ENV

    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if torch.cuda.is_available()
        else [],
        "nccl": ".".join(map(str, torch.cuda.nccl.version())) if torch.cuda.is_available() else None,
        "cpus": os.cpu_count(),
        "env": {k: os.environ.get(k) for k in SAFE_ENV},
    }
    for mod in ("transformers", "peft", "trl", "accelerate"):
        try:
            env[mod] = __import__(mod).__version__
        except Exception as e:  # a missing package is itself worth reporting
            env[mod] = f"missing: {e}"
    if shutil.which("nvidia-smi"):
        try:
            env["topology"] = subprocess.run(
                ["nvidia-smi", "topo", "-m"], capture_output=True, text=True, timeout=30
            ).stdout
        except Exception as e:
            env["topology"] = f"nvidia-smi topo -m failed: {e}"
    return env


class Driver:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.out = Path(a.out).resolve()
        self.work = Path(a.work).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.t0 = time.monotonic()
        self.lock = threading.Lock()  # publish() runs from the stage's ticker thread too
        self.summary: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "tiny": a.tiny, "stages": {}}

    def log(self, msg: str) -> None:
        print(f"[issue18 {time.monotonic() - self.t0:6.1f}s] {msg}", flush=True)

    def publish(self) -> None:
        """Write the summary and the bundle into --out (atomically: a killed call still returns them)."""

        with self.lock:
            for name, st in self.summary["stages"].items():  # each stage's results so far (written atomically)
                res = self.work / name / st.get("result_file", "")
                if st.get("result_file") and res.is_file():
                    try:
                        st["result"] = json.loads(res.read_text())
                    except ValueError:
                        pass
            self._publish()

    def _publish(self) -> None:
        from sql2nl.rundir import atomic_write_json, atomic_write_text

        atomic_write_json(self.out / "issue18.json", self.summary)
        atomic_write_text(self.out / "issue18.md", self.markdown())
        png = self.work / "real" / "ddp_real_loss.png"
        if png.is_file():
            shutil.copyfile(png, self.out / ".ddp_real_loss.png.tmp")
            os.replace(self.out / ".ddp_real_loss.png.tmp", self.out / "ddp_real_loss.png")
        tmp = self.out / ".logs.tar.gz.tmp"
        with tarfile.open(tmp, "w:gz") as tar:
            for path in sorted(self.work.rglob("*")):
                if path.is_file() and _bundled(path.relative_to(self.work)):
                    tar.add(path, arcname=str(path.relative_to(self.work)))
        os.replace(tmp, self.out / "logs.tar.gz")

    def markdown(self) -> str:
        lines = [
            f"# Issue 18: multi-GPU training ({self.summary['started']}{', tiny CPU mode' if self.a.tiny else ''})",
            "",
        ]
        env = self.summary.get("environment", {})
        if env:
            lines += [
                f"Python {env.get('python')}, torch {env.get('torch')} (CUDA {env.get('cuda')}, NCCL {env.get('nccl')}), "
                f"transformers {env.get('transformers')}, PEFT {env.get('peft')}, TRL {env.get('trl')}, "
                f"accelerate {env.get('accelerate')}; {len(env.get('gpus', []))} GPU(s) {', '.join(sorted(set(env.get('gpus', []))))}; "
                f"{env.get('cpus')} CPUs; {env.get('env')}",
                "",
            ]
            if env.get("topology"):
                lines += ["```", env["topology"].strip(), "```", ""]
        for name, st in self.summary["stages"].items():
            lines += [
                f"## {name} ({st.get('status')}, {st.get('seconds')} s of a {st.get('budget_s')} s budget)",
                "",
                f"`{st.get('command')}`",
                "",
            ]
            md = self.work / name / st.get("markdown", "")
            if st.get("markdown") and md.is_file():
                lines += [md.read_text().strip(), ""]
            if st.get("error"):
                lines += ["```", st["error"][-1500:], "```", ""]
        return "\n".join(lines) + "\n"

    def left_s(self) -> float:
        """Seconds left before the call's deadline (--total-s from the start, or the wrapper's
        SQL2NL_CALL_DEADLINE, whichever comes first)."""
        left = self.a.total_s - (time.monotonic() - self.t0)
        if self.a.call_deadline:
            left = min(left, self.a.call_deadline - time.time())
        return left

    def stage(self, name: str, build, budget: float | None, markdown: str, result: str) -> None:
        """Run the stage whose command ``build(budget_s)`` gives, inside ``budget`` seconds (None:
        all that is left) and never past the call's deadline; --out is refreshed every
        --publish-every seconds while it runs, so a call killed mid-stage still returns its
        results so far."""
        from gpu_jobs import job_env, run_job

        left = self.left_s() - PUBLISH_RESERVE_S
        budget = left if budget is None else min(budget, left)
        cmd = build(budget)
        st = self.summary["stages"][name] = {
            "command": " ".join(cmd[1:]),
            "budget_s": round(budget),
            "markdown": markdown,
            "result_file": result,
            "status": "running",
        }
        if budget < self.a.min_stage_s:
            st.update(status="skipped", error=f"{left:.0f} s left before the call's deadline")
            self.publish()
            return
        self.publish()
        self.log(f"stage {name}: {st['command']} (budget {budget:.0f} s)")
        # the stage script gets GPUs as it needs them: every GPU of the machine is visible to it
        env = job_env(self.a.gpus_max, {"OMP_NUM_THREADS": "1"} if self.a.tiny else None)
        stop = threading.Event()
        ticker = threading.Thread(target=self._publish_until, args=(stop,), daemon=True)
        ticker.start()
        try:
            rc, text, secs = run_job(cmd, timeout=budget, log=self.work / name / "stage.log", env=env)
        finally:
            stop.set()
            ticker.join()
        st.update(seconds=round(secs, 1), status="done" if rc == 0 else ("timed out" if rc is None else f"exit {rc}"))
        if rc != 0:
            st["error"] = text[-3000:]
        self.log(f"stage {name}: {st['status']} in {secs:.0f} s")
        self.publish()

    def _publish_until(self, stop: threading.Event) -> None:
        while not stop.wait(self.a.publish_every):
            try:
                self.publish()
            except Exception as e:  # a failed refresh never stops the stage; the next one may succeed
                self.log(f"publish failed: {type(e).__name__}: {e}")

    def run(self) -> None:
        self.summary["environment"] = environment()
        self.publish()
        gpus = sorted({int(g) for g in self.a.gpus.split(",")})
        many = max(gpus)
        py = sys.executable
        for name in self.a.stages.split(","):
            if name == "scaling":
                # the goal's setup on every GPU count, then (several GPUs, while time is left) two DDP options
                variants = (
                    f"{SETUP}@32,{SETUP}+bf16grads@32,{SETUP}+static@32"
                    if not self.a.tiny
                    else "peft:packed+ckpt=0.5@4"
                )

                def scaling(budget: float, variants=variants) -> list[str]:
                    return [
                        py,
                        str(HERE / "bench_training_gpu.py"),
                        "--no-plain",
                        "--gpus",
                        ",".join(map(str, gpus)),
                        "--variants",
                        variants,
                        "--steps",
                        str(self.a.steps),
                        "--warmup",
                        str(self.a.warmup),
                        "--profile-comm",
                        "--child-timeout",
                        str(self.a.setup_timeout),
                        "--deadline-s",
                        str(round(budget - 20)),
                        "--out",
                        str(self.work / "scaling"),
                    ] + (["--tiny"] if self.a.tiny else [])

                both = "real" in self.a.stages.split(",")
                self.stage(
                    "scaling",
                    scaling,
                    self.a.scaling_s or (SCALING_SHARE * self.left_s() if both else None),
                    "training_throughput.md",
                    "training_throughput.json",
                )
            elif name == "real":
                data = (
                    next((d for d in SPIDER if (d / "train.jsonl").is_file()), None)
                    if not self.a.data
                    else Path(self.a.data)
                )
                base = self.a.base or ("scratch:tiny" if self.a.tiny else _real_base())
                self.summary["real_base"] = base
                self.summary["real_data"] = str(data)

                def real(budget: float, data: Path | None = data, base: str = base) -> list[str]:
                    return [
                        py,
                        str(HERE / "ddp_real.py"),
                        "--data",
                        str(data),
                        "--gpus",
                        str(many),
                        "--base",
                        base,
                        "--steps",
                        str(self.a.real_steps),
                        "--eval-steps",
                        str(self.a.eval_steps),
                        "--resume-check",
                        "--job-timeout",
                        str(self.a.job_timeout),
                        "--deadline-s",
                        str(round(budget - 15)),
                        "--out",
                        str(self.work / "real"),
                    ] + (["--tiny"] if self.a.tiny else [])

                self.stage("real", real, self.a.real_s or None, "ddp_real.md", "ddp_real.json")
            elif name != "setup":  # setup: only what gpu_issue18.sh does (wheels, files into /tmp)
                raise SystemExit(f"unknown stage {name!r}; choose from {', '.join(STAGES)} (or setup)")


def _real_base() -> str:
    """SmolLM2-135M from its GGUF file (assembled by gpu_issue18.sh) where this version of the
    training package reads GGUF bases; else scratch:small, and the summary says so."""
    gguf = Path(os.environ.get("SQL2NL_SMOLLM2_GGUF", str(ROOT / ".base" / "SmolLM2-135M-Instruct.Q4_1.gguf")))
    try:
        import sql2nl_training.gguf_base  # noqa: F401  (the real-model issue's GGUF support)

        readable = True
    except ImportError:
        readable = False
    return f"gguf:{gguf}" if gguf.is_file() and readable else "scratch:small"


def _bundled(rel: Path) -> bool:
    """What goes into logs.tar.gz: text results and logs; not models, checkpoints, data sets, or the
    raw profiler traces (their figures are in the results; a trace of an 8B step is tens of MB)."""
    if any(p in ("checkpoints", "adapter", "base", "model-tiny", "data", "bench-ckpt") for p in rel.parts[:-1]):
        return False
    return rel.suffix in (".log", ".json", ".jsonl", ".md", ".txt", ".png") and not rel.name.startswith("trace-")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="Where the results go ($OUT on the device machine).")
    p.add_argument("--work", default="/tmp/issue18", help="Scratch folder (runs, checkpoints, logs).")
    p.add_argument("--stages", default=",".join(STAGES), help=f"Comma-separated, from {', '.join(STAGES)}.")
    p.add_argument(
        "--gpus",
        default="1,2",
        help="GPU counts for the scaling stage (1,2,4,8 on larger kinds); the real stage compares 1 with the largest.",
    )
    p.add_argument("--base", default=None, help="Base for the real stage (default: gguf:/tmp/smollm2.gguf if there).")
    p.add_argument(
        "--data",
        default=None,
        help="Spider pairs folder (default: the first of /tmp/spider_s2t, .whl/spider_s2t, ../shared/data/spider_s2t).",
    )
    p.add_argument(
        "--total-s",
        type=float,
        default=540.0,
        help="Everything ends within this many seconds of the "
        "start (and before $SQL2NL_CALL_DEADLINE, a Unix time gpu_issue18.sh sets from its own start).",
    )
    p.add_argument(
        "--scaling-s",
        type=float,
        default=0.0,
        help="Budget of the scaling stage (default: all that is "
        f"left when it runs alone, {SCALING_SHARE:.0%} of it when the real stage follows).",
    )
    p.add_argument("--real-s", type=float, default=0.0, help="Budget of the real stage (default: all that is left).")
    p.add_argument(
        "--setup-timeout", type=float, default=240.0, help="Scaling: limit per setup (load + compile + steps)."
    )
    p.add_argument("--job-timeout", type=float, default=150.0, help="Real: limit per training job.")
    p.add_argument("--steps", type=int, default=8, help="Scaling: timed steps per setup.")
    p.add_argument("--warmup", type=int, default=3, help="Scaling: untimed steps first (compilation).")
    p.add_argument("--real-steps", type=int, default=120, help="Real: optimizer steps per run (even).")
    p.add_argument("--eval-steps", type=int, default=10, help="Real: validation loss every this many steps.")
    p.add_argument("--min-stage-s", type=float, default=30.0, help="Start no stage with less time than this.")
    p.add_argument("--publish-every", type=float, default=30.0, help="Refresh --out this often while a stage runs.")
    p.add_argument("--tiny", action="store_true", help="CPU: gloo processes, tiny models, a few steps.")
    p.add_argument("--environment", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.environment:
        print(json.dumps(_environment()))
        return
    a.gpus_max = max(int(g) for g in a.gpus.split(","))
    a.call_deadline = float(os.environ.get("SQL2NL_CALL_DEADLINE") or 0)
    if a.tiny:  # a loaded 2-core CPU is slower at starting processes than an H200 machine is at training
        a.steps, a.warmup = 3, 1
        if not a.call_deadline:  # no deadline asked for: a loaded CPU gets the time it needs
            a.total_s, a.scaling_s = max(a.total_s, 1800), a.scaling_s or 600
            a.setup_timeout, a.job_timeout = max(a.setup_timeout, 400), max(a.job_timeout, 400)
    Driver(a).run()


if __name__ == "__main__":
    main()
