"""SmolLM2-135M-Instruct → a Spider-tuned describer on one GPU, stage by stage (issue 15, §2).

One process; everything goes under ``--out``; each stage writes its results the moment it ends
(``OUT/results/summary.json`` and ``summary.md``, and ``--bundle-dir`` gets a fresh tar.gz), so a
later failure or a killed command loses nothing earlier. Run it again with the same ``--out`` and
finished stages (and finished ablation / grid runs) are skipped: a time limit per command is met
by calling it as often as needed (``--deadline-minutes``: no new training starts past it).

Stages (``--only`` picks some, in this order):

  split   the shared Spider pairs pooled and split by database (15 % of the databases held out)
  base    the base model zero-shot on the unseen-database validation pairs (and the rules describer)
  train   fine-tune with training/recipes/smollm2-135m.json
  eval    the fine-tuned model and the rules describer side by side: BLEU (multi- and single-
          reference), ROUGE-L, faithfulness, by construct, 40 samples
  ablate  data: people's text only / +synthetic+rename / +drop unfaithful / +repair / +rules teacher
  grid    one factor at a time around the recipe: LoRA rank, learning rate, epochs, train_embeddings
  stage2  a second stage on synthetic pairs of ONE held-out database, scored on its human pairs
  seen    the recipe on the shared files as they are (validation databases seen in training)

  python benchmarks/smollm2_gpu.py --gguf .base/SmolLM2-135M-Instruct.Q4_1.gguf \\
      --spider ../shared/data/spider_s2t --out /tmp/smollm2 --bundle-dir $OUT
  OMP_NUM_THREADS=2 python benchmarks/smollm2_gpu.py --tiny --gguf ... --spider ... --out /tmp/s2tiny   # CPU
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

STAGES = ("split", "base", "train", "eval", "ablate", "grid", "stage2", "seen")
RECIPE = Path(__file__).resolve().parents[1] / "training" / "recipes" / "smollm2-135m.json"
NO_ADDITIONS = {
    "synthetic": 0,
    "rename_augment": 0.0,
    "repair_targets": False,
    "drop_unfaithful": False,
    "rules_teacher": 0.0,
}
# Data ablation: each row changes only the data options; "recipe" is the final run itself.
ABLATIONS = {
    "human": NO_ADDITIONS,
    "synthetic+rename": {**NO_ADDITIONS, "synthetic": 2000, "rename_augment": 0.2},
    "drop_unfaithful": {**NO_ADDITIONS, "drop_unfaithful": True},
    "repair": {**NO_ADDITIONS, "repair_targets": True},
    "rules_teacher": {**NO_ADDITIONS, "rules_teacher": 0.2},
    "recipe": {},
}
# One factor at a time around the recipe, most telling first (a deadline cuts the tail);
# "lr_factor" multiplies the recipe's learning rate.
GRID = {
    "lr_double": {"lr_factor": 2.0},
    "lr_half": {"lr_factor": 0.5},
    "r32": {"lora_r": 32, "lora_alpha": 64},
    "r8": {"lora_r": 8, "lora_alpha": 16},
    "epochs3": {"epochs": 3},
    "epochs1": {"epochs": 1},
    "train_embeddings": {"train_embeddings": True},
    "epochs4": {"epochs": 4},
    "no_teacher": {"rules_teacher": 0.0},
    "dropout": {"lora_dropout": 0.05},
    "epochs3_r32": {"epochs": 3, "lora_r": 32, "lora_alpha": 64},
    # second round, around the first round's best (learning rate x2)
    "lr3": {"lr_factor": 3.0},
    "lr4": {"lr_factor": 4.0},
    "lr2_epochs3": {"lr_factor": 2.0, "epochs": 3},
    "lr3_epochs3": {"lr_factor": 3.0, "epochs": 3},
    "lr2_r32": {"lr_factor": 2.0, "lora_r": 32, "lora_alpha": 64},
    "lr2_no_teacher": {"lr_factor": 2.0, "rules_teacher": 0.0},
    # third round, around the second round's best (learning rate x4), and its seed-to-seed spread
    "lr4_seed1": {"lr_factor": 4.0, "seed": 1},
    "lr6": {"lr_factor": 6.0},
    "lr8": {"lr_factor": 8.0},
    "lr4_r32": {"lr_factor": 4.0, "lora_r": 32, "lora_alpha": 64},
    "lr4_no_teacher": {"lr_factor": 4.0, "rules_teacher": 0.0},
}
TINY_ABLATIONS, TINY_GRID = ("human", "synthetic+rename", "recipe"), ("r8",)
BUNDLE_PART = 15 * 2**20  # the device returns files of at most 16 MiB
KEYS = ("n", "bleu", "bleu_single", "rouge_l", "faithfulness")


class Driver:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.out = Path(a.out).resolve()
        self.results_file = self.out / "results" / "summary.json"
        self.res: dict[str, Any] = json.loads(self.results_file.read_text()) if self.results_file.is_file() else {}
        self.res.setdefault("runs", {})
        self.t0 = time.monotonic()
        self.spider = Path(a.spider)
        self.tiny = a.tiny
        self.data = self.out / "data" / "spider-db"
        self.gen = {"compile": False, "max_new_tokens": 24 if a.tiny else 96}
        self.batch = 4 if a.tiny else 64
        self.eval_limit = 6 if a.tiny else a.eval_limit  # pairs (first N) for ablation and grid runs
        self.per_run_s: list[float] = []

    # -- bookkeeping --------------------------------------------------------------------------------
    def log(self, msg: str) -> None:
        print(f"[{time.monotonic() - self.t0:7.1f}s] {msg}", flush=True)

    def save(self) -> None:
        from sql2nl.rundir import atomic_write_json, atomic_write_text

        atomic_write_json(self.results_file, self.res)
        atomic_write_text(self.out / "results" / "summary.md", markdown(self.res))
        if self.a.bundle_dir:
            bundle(self.out, Path(self.a.bundle_dir), best_runs(self.res, self.a.keep_adapters))

    def left_s(self) -> float:
        return 60 * self.a.deadline_minutes - (time.monotonic() - self.t0)

    def fits(self, what: str) -> bool:
        need = max(self.per_run_s) if self.per_run_s else 60.0
        if self.left_s() > need:
            return True
        self.log(
            f"deadline: not starting {what} (about {need:.0f} s, {self.left_s():.0f} s left); run again to continue"
        )
        self.res["stopped_at"] = what
        return False

    # -- building blocks ----------------------------------------------------------------------------
    def config(self, name: str, **over):
        """The recipe with ``over`` applied, training on the split's pairs into runs/NAME."""
        from sql2nl_training import TrainConfig

        recipe = TrainConfig.from_json(RECIPE).to_dict()
        if "lr_factor" in over:
            over["learning_rate"] = recipe["learning_rate"] * over.pop("lr_factor")
        cfg = {
            **recipe,
            "base": f"gguf:{Path(self.a.gguf).resolve()}",
            "data": str(self.data / "train.jsonl"),
            "valid": str(self.data / ("valid-tiny.jsonl" if self.tiny else "valid.jsonl")),
            "tables": str(self.spider / "tables.json"),
            "out": str(self.out / "runs" / name),
            **over,
        }
        if self.a.train_minutes:
            cfg["max_minutes"] = self.a.train_minutes
        if self.tiny:
            cfg.update(
                max_steps=2, batch_size=2, logging_steps=1, max_seq_length=384, synthetic=min(cfg["synthetic"], 10)
            )
        return TrainConfig.from_dict(cfg)

    def train(self, name: str, cfg) -> dict[str, Any]:
        """Train ``cfg`` into runs/NAME unless that run is done; its manifest's figures."""
        from sql2nl.rundir import is_run, read_manifest
        from sql2nl_training import train

        run = Path(cfg.out)
        if not (is_run(run) and read_manifest(run).get("status") == "done"):
            if run.exists():
                import shutil

                shutil.rmtree(run)  # a run killed half-way: start it again
            self.log(f"training {name}")
            train(cfg, progress=not self.a.no_progress, log=lambda m: self.log(f"  {m}"))
        m = read_manifest(run)
        met = m["metrics"]
        return {
            "run": str(run),
            "engine": m["engine"],
            "steps": met["steps"],
            "train_seconds": met["train_seconds"],
            "train_tokens": met.get("train_tokens"),
            "useful_tok_s": met.get("useful_tok_s"),
            "train_loss": met.get("train_loss"),
            "eval_loss": met.get("eval_loss"),
            "data": m["data"],
            "base_file": m.get("base_file"),
        }

    def score(self, model, data, out: str, *, limit=None, baseline=False, samples=12) -> dict[str, Any]:
        from sql2nl_training.evaluation import evaluate

        t = time.monotonic()
        try:
            m = evaluate(
                model,
                data,
                out=self.out / out,
                limit=limit,
                baseline=baseline,
                progress=not self.a.no_progress,
                batch_size=self.batch,
                samples=samples,
                **self.gen,
            )
        finally:
            release()
        row = {k: m[k] for k in KEYS} | {
            "empty": m.get("empty"),
            "by_construct": m["by_construct"],
            "eval_seconds": round(time.monotonic() - t, 1),
            "report": str(self.out / out),
        }
        if "baseline" in m:
            row["rules"] = {k: m["baseline"][k] for k in KEYS} | {"by_construct": m["baseline"]["by_construct"]}
        row["guarded"] = guarded(self.out / out / "samples.jsonl")
        return row

    def trained_and_scored(self, key: str, run: str, cfg) -> dict[str, Any]:
        """Train (unless done) and score on the first ``--eval-limit`` validation pairs; kept under runs[key]."""
        if key in self.res["runs"]:
            return self.res["runs"][key]
        t = time.monotonic()
        rec = {"overrides": cfg_diff(cfg), "train": self.train(run, cfg)}
        if run == "final" and not self.eval_limit and "eval" in self.res.get("final", {}):
            rec["eval"] = self.res["final"]["eval"]  # scored on every validation pair already
        else:
            rec["eval"] = self.score(
                cfg.out, self.data / "valid.jsonl", f"eval-{key.replace(':', '-')}", limit=self.eval_limit or None
            )
        self.per_run_s.append(time.monotonic() - t)
        if self.a.one:  # a job of --jobs: its parent merges this file into summary.json
            from sql2nl.rundir import atomic_write_json

            atomic_write_json(job_file(self.out, key), rec)
            return rec
        self.res["runs"][key] = rec
        self.save()
        return rec

    def runs(self, items: list[tuple[str, str, dict[str, Any]]]) -> bool:
        """Train and score each (key, run, overrides) not done yet: in this process, or with ``--jobs N``
        in N child processes at once (a 135M model leaves most of a GPU idle; with several GPUs the
        jobs take turns on them). False when the deadline stopped it."""
        todo = [it for it in items if it[0] not in self.res["runs"]]
        if self.a.jobs <= 1:
            for key, run, over in todo:
                if not self.fits(key):
                    return False
                self.trained_and_scored(key, run, self.config(run, **over))
            return True
        import subprocess
        import threading
        from concurrent.futures import ThreadPoolExecutor

        import torch

        from sql2nl_training.gguf_base import prepare

        prepare(f"gguf:{self.a.gguf}", log=self.log)  # once, before the jobs share the cache
        gpus = torch.cuda.device_count()
        lock = threading.Lock()
        stopped = []

        def job(slot: int, key: str, run: str, over: dict[str, Any]) -> None:
            with lock:
                if not self.fits(key):
                    stopped.append(key)
                    return
            logf = self.out / "logs" / f"{run}.log"
            logf.parent.mkdir(parents=True, exist_ok=True)
            # each job compiles Unsloth's kernels into its own folder: jobs writing one at once can clash
            env = dict(os.environ, UNSLOTH_COMPILE_LOCATION=str(self.out / "unsloth-cache" / run))
            if gpus > 1:
                env["CUDA_VISIBLE_DEVICES"] = str(slot % gpus)
            cmd = [sys.executable, __file__, "--gguf", self.a.gguf, "--spider", self.a.spider, "--out", self.a.out]
            cmd += ["--one", json.dumps([key, run, over]), "--no-progress", "--eval-limit", str(self.a.eval_limit)]
            cmd += ["--deadline-minutes", f"{self.left_s() / 60:.2f}", "--train-minutes", str(self.a.train_minutes)]
            t = time.monotonic()
            self.log(f"job {key} started (slot {slot})")
            with logf.open("w") as f:
                rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
            with lock:
                self.per_run_s.append(time.monotonic() - t)
                done = job_file(self.out, key)
                if done.is_file():
                    self.res["runs"][key] = json.loads(done.read_text())
                    self.res.get("errors", {}).pop(key, None)
                else:
                    tail = logf.read_text(errors="replace")[-3000:]
                    self.res.setdefault("errors", {})[key] = f"job exited {rc}\n{tail}"
                self.log(f"job {key} ended (rc {rc}, {time.monotonic() - t:.0f} s)")
                self.save()

        slots = iter(range(10**6))
        with ThreadPoolExecutor(self.a.jobs) as ex:
            list(ex.map(lambda it: job(next(slots), *it), todo))
        if stopped:
            self.res["stopped_at"] = stopped[0]
        return not stopped

    # -- stages -------------------------------------------------------------------------------------
    def stage_split(self) -> None:
        from sql2nl_training.data import load_pairs, write_jsonl, write_split

        rec = write_split([self.spider / "train.jsonl", self.spider / "valid.jsonl"], self.data, holdout=0.15, seed=0)
        valid = load_pairs(self.data / "valid.jsonl").pairs
        if self.tiny:  # a handful of pairs: 12 to train on, 6 to score, 2 for the validation loss
            train = load_pairs(self.data / "train.jsonl").pairs
            write_jsonl([p for p in train if len(p.sql) < 80][:12], self.data / "train.jsonl")
            short = [p for p in valid if len(p.sql) < 80]
            write_jsonl(short[:6], self.data / "valid.jsonl")
            write_jsonl(short[:2], self.data / "valid-tiny.jsonl")
        self.res["split"] = {
            k: rec[k] for k in ("pairs", "statements", "sources_shared_databases", "holdout", "seed")
        } | {
            "databases": {k: len(v) for k, v in rec["databases"].items()},
            "valid_databases": rec["databases"]["valid"],
        }

    def stage_base(self) -> None:
        from sql2nl_training.gguf_base import prepare

        base = prepare(f"gguf:{self.a.gguf}", log=self.log)
        self.res["base_file"] = base.to_dict()
        self.res["base"] = self.score(
            str(base.model_dir), self.data / "valid.jsonl", "eval-base", baseline=True, samples=40
        )

    def stage_train(self) -> None:
        self.res["final"] = {"train": self.train("final", self.config("final"))}

    def stage_eval(self) -> None:
        if "final" not in self.res:
            self.stage_train()
        self.res["final"]["eval"] = self.score(
            self.out / "runs" / "final", self.data / "valid.jsonl", "eval-final", baseline=True, samples=40
        )

    def stage_ablate(self) -> None:
        names = self.a.ablations.split(",") if self.a.ablations else (TINY_ABLATIONS if self.tiny else ABLATIONS)
        # the recipe's row is the final run, trained by the train stage
        items = [(f"data:{n}", "final" if n == "recipe" else f"ablate-{n}", ABLATIONS[n]) for n in names]
        if self.runs(items):
            self.res["ablate"] = "done"

    def stage_grid(self) -> None:
        names = self.a.grid.split(",") if self.a.grid else (TINY_GRID if self.tiny else GRID)
        if self.runs([(f"grid:{n}", f"grid-{n}", GRID[n]) for n in names]):
            self.res["grid"] = "done"

    def stage_stage2(self) -> None:
        from sql2nl_training.data import load_pairs, write_jsonl
        from sql2nl_training.stages import compare
        from sql2nl_training.synthetic import from_spider_tables, generate

        if "final" not in self.res:
            self.stage_train()
        valid = load_pairs(self.data / "valid.jsonl").pairs
        counts: dict[str, int] = {}
        for p in valid:
            counts[p.db_id] = counts.get(p.db_id, 0) + 1
        db = min(counts, key=lambda d: (-counts[d], d))  # the held-out database with the most human pairs
        spec = next(s for s in from_spider_tables(self.spider / "tables.json") if s.name == db)
        folder = self.out / "data" / "stage2"
        human = write_jsonl([p for p in valid if p.db_id == db], folder / f"{db}-human.jsonl")
        pairs = generate(spec, 6 if self.tiny else 300, seed=1)
        syn = write_jsonl(pairs, folder / f"{db}-synthetic.jsonl")
        recipe = self.config("stage2")
        cfg = self.config(
            "stage2",
            from_run=str(self.out / "runs" / "final"),
            data=str(syn),
            valid=str(human),
            **NO_ADDITIONS,
            epochs=3,
            batch_size=2 if self.tiny else 16,
            learning_rate=recipe.learning_rate / 2,
        )
        t2 = self.train("stage2", cfg)
        cmp = compare(
            [self.out / "runs" / "final", self.out / "runs" / "stage2"],
            human,
            out=self.out / "eval-stage2",
            progress=not self.a.no_progress,
            batch_size=self.batch,
            **self.gen,
        )
        release()
        self.res["stage2"] = {
            "database": db,
            "human_pairs": counts[db],
            "synthetic_pairs": len(pairs),
            "train": t2,
            "rows": cmp["rows"],
        }

    def stage_seen(self) -> None:
        files = (
            (self.data / "train.jsonl", self.data / "valid-tiny.jsonl")
            if self.tiny
            else (self.spider / "train.jsonl", self.spider / "valid.jsonl")
        )
        cfg = self.config("seen", data=str(files[0]), valid=str(files[1]))
        rec = {"train": self.train("seen", cfg)}
        rec["eval"] = self.score(
            cfg.out, self.spider / "valid.jsonl", "eval-seen", baseline=True, limit=6 if self.tiny else None
        )
        self.res["seen"] = rec

    def done(self, stage: str) -> bool:
        if stage == "split":
            return "split" in self.res and (self.data / "valid.jsonl").is_file()
        if stage == "train":
            return "final" in self.res
        if stage == "eval":
            return "eval" in self.res.get("final", {})
        if stage in ("ablate", "grid"):
            return self.res.get(stage) == "done"
        return stage in self.res

    def run(self, stages: list[str]) -> None:
        self.res["machine"] = machine()
        self.res.pop("stopped_at", None)
        for stage in stages:
            if self.done(stage):
                self.log(f"{stage}: done earlier")
                continue
            if stage not in ("split", "ablate", "grid") and not self.fits(stage):
                break
            t = time.monotonic()
            self.log(f"stage {stage}")
            try:
                getattr(self, f"stage_{stage}")()
                self.res.get("errors", {}).pop(stage, None)
            except Exception as e:  # keep what the other stages found; say what broke
                import traceback

                self.res.setdefault("errors", {})[stage] = f"{type(e).__name__}: {e}\n{traceback.format_exc()[-3000:]}"
                self.log(f"stage {stage} FAILED: {type(e).__name__}: {e}")
            self.res.setdefault("stage_seconds", {})[stage] = round(time.monotonic() - t, 1)
            self.save()
            if self.res.get("stopped_at"):
                break


# --- helpers ---------------------------------------------------------------------------------------


def cfg_diff(cfg) -> dict[str, Any]:
    from sql2nl_training import TrainConfig

    recipe = TrainConfig.from_json(RECIPE).to_dict()
    skip = (
        "base",
        "data",
        "valid",
        "tables",
        "out",
        "from_run",
        "max_steps",
        "batch_size",
        "logging_steps",
        "max_seq_length",
    )
    return {k: v for k, v in cfg.to_dict().items() if k not in skip and recipe.get(k) != v}


def job_file(out: Path, key: str) -> Path:
    return out / "results" / "runs" / f"{key.replace(':', '-')}.json"


def guarded(samples: Path) -> dict[str, Any]:
    """What the fallback guard would make of these answers: each model text the checker passes (score
    1.0, nothing contradicted) kept, every other replaced by the rules describer's text; scored like
    the rest. The figure the grid is read by (the plugin's guard adds best-of-n and a retry first)."""
    from sql2nl import describe
    from sql2nl.facts import extract
    from sql2nl.faithfulness import check
    from sql2nl_training.evaluation import score

    rows = [json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts, kept = [], 0
    for r in rows:
        v = check(r["model"], extract(r["sql"]))
        if v.score >= 1.0 and not getattr(v, "contradicted", None):
            texts.append(r["model"])
            kept += 1
        else:
            texts.append(r.get("rules") or describe(r["sql"], backend="rules", cache=False).text)
    m = score([r["sql"] for r in rows], texts, [r["references"] for r in rows], ["en"] * len(rows))
    return {k: m[k] for k in KEYS} | {"first_faithful": round(100 * kept / max(1, len(rows)), 2)}


def release() -> None:
    """Forget loaded models between evaluations (each run is loaded once, then never again)."""
    from sql2nl.backends import clear_backend_instances

    clear_backend_instances()
    try:
        from sql2nl_transformers.loading import unload_all

        unload_all()
    except ImportError:
        pass
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def machine() -> dict[str, Any]:
    import torch
    import transformers

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "gpu": gpu,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }


def best_runs(res: dict[str, Any], n: int) -> set[str]:
    """The run folders of the ``n`` ablation/grid runs the fallback guard would make best (BLEU 1-ref)."""
    scored = [r for r in res.get("runs", {}).values() if "guarded" in r.get("eval", {})]
    scored.sort(key=lambda r: -r["eval"]["guarded"]["bleu_single"])
    return {Path(r["train"]["run"]).name for r in scored[:n]}


def bundle(out: Path, dest: Path, adapters: set[str] = frozenset()) -> list[Path]:
    """The results worth bringing back (no base copy, merged models or checkpoints) as a tar.gz in
    ``dest``, split into parts of at most 15 MiB (``cat smollm2-results.tgz.* > x.tgz``): the final
    run's adapter and those of the runs named in ``adapters``."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("smollm2-results.tgz*"):
        old.unlink()
    keep_run = ("manifest.json", "report.md", "loss.png", "log_history.json", "config.json")

    def wanted(p: Path) -> bool:
        rel = p.relative_to(out).parts
        if rel[0] == "runs":
            return (
                len(rel) == 3
                and rel[2] in keep_run
                or len(rel) >= 3
                and (rel[1] == "final" or rel[1] in adapters)
                and rel[2] == "adapter"
            )
        if rel[0] == "logs":
            return True
        if rel[0].startswith("eval-"):
            return p.suffix in (".md", ".json", ".jsonl", ".png")
        return rel[0] in ("results", "data")

    tmp = dest / ".smollm2-results.tgz"
    with tarfile.open(tmp, "w:gz") as tar:
        for p in sorted(out.rglob("*")):
            if p.is_file() and not p.name.startswith(".") and wanted(p):
                tar.add(p, arcname=str(Path("smollm2") / p.relative_to(out)))
    size = tmp.stat().st_size
    if size <= BUNDLE_PART:
        final = dest / "smollm2-results.tgz"
        os.replace(tmp, final)
        return [final]
    parts = []
    with tmp.open("rb") as f:
        for i in range((size + BUNDLE_PART - 1) // BUNDLE_PART):
            part = dest / f"smollm2-results.tgz.{i:02d}"
            part.write_bytes(f.read(BUNDLE_PART))
            parts.append(part)
    tmp.unlink()
    return parts


def _row(name: str, m: dict[str, Any], extra: str = "") -> str:
    return (
        f"| {name} | {m['n']} | {m['bleu']:.2f} | {m['bleu_single']:.2f} | {m['rouge_l']:.2f} | "
        f"{m['faithfulness']:.2f} |{extra}"
    )


def markdown(res: dict[str, Any]) -> str:
    """The summary tables (what RESULTS.md quotes)."""
    head = "| describer | statements | BLEU | BLEU 1-ref | ROUGE-L | faithfulness |"
    lines = ["# SmolLM2-135M-Instruct on Spider (issue 15)", "", f"Machine: `{json.dumps(res.get('machine', {}))}`", ""]
    if "split" in res:
        s = res["split"]
        lines += [
            f"Split by database (seed {s['seed']}, {s['holdout']:.0%} of the databases held out): "
            f"{s['pairs']['train']} training / {s['pairs']['valid']} validation pairs, {s['databases']['train']} / "
            f"{s['databases']['valid']} databases. The shared train/valid files share "
            f"{s['sources_shared_databases']} databases.",
            "",
        ]
    main = [
        (label, r)
        for label, r in (
            ("base model, zero-shot", res.get("base")),
            ("fine-tuned (recipe)", res.get("final", {}).get("eval")),
        )
        if r
    ]
    if main:
        lines += ["## Unseen databases", "", head, "|---|---|---|---|---|---|"]
        rules = next((r["rules"] for _, r in main if "rules" in r), None)
        if rules:
            lines.append(_row("rules describer", rules))
        lines += [_row(label, r) for label, r in main]
        lines.append("")
    if "final" in res:
        t = res["final"]["train"]
        lines += [
            f"Training: {t['steps']} steps in {t['train_seconds']} s, {t['useful_tok_s']} useful tok/s "
            f"(engine {t['engine']}), train loss {t['train_loss']}, validation loss {t['eval_loss']}.",
            "",
        ]
    runs = res.get("runs", {})
    if runs:
        lines += [
            "## Ablations and grid (same validation pairs, first N)",
            "",
            "| run | changed from the recipe | n | BLEU | BLEU 1-ref | ROUGE-L | faithfulness | train s | tok/s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, r in runs.items():
            e, t = r["eval"], r["train"]
            lines.append(
                f"| {name} | `{json.dumps(r['overrides'])}` | {e['n']} | {e['bleu']:.2f} | {e['bleu_single']:.2f} | "
                f"{e['rouge_l']:.2f} | {e['faithfulness']:.2f} | {t['train_seconds']} | {t['useful_tok_s']} |"
            )
        lines.append("")
    if "stage2" in res:
        s = res["stage2"]
        lines += [
            f"## Second stage: synthetic pairs of `{s['database']}` ({s['synthetic_pairs']}), scored on its "
            f"{s['human_pairs']} human pairs",
            "",
            "| stage | n | faithfulness | BLEU | ROUGE-L |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['stage']} | {r['n']} | {r['faithfulness']:.2f} | {r['bleu']:.2f} | {r['rouge_l']:.2f} |"
            for r in s["rows"]
        ]
        lines.append("")
    if "seen" in res:
        e = res["seen"]["eval"]
        lines += [
            "## The shared files as they are (validation databases seen in training)",
            "",
            head,
            "|---|---|---|---|---|---|",
            _row("rules describer", e["rules"]),
            _row("fine-tuned (recipe)", e),
            "",
        ]
    if res.get("errors"):
        lines += ["## Errors", ""] + [f"- {k}: {v.splitlines()[0]}" for k, v in res["errors"].items()] + [""]
    lines += ["Stage seconds: " + json.dumps(res.get("stage_seconds", {}))]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gguf", required=True, help="The SmolLM2-135M-Instruct Q4_1 GGUF file.")
    p.add_argument("--spider", required=True, help="Folder with train.jsonl, valid.jsonl and tables.json.")
    p.add_argument("--out", required=True, help="Working folder (runs, reports, results); reused by later calls.")
    p.add_argument("--only", default=",".join(STAGES), help=f"Comma-separated stages, of: {', '.join(STAGES)}.")
    p.add_argument(
        "--deadline-minutes",
        type=float,
        default=9.0,
        help="Start no stage or run past this many minutes (the device allows 10 per command).",
    )
    p.add_argument(
        "--train-minutes",
        type=float,
        default=0.0,
        help="Budget of each training in minutes (a checkpoint, then stop) [default: the recipe's max_minutes].",
    )
    p.add_argument("--eval-limit", type=int, default=0, help="Validation pairs scored per ablation/grid run (0: all).")
    p.add_argument("--ablations", default="", help=f"Data ablations to run [default: all of {', '.join(ABLATIONS)}].")
    p.add_argument("--grid", default="", help=f"Grid points to run [default: all of {', '.join(GRID)}].")
    p.add_argument(
        "--bundle-dir",
        default=None,
        help="Write smollm2-results.tgz (in 15 MiB parts if larger) here after each stage.",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="Ablation and grid runs trained at once, each in its own process (spread over the GPUs).",
    )
    p.add_argument(
        "--keep-adapters",
        type=int,
        default=2,
        help="Bundle the adapters of this many ablation/grid runs too, the best by the guarded BLEU 1-ref.",
    )
    p.add_argument("--one", default="", help=argparse.SUPPRESS)  # [key, run, overrides]: one job of --jobs
    p.add_argument("--tiny", action="store_true", help="CPU smoke test: a handful of pairs, 2 steps per training.")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    stages = [s.strip() for s in a.only.split(",") if s.strip()]
    bad = [s for s in stages if s not in STAGES]
    if bad:
        p.error(f"unknown stage(s) {', '.join(bad)}; choose from {', '.join(STAGES)}")
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(var, "1")  # the GPU machine has no network; never wait for one
    os.environ.setdefault("SQL2NL_GGUF_BASE_CACHE", str(Path(a.out).resolve() / "gguf-bases"))
    d = Driver(a)
    if a.one:  # one job of a parent's --jobs
        key, run, over = json.loads(a.one)
        d.trained_and_scored(key, run, d.config(run, **over))
        return 0
    d.run([s for s in STAGES if s in stages])
    print(markdown(d.res))
    return 1 if d.res.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
