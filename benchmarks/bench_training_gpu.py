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

Mode ``real``: train ``scratch:<size>`` on the Spider pairs for at most --minutes, then score the
validation pairs (BLEU, ROUGE-L, faithfulness) through the transformers backend next to the rules
describer.

  python benchmarks/bench_training_gpu.py --out bench-out                      # H100, both (a) and (b)
  python benchmarks/bench_training_gpu.py --mode real --data DIR --out bench-out
  python benchmarks/bench_training_gpu.py --tiny --out /tmp/b                  # CPU smoke test
  python benchmarks/bench_training_gpu.py --mode real --quick --data DIR --out /tmp/b

Writes ``DIR/training_<mode>.json`` and ``DIR/training_<mode>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

LLAMA3_8B = dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                 num_key_value_heads=8, vocab_size=128256, rope_theta=500000.0, max_position_embeddings=8192)
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=2048, rope_theta=10000.0, max_position_embeddings=1024)
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def lengths(n: int, seed: int = 0) -> list[tuple[int, int]]:
    """(prompt, description) token counts: total in [60, 320], mean ~150, description ~20%."""
    import random

    r = random.Random(seed)
    out = []
    while len(out) < n:
        total = int(r.gammavariate(4.0, 37.5))  # mean 150, long right tail like Spider
        if 60 <= total <= 320:
            desc = max(8, int(total * r.uniform(0.12, 0.3)))
            out.append((total - desc, desc))
    return out


def examples(n: int, vocab: int, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    rows = []
    for p, d in lengths(n, seed):
        ids = torch.randint(10, vocab - 10, (p + d,), generator=g).tolist()
        rows.append({"input_ids": ids, "completion_mask": [0] * p + [1] * d})
    return rows


def gpu_info() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores), torch {torch.__version__}"


# --- model on disk (shared by both measurements) ---------------------------------------------------

def prepare_model(work: Path, tiny: bool) -> Path:
    """Random-weight Llama (8B shape, bf16) + a small tokenizer saved to ``work``; reused when present."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from sql2nl_training.scratch import train_tokenizer

    shape = TINY if tiny else LLAMA3_8B
    mark = work / "shape.json"
    if mark.is_file() and json.loads(mark.read_text()) == shape:
        return work
    work.mkdir(parents=True, exist_ok=True)
    tok = train_tokenizer(["SELECT name FROM users WHERE age > 18", "List the names of users."] * 4, vocab_size=300)
    cfg = LlamaConfig(**shape, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, tie_word_embeddings=False, dtype="bfloat16")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)  # build directly in bf16: 16 GB, not 32, on the GPU
    try:
        with torch.device(device):
            model = LlamaForCausalLM(cfg)
    finally:
        torch.set_default_dtype(torch.float32)
    model.save_pretrained(work, safe_serialization=True, max_shard_size="5GB")
    tok.save_pretrained(work)
    del model
    mark.write_text(json.dumps(shape))
    return work


# --- (a) plain HF + PEFT with dynamic padding ------------------------------------------------------

def run_plain(model_dir: Path, batch: int, steps: int, warmup: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16 if cuda else torch.float32).to(device)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=16, lora_dropout=0.0, target_modules=TARGETS,
                                             task_type="CAUSAL_LM"))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    rows = examples(batch * (steps + warmup), model.config.vocab_size)
    pad = model.config.pad_token_id
    model.train()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    useful = padded = 0
    t0 = None
    for s in range(steps + warmup):
        if s == warmup:
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            useful = padded = 0
        chunk = rows[s * batch:(s + 1) * batch]
        L = max(len(r["input_ids"]) for r in chunk)
        ids = torch.full((batch, L), pad, dtype=torch.long)
        labels = torch.full((batch, L), -100, dtype=torch.long)
        att = torch.zeros((batch, L), dtype=torch.long)
        for i, r in enumerate(chunk):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"])
            att[i, :n] = 1
            labels[i, :n] = torch.tensor([t if m else -100 for t, m in zip(r["input_ids"], r["completion_mask"])])
            useful += n
        padded += batch * L
        out = model(input_ids=ids.to(device), attention_mask=att.to(device), labels=labels.to(device))
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    if cuda:
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {"name": "(a) HF+PEFT, dynamic padding", "batch": batch, "steps": steps, "useful_tokens": useful,
            "padded_tokens": padded, "pad_share": round(1 - useful / padded, 3), "seconds": round(dt, 3),
            "useful_tok_s": round(useful / dt, 1), "peak_gib": _peak()}


def _peak() -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None


# --- (b) this pipeline -----------------------------------------------------------------------------

def run_pipeline(model_dir: Path, batch: int, steps: int, warmup: int, engine: str, ckpt: float | None,
                 loss: str = "packed", profile: str | None = None) -> dict:
    """``loss="packed"``: the pipeline as it trains (sql2nl_training.packing); ``"trl"``: TRL's own
    padding-free collator and loss (full logits), the pipeline before packing.py, for comparison.
    ``ckpt``: None, no gradient checkpointing; else the share of decoder layers checkpointed."""
    from sql2nl_training.config import TrainConfig
    from sql2nl_training.engines import resolve_engine
    from sql2nl_training.finetune import _collator, _trainer_class, load_model, sft_args

    engine = resolve_engine(engine)  # imports Unsloth first where it is used
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())  # under torchrun: one DDP process per GPU
    from datasets import Dataset
    from transformers import TrainerCallback

    cuda = torch.cuda.is_available()
    compiled = loss.endswith("+compile")
    loss = loss.removesuffix("+compile")
    packed = loss == "packed"
    cfg = TrainConfig(base=str(model_dir), data="-", out="-", lora_r=16, lora_alpha=16, engine=engine,
                      max_seq_length=512, gradient_checkpointing=ckpt is not None, checkpoint_layers=ckpt or 1.0,
                      batch_size=batch, padding_free=packed, compile=compiled)
    model, tok = load_model(str(model_dir), cfg, engine)
    rows = examples(batch * (steps + warmup) + batch, model.config.vocab_size)
    counts: list[int] = []
    times: dict[str, float] = {}
    step_s: list[float] = []
    prof: dict = {}

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            times["begin"] = time.perf_counter()
            if state.global_step == warmup:
                if cuda:
                    torch.cuda.reset_peak_memory_stats()
                times["t0"] = times["begin"]
            if profile and state.global_step == warmup + 1:
                prof["p"] = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]
                                                   + ([torch.profiler.ProfilerActivity.CUDA] if cuda else []))
                prof["p"].__enter__()

        def on_step_end(self, args, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            step_s.append(round(time.perf_counter() - times["begin"], 4))
            if state.global_step == warmup + steps:
                times["t1"] = time.perf_counter()
            if profile and state.global_step == warmup + 3 and "p" in prof:
                prof["p"].__exit__(None, None, None)
                key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
                Path(profile).write_text(prof["p"].key_averages().table(sort_by=key, row_limit=40))

    args = sft_args(output_dir=str(model_dir.parent / "bench-ckpt"), max_length=None, padding_free=not packed,
                    per_device_train_batch_size=batch, max_steps=steps + warmup, learning_rate=2e-4,
                    logging_steps=10_000, save_strategy="no", disable_tqdm=True, bf16=cuda, use_cpu=not cuda,
                    dataloader_drop_last=True, seed=0)
    trainer = _trainer_class(engine, packed)(model=model, args=args, train_dataset=Dataset.from_list(rows),
                                             processing_class=tok, callbacks=[Timer()], **_collator(packed))
    inner = trainer.data_collator

    def counting(features):
        counts.append(sum(len(f["input_ids"]) for f in features))
        return inner(features)

    trainer.data_collator = counting
    trainer.train()
    useful = sum(counts[warmup:warmup + steps])
    dt = times["t1"] - times["t0"]
    peak = _peak()
    if state.num_processes > 1:  # every process counts its own shard; report the sum and the largest peak
        import torch.distributed as dist

        t = torch.tensor([float(useful), float(peak or 0.0), dt], device=state.device)
        dist.all_reduce(t[:1], op=dist.ReduceOp.SUM)
        dist.all_reduce(t[1:], op=dist.ReduceOp.MAX)
        useful, peak, dt = int(t[0].item()), (round(t[1].item(), 2) if peak is not None else None), t[2].item()
    try:
        from torch._dynamo.utils import counters

        dyn = {"recompiles": sum(counters["recompiles"].values()), **dict(counters["stats"])}
    except Exception:
        dyn = {}
    how = "packed, description-only LM head" if packed else "TRL padding-free + TRL loss"
    how += ", compiled layers" if compiled else ""
    if ckpt is not None:
        from transformers.modeling_layers import GradientCheckpointingLayer

        flags = [m.gradient_checkpointing for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
        how += (", Unsloth checkpointing" if engine == "unsloth"
                else f", {sum(flags)} of {len(flags)} layers checkpointed")
    return {"name": f"(b) sql2nl pipeline ({engine}, {how})",
            "gpus": state.num_processes, "batch": batch, "steps": steps, "useful_tokens": useful,
            "padded_tokens": useful, "pad_share": 0.0, "seconds": round(dt, 3), "useful_tok_s": round(useful / dt, 1),
            "peak_gib": peak, "step_seconds": step_s, "torch_compile": dyn}


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
    cfg = TrainConfig(base=f"scratch:{size}", data=str(train_f), valid=str(valid_f), out=str(run_dir),
                      epochs=a.epochs, max_steps=20 if a.quick else -1, batch_size=a.batch, learning_rate=a.lr,
                      lora_r=r, lora_alpha=r, max_minutes=a.minutes, save_steps=500, logging_steps=20,
                      engine=a.engine, warmup_ratio=0.03, max_seq_length=512)
    t0 = time.perf_counter()
    train(cfg, progress=not a.no_progress)
    train_s = time.perf_counter() - t0
    limit = 40 if a.quick else a.eval_limit
    t1 = time.perf_counter()
    # compile=False: for a small scratch model, compiling a CUDA graph per batch shape costs more than
    # the whole evaluation saves.
    m = evaluate(run_dir, valid_f, limit=limit, progress=not a.no_progress, batch_size=64 if not a.quick else 8,
                 out=Path(a.out) / "real-eval", compile=False)
    man = json.loads((run_dir / "manifest.json").read_text())
    return {"mode": "real", "device": gpu_info(), "base": cfg.base, "train_seconds": round(train_s, 1),
            "eval_seconds": round(time.perf_counter() - t1, 1), "steps": man["metrics"]["steps"],
            "train_loss": man["metrics"].get("train_loss"), "eval_loss": man["metrics"].get("eval_loss"),
            "model": {k: m[k] for k in ("n", "bleu", "rouge_l", "faithfulness")},
            "rules": {k: m["baseline"][k] for k in ("n", "bleu", "rouge_l", "faithfulness")},
            "by_construct": {"model": m["by_construct"], "rules": m["baseline"]["by_construct"]},
            "config": cfg.to_dict()}


# --- driver ----------------------------------------------------------------------------------------

def _child(a) -> None:
    model_dir = Path(a.model_dir)
    if a.child == "plain":
        res = run_plain(model_dir, a.batch, a.steps, a.warmup)
    else:
        res = run_pipeline(model_dir, a.batch, a.steps, a.warmup, a.engine, a.ckpt, a.loss, a.profile_file)
    if int(os.environ.get("RANK", "0")) == 0:
        print("RESULT " + json.dumps(res), flush=True)


def _spawn(args: list[str], gpus: int = 1, timeout: float | None = None) -> dict:
    launcher = [sys.executable] if gpus <= 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                    f"--nproc_per_node={gpus}"]
    # the same allocator setting for every setup: without it fragmentation decides who runs out first
    env = {**os.environ, "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}
    try:
        proc = subprocess.run([*launcher, __file__, *args], capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return {"name": " ".join(args[:2]), "error": f"timed out after {timeout} s\n{(e.stderr or b'')[-2000:]!r}"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr or proc.stdout)[-3000:]
    return {"name": " ".join(args[:2]), "error": tail}


def _checkpointing(loss: str) -> tuple[str, float | None]:
    """``packed+compile+ckpt=0.5`` -> (``packed+compile``, 0.5); ``+ckpt`` alone checkpoints every layer."""
    parts = loss.split("+")
    ckpt = [p for p in parts if p.startswith("ckpt")]
    rest = "+".join(p for p in parts if not p.startswith("ckpt"))
    return rest, (float(ckpt[0].partition("=")[2] or 1.0) if ckpt else None)


def throughput(a) -> dict:
    Path(a.out).mkdir(parents=True, exist_ok=True)
    work = Path(a.work or (Path(a.out) / "model-tiny" if a.tiny else "/tmp/sql2nl-bench-llama8b"))
    t0 = time.perf_counter()
    prepare_model(work, a.tiny)
    prep_s = time.perf_counter() - t0
    steps, warmup = (3, 1) if a.tiny else (a.steps, a.warmup)
    common = ["--model-dir", str(work), "--steps", str(steps), "--warmup", str(warmup)]
    rows = [] if a.no_plain else [_spawn(["--child", "plain", "--batch", str(a.plain_batch), *common],
                                         timeout=a.child_timeout)]
    for variant in a.variants.split(","):
        variant, _, batches = variant.partition("@")
        engine, _, loss = variant.partition(":")
        loss, ckpt = _checkpointing(loss or "packed")
        for b in [int(x) for x in (batches or a.pipeline_batch).split(",")]:
            for g in [int(x) for x in a.gpus.split(",")]:
                prof = ["--child-profile", str(Path(a.out) / f"profile-{engine}-{loss}{f'-ckpt{ckpt}' if ckpt else ''}-b{b}-g{g}.txt")] if a.profile else []
                rows.append(_spawn(["--child", "pipeline", "--batch", str(b), "--engine", engine or a.engine,
                                    "--loss", loss, *common, *prof] + (["--ckpt", str(ckpt)] if ckpt else []),
                                   gpus=g, timeout=a.child_timeout))
                print(json.dumps({k: v for k, v in rows[-1].items() if k != "error"} | {"error": rows[-1].get("error", "")[-300:]}), flush=True)
    for r in rows:  # issue 8: scaling efficiency against the same batch on one GPU
        one = next((o for o in rows if o.get("gpus") == 1 and o.get("batch") == r.get("batch")
                    and "error" not in o), None)
        if one and r.get("gpus", 1) > 1 and "error" not in r:
            r["scaling_efficiency"] = round(r["useful_tok_s"] / (r["gpus"] * one["useful_tok_s"]), 3)
    return {"mode": "throughput", "device": gpu_info(), "shape": "tiny" if a.tiny else "Llama-3-8B (random bf16)",
            "lora": "r=16, alpha=16, all linear layers", "lengths": "60-320 tokens, mean ~150",
            "prepare_seconds": round(prep_s, 1), "results": rows}


def markdown(res: dict) -> str:
    lines = [f"Device: {res['device']}", ""]
    if res["mode"] == "throughput":
        lines += [f"Model: {res['shape']}; LoRA {res['lora']}; examples {res['lengths']}.", "",
                  "| setup | GPUs | batch per GPU | useful tok/s | pad share | peak GiB per GPU | scaling |",
                  "|---|---|---|---|---|---|---|"]
        for r in res["results"]:
            if "error" in r:
                lines.append(f"| {r['name']} | | | failed: {r['error'].splitlines()[-1][:120] if r['error'] else ''} | | | |")
            else:
                eff = f"{r['scaling_efficiency']:.0%}" if "scaling_efficiency" in r else ""
                lines.append(f"| {r['name']} | {r.get('gpus', 1)} | {r['batch']} | {r['useful_tok_s']:,.0f} | "
                             f"{r['pad_share']:.0%} | {r['peak_gib']} | {eff} |")
    else:
        lines += [f"{res['base']}: {res['steps']} steps in {res['train_seconds']} s (train loss {res['train_loss']}, "
                  f"validation loss {res['eval_loss']}); evaluation {res['eval_seconds']} s.", "",
                  "| describer | n | BLEU | ROUGE-L | faithfulness |", "|---|---|---|---|---|"]
        for name in ("model", "rules"):
            m = res[name]
            lines.append(f"| {res['base'] if name == 'model' else 'rules (baseline)'} | {m['n']} | {m['bleu']:.2f} | "
                         f"{m['rouge_l']:.2f} | {m['faithfulness']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["throughput", "real"], default="throughput")
    p.add_argument("--out", default="bench-out", help="Folder for training_<mode>.json/.md (and the real run).")
    p.add_argument("--tiny", action="store_true", help="Throughput at a tiny shape (CPU smoke test).")
    p.add_argument("--quick", action="store_true", help="Real mode: scratch:tiny, 20 steps, 40 eval pairs (CPU smoke test).")
    p.add_argument("--work", default=None, help="Where the random 8B model is saved (16 GB; reused).")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--plain-batch", type=int, default=16)
    p.add_argument("--pipeline-batch", default="16,32", help="Comma-separated batch sizes for (b).")
    p.add_argument("--engine", default="auto", choices=["auto", "unsloth", "peft"])
    p.add_argument("--gpus", default="1", help="Comma-separated process counts for (b), e.g. 1,2,4 (issue 8: "
                   "DDP through torchrun, scaling efficiency vs 1). Without CUDA: CPU processes (gloo).")
    p.add_argument("--variants", default="auto:packed", help="Comma-separated ENGINE:LOSS setups for (b): engine "
                   "auto|unsloth|peft, loss packed (the pipeline) or trl (TRL's padding-free loss, for comparison); "
                   "+compile: with compiled decoder layers (TrainConfig.compile); +ckpt=F: gradient checkpointing "
                   "on a share F of the decoder layers (+ckpt: all; none by default); @B: this setup at batch B only "
                   "(else every --pipeline-batch).")
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
    p.add_argument("--child", choices=["plain", "pipeline"], help=argparse.SUPPRESS)
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
    (out / f"training_{a.mode}.json").write_text(json.dumps(res, indent=2))
    md = markdown(res)
    (out / f"training_{a.mode}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
