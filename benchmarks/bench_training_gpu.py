"""Training speed and a real short run, for issue 5 (see benchmarks/RESULTS.md, section Training).

Mode ``throughput`` (default): LoRA r=16 on all linear layers of a Llama-3-8B-shaped model with random
weights (built in bf16 from a config, no download), on synthetic examples with Spider-like lengths
(prompt+description 60-320 tokens, mean 150; the description about a fifth of it). Compares useful
(non-pad) tokens/s and peak GiB of

  (a) plain HF + PEFT, dynamic padding to the longest example, batch 16, HF's full-logits loss;
  (b) this pipeline: sql2nl_training's load_model + TRL SFTTrainer with sql2nl_training.packing:
      packed batches without padding, the LM head and loss on description positions only; optionally
      compiled layers and gradient checkpointing on a share of the layers (--variants; one run per
      setup and --pipeline-batch).

Each measurement runs in its own subprocess, so (a) never sees Unsloth's patches and peaks are clean.

Several GPUs (``--gpus 1,2,4,8``, issues 18-19): each (b) setup runs once per count, one GPU first,
each in its own torchrun job (one process per GPU, ``LOCAL_RANK`` -> ``cuda:LOCAL_RANK``, NVLink
multicast kept off), the GPUs released between jobs. ``--pipeline-batch`` is per GPU, so N GPUs
train N times the examples per step; tok/s counts the useful tokens of the whole (global) batch per
second of the slowest process, peak memory is reported per GPU, and the scaling efficiency is
``tok/s(N) / (N x tok/s(1))``. A setup with DDP options (``+bf16grads``, ``+static``, ``+bucket=MB``)
runs on several GPUs only. ``--profile-comm`` profiles two more steps per setup and splits each
step's time into compute, NCCL (exposed and hidden) and idle, per GPU (benchmarks/comm_profile.py).
The pipeline builds the random 8B weights directly on each GPU (``--random-init``, the default for
the PEFT engine): no 16 GB file is written or read.

Mode ``real``: train ``scratch:<size>`` on the Spider pairs for at most --minutes, then score the
validation pairs (BLEU, ROUGE-L, faithfulness) through the transformers backend next to the rules
describer.

  python benchmarks/bench_training_gpu.py --out bench-out                      # H100, both (a) and (b)
  python benchmarks/bench_training_gpu.py --mode real --data DIR --out bench-out
  python benchmarks/bench_training_gpu.py --tiny --out /tmp/b                  # CPU smoke test
  python benchmarks/bench_training_gpu.py --no-plain --gpus 1,2 --profile-comm --out bench-out/ddp \
      --variants peft:packed+compile+ckpt=0.125@32,peft:packed+compile+ckpt=0.125+bf16grads@32
  python benchmarks/bench_training_gpu.py --tiny --no-plain --gpus 1,2 --profile-comm --out /tmp/b   # CPU, gloo
  python benchmarks/bench_training_gpu.py --mode real --quick --data DIR --out /tmp/b

Writes ``DIR/training_<mode>.json`` and ``DIR/training_<mode>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from training_setups import LLAMA3_8B, TINY, gpu_info, random_model, run_pipeline, run_plain, save_random_weights  # noqa: F401

# --- the model (config and tokenizer on disk; weights only where a setup loads them) ----------------


def prepare_model(work: Path, tiny: bool, weights: bool = False) -> Path:
    """A Llama config (8B shape, bf16) and a small tokenizer in ``work``; with ``weights``, also
    random weights (16 GB for the 8B shape, built in a child process so that this one never holds
    a GPU). Reused when present."""
    from transformers import LlamaConfig

    from sql2nl_training.scratch import train_tokenizer

    shape = TINY if tiny else LLAMA3_8B
    mark = work / "shape.json"
    done = json.loads(mark.read_text()) if mark.is_file() else {}
    if done.get("shape") != shape:
        work.mkdir(parents=True, exist_ok=True)
        tok = train_tokenizer(["SELECT name FROM users WHERE age > 18", "List the names of users."] * 4, vocab_size=300)
        LlamaConfig(
            **shape,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            tie_word_embeddings=False,
            dtype="bfloat16",
        ).save_pretrained(work)
        tok.save_pretrained(work)
        done = {"shape": shape, "weights": False}
        mark.write_text(json.dumps(done))
    if weights and not done.get("weights"):
        res = _spawn(["--child", "weights", "--model-dir", str(work)], timeout=1800)
        if "error" in res:
            raise RuntimeError(f"could not build the random weights: {res['error'][-500:]}")
        mark.write_text(json.dumps({**done, "weights": True}))
    return work


# --- real run --------------------------------------------------------------------------------------


def run_real(a) -> dict:
    from sql2nl_training import TrainConfig, train
    from sql2nl_training.evaluation import evaluate

    data = Path(a.data)
    train_f, valid_f = (data / "train.jsonl", data / "valid.jsonl") if data.is_dir() else (data, Path(a.valid))
    run_dir = Path(a.out) / "real-run"
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    size = "tiny" if a.quick else a.size
    r = {"tiny": 64, "mini": 256, "small": 512, "base": 1024}[size]  # full-rank LoRA: a scratch model learns everything
    cfg = TrainConfig(
        base=f"scratch:{size}",
        data=str(train_f),
        valid=str(valid_f),
        out=str(run_dir),
        epochs=a.epochs,
        max_steps=20 if a.quick else -1,
        batch_size=a.batch,
        learning_rate=a.lr,
        lora_r=r,
        lora_alpha=r,
        max_minutes=a.minutes,
        save_steps=500,
        logging_steps=20,
        engine=a.engine,
        warmup_ratio=0.03,
        max_seq_length=512,
    )
    t0 = time.perf_counter()
    train(cfg, progress=not a.no_progress)
    train_s = time.perf_counter() - t0
    limit = 40 if a.quick else a.eval_limit
    t1 = time.perf_counter()
    # compile=False: for a small scratch model, compiling a CUDA graph per batch shape costs more than
    # the whole evaluation saves.
    m = evaluate(
        run_dir,
        valid_f,
        limit=limit,
        progress=not a.no_progress,
        batch_size=64 if not a.quick else 8,
        out=Path(a.out) / "real-eval",
        compile=False,
    )
    man = json.loads((run_dir / "manifest.json").read_text())
    return {
        "mode": "real",
        "device": gpu_info(),
        "base": cfg.base,
        "train_seconds": round(train_s, 1),
        "eval_seconds": round(time.perf_counter() - t1, 1),
        "steps": man["metrics"]["steps"],
        "train_loss": man["metrics"].get("train_loss"),
        "eval_loss": man["metrics"].get("eval_loss"),
        "model": {k: m[k] for k in ("n", "bleu", "rouge_l", "faithfulness")},
        "rules": {k: m["baseline"][k] for k in ("n", "bleu", "rouge_l", "faithfulness")},
        "by_construct": {"model": m["by_construct"], "rules": m["baseline"]["by_construct"]},
        "config": cfg.to_dict(),
    }


# --- driver ----------------------------------------------------------------------------------------


def _child(a) -> None:
    model_dir = Path(a.model_dir)
    if a.child == "weights":
        save_random_weights(model_dir)
        res: dict = {"name": "weights"}
    elif a.child == "plain":
        res = run_plain(model_dir, a.batch, a.steps, a.warmup)
    else:
        ddp = json.loads(a.ddp) if a.ddp else None
        res = run_pipeline(
            model_dir,
            a.batch,
            a.steps,
            a.warmup,
            a.engine,
            a.ckpt,
            a.loss,
            a.profile_file,
            ddp,
            not a.no_random_init,
            a.profile_comm_dir,
        )
    if int(os.environ.get("RANK", "0")) == 0:
        print("RESULT " + json.dumps(res), flush=True)


def _spawn(args: list[str], gpus: int = 1, timeout: float | None = None, log: Path | None = None) -> dict:
    """Run this script with ``args`` in ``gpus`` processes (torchrun when more than one) on the first
    ``gpus`` visible GPUs, as one job (benchmarks/gpu_jobs.py): killed whole at ``timeout``."""
    import tempfile

    from gpu_jobs import job_env, run_job

    from sql2nl_training.distributed import torchrun_command

    target = [__file__, *args]
    cmd = [sys.executable, *target] if gpus <= 1 else torchrun_command(gpus, target)
    # the same allocator setting for every setup: without it fragmentation decides who runs out first
    env = job_env(gpus, {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"})
    log = log or Path(tempfile.mkdtemp()) / "job.log"
    rc, text, _ = run_job(cmd, timeout=timeout, log=log, env=env)
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    why = f"timed out after {timeout:.0f} s" if rc is None else f"exit status {rc}"
    return {"name": " ".join(args[:4]), "error": f"{why}\n{text[-3000:]}"}


DDP_TOKENS = {"bf16grads": ("ddp_bf16_grads", True), "static": ("ddp_static_graph", True)}


def parse_setup(variant: str) -> dict:
    """``ENGINE:LOSS[+compile][+ckpt[=F]][+bf16grads][+static][+bucket=MB]`` -> its parts."""
    engine, _, loss = variant.partition(":")
    parts = (loss or "packed").split("+")
    ckpt = [p for p in parts if p.startswith("ckpt")]
    ddp = dict(DDP_TOKENS[p] for p in parts if p in DDP_TOKENS)
    for p in parts:
        if p.startswith("bucket="):
            ddp["ddp_bucket_mb"] = int(p.partition("=")[2])
    rest = "+".join(p for p in parts if not (p.startswith(("ckpt", "bucket=")) or p in DDP_TOKENS))
    share = float(ckpt[0].partition("=")[2] or 1.0) if ckpt else None
    return {"engine": engine, "loss": rest, "ckpt": share, "ddp": ddp, "key": f"{engine}:{rest}:ckpt={share}"}


def _setup_name(st: dict, batch: int, gpus: int) -> str:
    ckpt = f"-ckpt{st['ckpt']}" if st["ckpt"] else ""
    ddp = "".join(
        f"-{k.removeprefix('ddp_').replace('_', '')}" + ("" if v is True else str(v)) for k, v in st["ddp"].items()
    )
    return f"{st['engine']}-{st['loss']}{ckpt}{ddp}-b{batch}-g{gpus}"


def throughput(a) -> dict:
    from sql2nl_training.distributed import cuda_devices

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    t_start = time.monotonic()
    work = Path(a.work or (out / "model-tiny" if a.tiny else "/tmp/sql2nl-bench-llama8b"))
    setups = [
        parse_setup(v.partition("@")[0]) | {"batches": v.partition("@")[2] or a.pipeline_batch}
        for v in a.variants.split(",")
    ]
    weights = not a.no_plain or a.no_random_init or any(s["engine"] == "unsloth" for s in setups)
    t0 = time.perf_counter()
    prepare_model(work, a.tiny, weights=weights)
    prep_s = time.perf_counter() - t0
    steps, warmup = (3, 1) if a.tiny else (a.steps, a.warmup)
    common = ["--model-dir", str(work), "--steps", str(steps), "--warmup", str(warmup)]
    rows = (
        []
        if a.no_plain
        else [
            _spawn(
                ["--child", "plain", "--batch", str(a.plain_batch), *common],
                timeout=a.child_timeout,
                log=logs / "plain.log",
            )
        ]
    )
    have = cuda_devices()
    took: dict[int, float] = {}
    for st in setups:
        for b in [int(x) for x in st["batches"].split(",")]:
            for g in [int(x) for x in a.gpus.split(",")]:
                name = _setup_name(st, b, g)
                if st["ddp"] and g == 1:
                    continue  # DDP options change nothing on one GPU
                row = {"name": name, "gpus": g, "batch": b, "setup": st["key"]}
                left = a.deadline_s - (time.monotonic() - t_start) if a.deadline_s else None
                if have and g > have:
                    row["error"] = f"needs {g} GPUs; this machine has {have}"
                elif left is not None and left < took.get(g, 0.0) + 10:
                    row["error"] = (
                        f"skipped: {left:.0f} s left of --deadline-s, a {g}-GPU setup took {took.get(g, 0):.0f} s"
                    )
                else:
                    prof = ["--child-profile", str(out / f"profile-{name}.txt")] if a.profile else []
                    comm = ["--profile-comm-dir", str(logs / f"comm-{name}")] if a.profile_comm else []
                    args = (
                        [
                            "--child",
                            "pipeline",
                            "--batch",
                            str(b),
                            "--engine",
                            st["engine"] or a.engine,
                            "--loss",
                            st["loss"],
                            *common,
                            *prof,
                            *comm,
                        ]
                        + (["--ckpt", str(st["ckpt"])] if st["ckpt"] else [])
                        + (["--ddp", json.dumps(st["ddp"])] if st["ddp"] else [])
                        + (["--no-random-init"] if a.no_random_init else [])
                    )
                    t1 = time.monotonic()
                    timeout = min(a.child_timeout, left) if left is not None else a.child_timeout
                    res = _spawn(args, gpus=g, timeout=timeout, log=logs / f"{name}.log")
                    row |= {k: v for k, v in res.items() if k != "name"} | {"description": res.get("name", "")}
                    took[g] = max(took.get(g, 0.0), time.monotonic() - t1)
                    row["wall_seconds"] = round(time.monotonic() - t1, 1)
                rows.append(row)
                print(
                    json.dumps(
                        {k: v for k, v in row.items() if k not in ("error", "step_seconds", "torch_compile")}
                        | {"error": row.get("error", "")[-300:]}
                    ),
                    flush=True,
                )
                _write(out, {"mode": "throughput", "results": rows, "partial": True})  # each result as it comes
    scaling(rows)
    return {
        "mode": "throughput",
        "device": next((r["device"] for r in rows if "device" in r), "not measured"),
        "shape": "tiny" if a.tiny else "Llama-3-8B (random bf16)",
        "lora": "r=16, alpha=16, all linear layers",
        "lengths": "60-320 tokens, mean ~150",
        "prepare_seconds": round(prep_s, 1),
        "results": rows,
    }


def scaling(rows: list[dict]) -> None:
    """Scaling efficiency of each several-GPU row against one GPU with the same setup and batch per GPU."""
    for r in rows:
        one = next(
            (
                o
                for o in rows
                if o.get("gpus") == 1
                and o.get("batch") == r.get("batch")
                and o.get("setup") == r.get("setup")
                and "error" not in o
            ),
            None,
        )
        if one and r.get("gpus", 1) > 1 and "error" not in r:
            r["speedup"] = round(r["useful_tok_s"] / one["useful_tok_s"], 3)
            r["scaling_efficiency"] = round(r["useful_tok_s"] / (r["gpus"] * one["useful_tok_s"]), 3)


def _write(out: Path, res: dict) -> None:
    from sql2nl.rundir import atomic_write_json, atomic_write_text

    atomic_write_json(out / f"training_{res['mode']}.json", res)
    atomic_write_text(
        out / f"training_{res['mode']}.md", markdown({"device": "", "shape": "", "lora": "", "lengths": "", **res})
    )


def markdown(res: dict) -> str:
    lines = [f"Device: {res['device']}", ""]
    if res["mode"] == "throughput":
        lines += [
            f"Model: {res['shape']}; LoRA {res['lora']}; examples {res['lengths']}.",
            "",
            "| setup | GPUs | batch per GPU | useful tok/s (global batch) | speedup | scaling | peak GiB per GPU "
            "| all-reduce MB/step | token imbalance |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in res["results"]:
            if "error" in r:
                why = r["error"].strip().splitlines()[-1][:160] if r["error"].strip() else ""
                lines.append(f"| {r['name']} | {r.get('gpus', 1)} | {r.get('batch', '')} | failed: {why} | | | | | |")
                continue
            eff = f"{r['scaling_efficiency']:.0%}" if "scaling_efficiency" in r else ""
            speed = f"{r['speedup']:.2f}x" if "speedup" in r else ""
            peaks = " / ".join(map(str, r.get("peak_gib_per_gpu") or [r["peak_gib"]]))
            imb = f"{r['token_imbalance']:.3f}" if r.get("token_imbalance") else ""
            lines.append(
                f"| {r['name']} | {r.get('gpus', 1)} | {r['batch']} | {r['useful_tok_s']:,.0f} | {speed} | {eff} "
                f"| {peaks} | {r.get('allreduce_mb_per_step', '')} | {imb} |"
            )
        comm = [(r["name"], i, c) for r in res["results"] for i, c in enumerate(r.get("comm_per_gpu") or []) if c]
        if comm:
            lines += [
                "",
                "Per step, from two profiled steps after the timed ones (`--profile-comm`; ms):",
                "",
                "| setup | GPU | wall | compute | NCCL | NCCL not hidden by compute | GPU idle | NCCL kernels |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for name, i, c in comm:
                lines.append(
                    f"| {name} | {i} | {c['wall_ms']} | {c.get('compute_ms', '')} | {c.get('nccl_ms', '')} | "
                    f"{c.get('nccl_exposed_ms', '')} | {c.get('idle_ms', '')} | "
                    f"{c.get('nccl_kernels', c.get('allreduce_calls', ''))} |"
                )
    else:
        lines += [
            f"{res['base']}: {res['steps']} steps in {res['train_seconds']} s (train loss {res['train_loss']}, "
            f"validation loss {res['eval_loss']}); evaluation {res['eval_seconds']} s.",
            "",
            "| describer | n | BLEU | ROUGE-L | faithfulness |",
            "|---|---|---|---|---|",
        ]
        for name in ("model", "rules"):
            m = res[name]
            lines.append(
                f"| {res['base'] if name == 'model' else 'rules (baseline)'} | {m['n']} | {m['bleu']:.2f} | "
                f"{m['rouge_l']:.2f} | {m['faithfulness']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["throughput", "real"], default="throughput")
    p.add_argument("--out", default="bench-out", help="Folder for training_<mode>.json/.md (and the real run).")
    p.add_argument("--tiny", action="store_true", help="Throughput at a tiny shape (CPU smoke test).")
    p.add_argument(
        "--quick", action="store_true", help="Real mode: scratch:tiny, 20 steps, 40 eval pairs (CPU smoke test)."
    )
    p.add_argument("--work", default=None, help="Where the random 8B model is saved (16 GB; reused).")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--plain-batch", type=int, default=16)
    p.add_argument("--pipeline-batch", default="16,32", help="Comma-separated batch sizes for (b).")
    p.add_argument("--engine", default="auto", choices=["auto", "unsloth", "peft"])
    p.add_argument(
        "--gpus",
        default="1",
        help="Comma-separated GPU counts for (b), e.g. 1,2,4,8: each setup on "
        "each count, one GPU first (DDP through torchrun, one process per GPU; scaling efficiency vs 1). "
        "Without CUDA: CPU processes (gloo).",
    )
    p.add_argument(
        "--profile-comm",
        action="store_true",
        help="Profile 2 more steps per setup: compute vs NCCL "
        "(hidden / not hidden by compute) vs idle per GPU; traces under OUT/logs.",
    )
    p.add_argument(
        "--no-random-init",
        action="store_true",
        help="Load the model from --work (16 GB written once) instead of building random weights on each GPU.",
    )
    p.add_argument(
        "--deadline-s",
        type=float,
        default=0.0,
        help="Start no setup that would not end within this "
        "many seconds of the start (judged by the longest earlier setup on as many GPUs); 0: no limit.",
    )
    p.add_argument(
        "--variants",
        default="auto:packed",
        help="Comma-separated ENGINE:LOSS setups for (b): engine "
        "auto|unsloth|peft, loss packed (the pipeline) or trl (TRL's padding-free loss, for comparison); "
        "+compile: with compiled decoder layers (TrainConfig.compile); +ckpt=F: gradient checkpointing "
        "on a share F of the decoder layers (+ckpt: all; none by default); @B: this setup at batch B only "
        "(else every --pipeline-batch); on several GPUs only: +bf16grads (bf16 gradient all-reduce), +static (DDP "
        "static_graph), +bucket=MB (DDP bucket size).",
    )
    p.add_argument("--ckpt", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--no-plain", action="store_true", help="Skip (a).")
    p.add_argument("--profile", action="store_true", help="Write a torch.profiler table per (b) setup to --out.")
    p.add_argument("--child-timeout", type=float, default=900.0, help="Seconds before a setup is given up.")
    p.add_argument("--loss", default="packed", help=argparse.SUPPRESS)
    p.add_argument("--data", default=None, help="Real mode: folder with train.jsonl/valid.jsonl (or the train file).")
    p.add_argument("--valid", default=None)
    p.add_argument("--size", default="small", choices=["tiny", "mini", "small", "base"])
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--epochs", type=float, default=40.0)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eval-limit", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--child", choices=["plain", "pipeline", "weights"], help=argparse.SUPPRESS)
    p.add_argument("--ddp", default=None, help=argparse.SUPPRESS)
    p.add_argument("--profile-comm-dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--child-profile", dest="profile_file", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        return _child(a)
    if a.mode == "real" and not a.data:
        p.error("--mode real needs --data (the Spider pairs folder)")
    res = throughput(a) if a.mode == "throughput" else run_real(a)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    _write(out, res)
    print(markdown(res))


if __name__ == "__main__":
    main()
