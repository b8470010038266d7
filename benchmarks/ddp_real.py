"""A real model on one GPU and on N GPUs with the same global batch, and resumes across the two
(issue 18, items 2 and 3).

1. ``sql2nl train`` on one GPU, then ``sql2nl train --gpus N``, same config: the recipe (default
   training/recipes/smollm2-135m.json, its data additions off: this compares the training, not the
   data), a global batch of the recipe's batch x N (one GPU accumulates N micro-batches of the
   recipe's batch, N GPUs take one each, so a step is the same work split N ways), ``--steps``
   steps, the validation loss every ``--eval-steps`` on the first ``--valid-limit`` validation
   pairs. Both runs log the examples of every step (``log_data_order``): they must be the same.
   Both validation-loss curves go into one PNG, against steps and against seconds of training.
2. ``--resume-check``: each run's checkpoint at half way is resumed on the other number of GPUs
   (N -> 1 and 1 -> N) to the end; the examples of every step and the losses must match the
   uninterrupted one-GPU run.

Every result is written the moment it exists (``OUT/ddp_real.json``, ``.md``, ``ddp_real_loss.png``);
each training job has its own time limit (``--job-timeout``), and no job starts past ``--deadline-s``.

  python benchmarks/ddp_real.py --base gguf:/tmp/smollm2.gguf --data ../shared/data/spider_s2t \\
      --gpus 2 --resume-check --out /tmp/ddp-real
  OMP_NUM_THREADS=1 python benchmarks/ddp_real.py --tiny --data ../shared/data/spider_s2t --gpus 2 \\
      --resume-check --out /tmp/ddp-tiny        # CPU (gloo), scratch:tiny, a few steps
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "training" / "recipes" / "smollm2-135m.json"
# the recipe's data additions are switched off (where this version knows them): both runs train on
# the people's pairs as they are, and starting each job costs seconds, not a rules-describer pass
NO_ADDITIONS = {
    "synthetic": 0,
    "rename_augment": 0.0,
    "repair_targets": False,
    "drop_unfaithful": False,
    "rules_teacher": 0.0,
}


class Driver:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.out = Path(a.out).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.t0 = time.monotonic()
        self.res: dict = {"gpus": a.gpus, "base": a.base, "runs": {}, "checks": {}}

    def log(self, msg: str) -> None:
        print(f"[ddp_real {time.monotonic() - self.t0:6.1f}s] {msg}", flush=True)

    def save(self) -> None:
        from sql2nl.rundir import atomic_write_json, atomic_write_text

        atomic_write_json(self.out / "ddp_real.json", self.res)
        atomic_write_text(self.out / "ddp_real.md", markdown(self.res))

    # -- the config ---------------------------------------------------------------------------------
    def config(self) -> Path:
        from dataclasses import fields

        from sql2nl_training import TrainConfig

        known = {f.name for f in fields(TrainConfig)}
        recipe = json.loads(Path(self.a.recipe).read_text()) if Path(self.a.recipe).is_file() else {}
        cfg = {k: v for k, v in recipe.items() if k in known}
        cfg.update({k: v for k, v in NO_ADDITIONS.items() if k in known})
        data = Path(self.a.data)
        valid = self.out / "data" / "valid.jsonl"
        valid.parent.mkdir(parents=True, exist_ok=True)
        lines = (data / "valid.jsonl").read_text(encoding="utf-8").splitlines()
        valid.write_text("".join(ln + "\n" for ln in lines[: self.a.valid_limit]), encoding="utf-8")
        train = data / "train.jsonl"
        if self.a.tiny:  # a few dozen pairs, a few steps: the code path, not a result
            train = self.out / "data" / "train.jsonl"
            train.write_text("".join(ln + "\n" for ln in (data / "train.jsonl").read_text().splitlines()[:48]))
            cfg.update(max_seq_length=256, lora_r=8, lora_alpha=8)
        micro = cfg.get("batch_size", 32) if not self.a.tiny else 4
        steps = self.a.steps
        cfg.update(
            base=self.a.base,
            data=str(train),
            valid=str(valid),
            max_steps=steps,
            eval_steps=self.a.eval_steps,
            logging_steps=1,
            save_steps=steps // 2,
            save_total_limit=3,
            max_minutes=0.0,
            batch_size=micro,
            global_batch=self.a.global_batch or micro * self.a.gpus,
            log_data_order=True,
            seed=0,
        )
        if self.a.tiny:
            cfg.update(engine="peft", learning_rate=3e-3)
        path = self.out / "config.json"
        path.write_text(json.dumps(TrainConfig.from_dict(cfg).to_dict(), indent=2))
        self.res["config"] = json.loads(path.read_text())
        return path

    # -- jobs ---------------------------------------------------------------------------------------
    def train(self, name: str, gpus: int, args: list[str]) -> dict | None:
        """``sql2nl train ARGS`` on ``gpus`` GPUs as one job; its run's figures, or None."""
        from gpu_jobs import job_env, run_job

        left = self.a.deadline_s - (time.monotonic() - self.t0) if self.a.deadline_s else None
        if left is not None and left < 30:
            self.log(f"deadline: not starting {name} ({left:.0f} s left)")
            self.res["runs"][name] = {"error": f"not started: {left:.0f} s left of --deadline-s"}
            return None
        timeout = min(self.a.job_timeout, left) if left is not None else self.a.job_timeout
        cmd = [sys.executable, "-m", "sql2nl.cli", "train", "--no-progress", *args] + (
            [f"--gpus={gpus}"] if gpus > 1 else []
        )
        self.log(f"{name}: {' '.join(cmd[3:])} (limit {timeout:.0f} s)")
        rc, text, secs = run_job(
            cmd,
            timeout=timeout,
            log=self.out / "logs" / f"{name}.log",
            env=job_env(gpus, {"OMP_NUM_THREADS": "1"} if self.a.tiny else None),
        )
        run = self.out / "runs" / name
        if rc != 0 or not (run / "log_history.json").is_file():
            why = "timed out" if rc is None else f"exit status {rc}"
            self.res["runs"][name] = {"error": f"{why} after {secs:.0f} s: {text.strip().splitlines()[-1:] or ''}"}
            self.log(f"{name} failed ({why}); log in logs/{name}.log")
            self.save()
            return None
        fig = figures(run)
        fig["job_seconds"] = round(secs, 1)
        self.res["runs"][name] = fig
        self.log(
            f"{name}: {fig['steps']} steps, {fig['train_seconds']} s of training, final validation loss "
            f"{fig['final_eval_loss']}"
        )
        self.save()
        return fig

    def run(self) -> None:
        from sql2nl_training.distributed import copy_run_at, read_data_order

        cfg = self.config()
        n = self.a.gpus
        runs = self.out / "runs"
        one, many = "g1", f"g{n}"
        a = self.train(one, 1, [f"--config={cfg}", f"--out={runs / one}"])
        b = self.train(many, n, [f"--config={cfg}", f"--out={runs / many}"])
        if a and b:
            self.res["checks"]["same_examples_every_step"] = read_data_order(runs / one) == read_data_order(runs / many)
            self.res["checks"]["max_eval_loss_difference"] = max_difference(a["eval"], b["eval"])
            self.res["checks"]["train_seconds_ratio"] = round(b["train_seconds"] / a["train_seconds"], 3)
            self.res["checks"]["loop_seconds_ratio"] = round(b["loop_seconds"] / a["loop_seconds"], 3)
        if a or b:
            plot(self.res, self.out / "ddp_real_loss.png", one, many)
        self.save()
        if not self.a.resume_check:
            return
        half = self.a.steps // 2
        for name, src, gpus in ((f"{many}-to-g1", many, 1), (f"g1-to-{many}", one, n)):
            if not (runs / src / "checkpoints" / f"checkpoint-{half}").is_dir():
                self.res["runs"][name] = {"error": f"{src} has no checkpoint of step {half}"}
                continue
            dest = copy_run_at(runs / src, runs / name, half)
            r = self.train(name, gpus, ["--resume", f"--out={dest}"])
            if r and a:
                self.res["checks"][name] = {
                    "resumed_from_step": half,
                    "world_size_before": self.res["runs"][src]["world_size"],
                    "world_size_after": r["world_size"],
                    "steps": r["steps"],
                    "same_examples_every_step": read_data_order(dest) == read_data_order(runs / one),
                    "max_loss_difference": max_difference(a["loss"], r["loss"]),
                    "max_eval_loss_difference": max_difference(a["eval"], r["eval"]),
                }
                plot(self.res, self.out / "ddp_real_loss.png", one, many)
            self.save()


# --- reading runs -------------------------------------------------------------------------------------


def figures(run: Path) -> dict:
    hist = json.loads((run / "log_history.json").read_text())
    man = json.loads((run / "manifest.json").read_text())
    loss = [(h["step"], h["loss"]) for h in hist if "loss" in h]
    # one validation point per step (the final evaluation repeats the last one)
    first: dict[int, tuple] = {}
    for h in hist:
        if "eval_loss" in h:
            first.setdefault(h["step"], (h["step"], h["eval_loss"], h.get("elapsed_s")))
    ev = sorted(first.values())
    steps = man["metrics"]["steps"]
    loop = next((h["elapsed_s"] for h in hist if h.get("step") == steps and "loss" in h and "elapsed_s" in h), None)
    return {
        "world_size": man["world_size"],
        "global_batch": man.get("global_batch"),
        "per_device_batch": man.get("per_device_batch"),
        "grad_accum": man.get("grad_accum"),
        "steps": steps,
        "train_seconds": man["metrics"]["train_seconds"],
        "loop_seconds": loop,
        "final_eval_loss": man["metrics"].get("eval_loss"),
        "loss": loss,
        "eval": [list(e) for e in ev],
    }


def max_difference(a: list, b: list) -> float | None:
    """Largest |a - b| over the steps both have (lists of [step, value, ...])."""
    bs = {x[0]: x[1] for x in b}
    diffs = [abs(x[1] - bs[x[0]]) for x in a if x[0] in bs]
    return round(max(diffs), 6) if diffs else None


def plot(res: dict, path: Path, one: str, many: str) -> None:
    """Validation loss of both runs against steps and against seconds of training (and, once they
    exist, of the resumed runs against steps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sql2nl_training.figures import save_figure

    runs = res["runs"]
    fig, (by_step, by_time) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=100)
    for name in (f"{many}-to-g1", f"g1-to-{many}"):
        r = runs.get(name) or {}
        if r.get("eval"):
            by_step.plot(
                [e[0] for e in r["eval"]],
                [e[1] for e in r["eval"]],
                "x",
                ms=9,
                label=f"resumed: {name.replace('-to-', ' -> ')}",
            )
    for name, style in ((one, "o-"), (many, "s--")):
        r = runs.get(name) or {}
        if not r.get("eval"):
            continue
        label = (
            f"{r['world_size']} GPU{'s' if r['world_size'] > 1 else ''} ({r['per_device_batch']} x {r['grad_accum']} "
            f"per GPU, global {r['global_batch']})"
        )
        by_step.plot([e[0] for e in r["eval"]], [e[1] for e in r["eval"]], style, label=label, alpha=0.8)
        timed = [e for e in r["eval"] if e[2] is not None]
        by_time.plot([e[2] for e in timed], [e[1] for e in timed], style, label=label, alpha=0.8)
    by_step.set_xlabel("optimizer step")
    by_time.set_xlabel("seconds of training")
    fig.suptitle(f"{res['base']}: 1 vs {res['gpus']} GPUs, same global batch", fontsize=10)
    for ax in (by_step, by_time):
        ax.set_ylabel("validation loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save_figure(fig, path)


def markdown(res: dict) -> str:
    lines = [
        f"Base: `{res['base']}`; {res['gpus']} GPUs vs 1, same global batch.",
        "",
        "| run | GPUs | per GPU x accumulation | global batch | steps | training s | loop s | final validation loss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res["runs"].items():
        if "error" in r:
            lines.append(f"| {name} | | | | | failed: {r['error'][:150]} | | |")
        else:
            lines.append(
                f"| {name} | {r['world_size']} | {r['per_device_batch']} x {r['grad_accum']} | {r['global_batch']} "
                f"| {r['steps']} | {r['train_seconds']} | {r['loop_seconds']} | {r['final_eval_loss']} |"
            )
    if res["checks"]:
        lines += ["", "```json", json.dumps(res["checks"], indent=2), "```"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--base",
        default=None,
        help="Any base `sql2nl train` accepts (gguf:PATH, an HF dir, scratch:SIZE); "
        "default: the recipe's (scratch:tiny with --tiny).",
    )
    p.add_argument("--data", required=True, help="Folder with train.jsonl and valid.jsonl (the shared Spider pairs).")
    p.add_argument(
        "--recipe", default=str(RECIPE), help="A TrainConfig JSON (fields this version does not know are dropped)."
    )
    p.add_argument("--gpus", type=int, default=2)
    p.add_argument("--steps", type=int, default=80)
    p.add_argument("--eval-steps", type=int, default=10)
    p.add_argument(
        "--valid-limit",
        type=int,
        default=512,
        help="Validation pairs (a multiple of the batch x GPUs "
        "keeps every evaluation batch the same on any number of GPUs).",
    )
    p.add_argument("--global-batch", type=int, default=0, help="Default: the recipe's batch x --gpus.")
    p.add_argument(
        "--resume-check",
        action="store_true",
        help="Also resume each run's half-way checkpoint on the other number of GPUs.",
    )
    p.add_argument("--job-timeout", type=float, default=300.0)
    p.add_argument(
        "--deadline-s", type=float, default=0.0, help="Start no job later than this many seconds after the start."
    )
    p.add_argument("--tiny", action="store_true", help="CPU smoke test: scratch:tiny, 48 pairs, a few steps.")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    if a.tiny:
        a.base = a.base or "scratch:tiny"
        a.steps, a.eval_steps, a.valid_limit = min(a.steps, 6), min(a.eval_steps, 2), min(a.valid_limit, 16)
    if a.base is None:
        a.base = (
            json.loads(Path(a.recipe).read_text()).get("base", "scratch:small")
            if Path(a.recipe).is_file()
            else "scratch:small"
        )
    if a.steps < 2 or a.steps % 2:
        p.error("--steps must be even (the resume check starts from the checkpoint at half way)")
    d = Driver(a)
    d.run()
    print(markdown(d.res))


if __name__ == "__main__":
    main()
