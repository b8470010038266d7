"""What the GPU training benchmark measures, each in its own (child) process: see
bench_training_gpu.py for the setups, the driver and the results.

(a) :func:`run_plain`: plain HF + PEFT with dynamic padding; (b) :func:`run_pipeline`: this
pipeline (sql2nl_training's load_model + TRL SFTTrainer + sql2nl_training.packing), on one process
or as one of N DDP processes under torchrun.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

LLAMA3_8B = dict(
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    vocab_size=128256,
    rope_theta=500000.0,
    max_position_embeddings=8192,
)
TINY = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=2048,
    rope_theta=10000.0,
    max_position_embeddings=1024,
)
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
        return f"{torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores), torch {torch.__version__}"


# --- the model --------------------------------------------------------------------------------------


def save_random_weights(work: Path) -> None:
    """Random bf16 weights for ``work``'s config, built on the GPU where there is one."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(work), dtype=torch.bfloat16)
    model.save_pretrained(work, safe_serialization=True, max_shard_size="5GB")


def random_model(work: Path, device):
    """``build`` for ``load_model``: random weights for ``work``'s config, made on ``device`` (the same
    on every process: same seed)."""

    def build(**kw):
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        torch.manual_seed(0)
        with torch.device(device):
            return AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(work), **kw).to(device)

    return build


# --- (a) plain HF + PEFT with dynamic padding ------------------------------------------------------


def run_plain(model_dir: Path, batch: int, steps: int, warmup: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16 if cuda else torch.float32).to(device)
    model = get_peft_model(
        model, LoraConfig(r=16, lora_alpha=16, lora_dropout=0.0, target_modules=TARGETS, task_type="CAUSAL_LM")
    )
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
        chunk = rows[s * batch : (s + 1) * batch]
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
    return {
        "name": "(a) HF+PEFT, dynamic padding",
        "batch": batch,
        "steps": steps,
        "useful_tokens": useful,
        "padded_tokens": padded,
        "pad_share": round(1 - useful / padded, 3),
        "seconds": round(dt, 3),
        "useful_tok_s": round(useful / dt, 1),
        "peak_gib": _peak(),
    }


def _peak() -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None


# --- (b) this pipeline -----------------------------------------------------------------------------


def run_pipeline(
    model_dir: Path,
    batch: int,
    steps: int,
    warmup: int,
    engine: str,
    ckpt: float | None,
    loss: str = "packed",
    profile: str | None = None,
    ddp: dict | None = None,
    random_init: bool = True,
    profile_comm: str | None = None,
) -> dict:
    """``loss="packed"``: the pipeline as it trains (sql2nl_training.packing); ``"trl"``: TRL's own
    padding-free collator and loss (full logits), the pipeline before packing.py, for comparison.
    ``ckpt``: None, no gradient checkpointing; else the share of decoder layers checkpointed.
    Under torchrun, one of N processes: ``batch`` per process, results summed / per GPU on rank 0.
    ``ddp``: TrainConfig's ddp_* fields. ``profile_comm``: a folder for the comm profile traces."""
    from sql2nl_training.config import TrainConfig
    from sql2nl_training.distributed import (
        DistributedOptions,
        distributed_trainer_class,
        one_device_per_process,
        trainer_args,
    )
    from sql2nl_training.engines import resolve_engine
    from sql2nl_training.finetune import _collator, _trainer_class, load_model, sft_args

    engine = resolve_engine(engine)  # imports Unsloth first where it is used
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())  # under torchrun: one DDP process per GPU
    from datasets import Dataset
    from transformers import TrainerCallback

    cuda = torch.cuda.is_available()
    world = state.num_processes
    if cuda:  # torchrun's LOCAL_RANK -> this process's GPU (accelerate sets it too; made sure of here)
        torch.cuda.set_device(state.local_process_index)
    compiled = loss.endswith("+compile")
    loss = loss.removesuffix("+compile")
    packed = loss == "packed"
    global_batch = batch * world
    cfg = TrainConfig(
        base=str(model_dir),
        data="-",
        out="-",
        lora_r=16,
        lora_alpha=16,
        engine=engine,
        max_seq_length=512,
        gradient_checkpointing=ckpt is not None,
        checkpoint_layers=ckpt or 1.0,
        batch_size=batch,
        padding_free=packed,
        compile=compiled,
        global_batch=global_batch,
        **(ddp or {}),
    )
    build = random_model(model_dir, state.device) if random_init and engine == "peft" else None
    t_load = time.perf_counter()
    model, tok = load_model(str(model_dir), cfg, engine, build=build)
    load_s = time.perf_counter() - t_load
    extra = 2 if profile_comm else 0
    total = steps + warmup + extra
    rows = examples(global_batch * (total + 1), model.config.vocab_size)
    counts: list[int] = []
    times: dict[str, float] = {}
    step_s: list[float] = []
    prof: dict = {}
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])

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
                prof["p"] = torch.profiler.profile(activities=activities)
                prof["p"].__enter__()
            if profile_comm and state.global_step == warmup + steps:  # after the timed steps
                # kernels are all the comm summary reads (the CPU side only where there is no GPU)
                prof["c"] = torch.profiler.profile(activities=activities[1:] if cuda else activities)
                prof["c"].__enter__()
                times["c0"] = times["begin"]

        def on_step_end(self, args, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            step_s.append(round(time.perf_counter() - times["begin"], 4))
            if state.global_step == warmup + steps:
                times["t1"] = time.perf_counter()
                times["peak"] = _peak()  # before any profiled step
            if profile and state.global_step == warmup + 3 and "p" in prof:
                prof["p"].__exit__(None, None, None)
                key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
                Path(profile).write_text(prof["p"].key_averages().table(sort_by=key, row_limit=40))
            if profile_comm and state.global_step == total and "c" in prof:
                prof["c"].__exit__(None, None, None)
                times["c1"] = time.perf_counter()

    args = sft_args(
        output_dir=str(model_dir.parent / "bench-ckpt"),
        max_length=None,
        padding_free=not packed,
        **trainer_args(cfg, world, global_batch),
        max_steps=total,
        learning_rate=2e-4,
        logging_steps=10_000,
        save_strategy="no",
        disable_tqdm=True,
        bf16=cuda,
        use_cpu=not cuda,
        dataloader_drop_last=True,
        seed=0,
    )
    one_device_per_process(args)
    trainer_class = distributed_trainer_class(
        _trainer_class(engine, packed), DistributedOptions(global_batch, cfg.ddp_bf16_grads)
    )
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
        callbacks=[Timer()],
        **_collator(packed),
    )
    inner = trainer.data_collator

    def counting(features):
        counts.append(sum(len(f["input_ids"]) for f in features))
        return inner(features)

    trainer.data_collator = counting
    trainer.train()
    mine = {
        "rank": state.process_index,
        "gpu": gpu_info(),
        "device": f"cuda:{torch.cuda.current_device()}" if cuda else str(state.device),
        "useful": sum(counts[warmup : warmup + steps]),
        "tokens": counts[warmup : warmup + steps],
        "seconds": times["t1"] - times["t0"],
        "peak_gib": times["peak"],
        "reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 2) if cuda else None,
    }
    if profile_comm and "c1" in times:
        import comm_profile

        trace = Path(profile_comm) / f"trace-rank{state.process_index}.json"
        trace.parent.mkdir(parents=True, exist_ok=True)
        prof["c"].export_chrome_trace(str(trace))
        mine["comm"] = comm_profile.summarize(trace, extra, times["c1"] - times["c0"])
    ranks = [mine]
    if world > 1:
        import torch.distributed as dist

        ranks = [None] * world
        dist.all_gather_object(ranks, mine)
    dt = max(r["seconds"] for r in ranks)
    useful = sum(r["useful"] for r in ranks)
    per_step = list(zip(*(r["tokens"] for r in ranks)))
    imbalance = (sum(max(t) / (sum(t) / len(t)) for t in per_step) / len(per_step)) if per_step else None
    grads = [p for p in model.parameters() if p.requires_grad]
    grad_bytes = sum(p.numel() * p.element_size() for p in grads)
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
        how += (
            ", Unsloth checkpointing" if engine == "unsloth" else f", {sum(flags)} of {len(flags)} layers checkpointed"
        )
    peaks = [r["peak_gib"] for r in ranks]
    res = {
        "name": f"(b) sql2nl pipeline ({engine}, {how})",
        "gpus": world,
        "batch": batch,
        "global_batch": global_batch,
        "steps": steps,
        "useful_tokens": useful,
        "padded_tokens": useful,
        "pad_share": 0.0,
        "seconds": round(dt, 3),
        "useful_tok_s": round(useful / dt, 1),
        "peak_gib": max(peaks) if cuda else None,
        "peak_gib_per_gpu": peaks,
        "reserved_gib_per_gpu": [r["reserved_gib"] for r in ranks],
        "devices": [r["device"] for r in ranks],
        "device": ranks[0]["gpu"],
        "load_seconds": round(load_s, 1),
        "step_seconds": step_s,
        "token_imbalance": round(imbalance, 4) if imbalance else None,
        "torch_compile": dyn,
        "trainable_params": sum(p.numel() for p in grads),
        # what DDP all-reduces each step: every trainable parameter's gradient (fp32 adapters),
        # in bf16 with the compression hook; a ring all-reduce moves 2 (N-1)/N of it per GPU
        "allreduce_mb_per_step": round(grad_bytes / (2 if cfg.ddp_bf16_grads else 1) / 1e6, 1) if world > 1 else 0.0,
        "ddp": {
            "bucket_mb": cfg.ddp_bucket_mb,
            "static_graph": cfg.ddp_static_graph,
            "bf16_grads": cfg.ddp_bf16_grads,
            "gradient_as_bucket_view": True,
            "find_unused_parameters": False,
            "broadcast_buffers": False,
        }
        if world > 1
        else None,
    }
    if profile_comm:
        res["comm_per_gpu"] = [r.get("comm") for r in ranks]
    return res
