"""The pieces of multi-process training that need no processes: the global-batch split, the sampler
that makes every step's examples independent of the number of processes, the example hashes of the
data-order log, and the launcher's environment."""

from __future__ import annotations

import random

import pytest
from skips import require

require("torch")
require("sql2nl_training")

from sql2nl.errors import InvalidInputError  # noqa: E402
from sql2nl_training.config import TrainConfig  # noqa: E402
from sql2nl_training.distributed import (  # noqa: E402
    SAFE_ENV,
    GlobalBatchSampler,
    example_hashes,
    global_batch_of,
    launch_env,
    split_global_batch,
    trainer_args,
    visible_devices,
)


@pytest.mark.parametrize(
    "global_batch,processes,micro,want",
    [
        (64, 1, 32, (32, 2)),
        (64, 2, 32, (32, 1)),
        (64, 4, 32, (16, 1)),
        (64, 8, 32, (8, 1)),
        (32, 1, 32, (32, 1)),
        (4, 1, 2, (2, 2)),
        (6, 1, 4, (3, 2)),
        (12, 2, 4, (3, 2)),
        (7, 1, 3, (1, 7)),
    ],
)
def test_split_global_batch(global_batch, processes, micro, want):
    per_device, accum = split_global_batch(global_batch, processes, micro)
    assert (per_device, accum) == want
    assert per_device * accum * processes == global_batch and per_device <= micro


def test_split_refuses_an_uneven_global_batch():
    with pytest.raises(
        InvalidInputError,
        match=r"global batch of 6 examples per step cannot be split evenly "
        r"over 4 processes.*\(1, 2, 3, 6\)",
    ):
        split_global_batch(6, 4, 8)


def test_global_batch_is_the_runs():
    cfg = TrainConfig(batch_size=8, grad_accum=2)
    assert global_batch_of(cfg, processes=2) == 32
    assert global_batch_of(cfg, processes=4, saved_world_size=2) == 32  # a run saved before the field
    cfg.global_batch = 48
    assert global_batch_of(cfg, processes=4, saved_world_size=2) == 48
    args = trainer_args(cfg, 4, 48)
    assert (args["per_device_train_batch_size"], args["gradient_accumulation_steps"]) == (
        6,
        2,
    )  # 12 each, <= 8 at a time
    assert args["per_device_eval_batch_size"] == 8  # evaluation batches do not depend on the split
    assert args["ddp_find_unused_parameters"] is False and args["ddp_broadcast_buffers"] is False
    with pytest.raises(InvalidInputError, match="global_batch"):
        TrainConfig(global_batch=-1)


def _steps(lengths, global_batch, processes, accum, epoch=0):
    """{step: sorted indices over all processes}, and each micro-batch's (examples, tokens)."""
    steps, micro = {}, []
    for rank in range(processes):
        s = GlobalBatchSampler(lengths, global_batch, processes, accum, rank, seed=7)
        s.set_epoch(epoch)
        batches = list(s)
        assert len(batches) == len(s)
        for i, mb in enumerate(batches):
            steps.setdefault(i // accum, []).extend(mb)
            micro.append((i // accum, rank, len(mb), sum(lengths[j] for j in mb)))
    return {k: sorted(v) for k, v in steps.items()}, micro


def test_every_step_takes_the_same_examples_on_any_number_of_processes():
    r = random.Random(0)
    lengths = [r.randint(60, 320) for _ in range(203)]  # 203 = 6 steps of 32 and a short seventh
    ref, _ = _steps(lengths, 32, 1, 1)
    assert len(ref) == 7 and all(len(v) == 32 for v in ref.values())  # the last step topped up to 32
    assert set().union(*map(set, ref.values())) == set(range(203))  # every example seen this epoch
    for processes, accum in [(1, 2), (2, 1), (2, 2), (4, 1), (8, 2)]:
        steps, micro = _steps(lengths, 32, processes, accum)
        assert steps == ref, (processes, accum)
        assert {n for _, _, n, _ in micro} == {32 // processes // accum}
    other, _ = _steps(lengths, 32, 2, 1, epoch=1)
    assert other != ref and sorted(other[0] + other[1]) != sorted(ref[0] + ref[1])  # reshuffled per epoch


def test_processes_get_nearly_equal_tokens():
    r = random.Random(1)
    lengths = [int(min(320, max(60, r.gammavariate(4.0, 37.5)))) for _ in range(64 * 20)]
    _, micro = _steps(lengths, 64, 2, 1)
    for step in range(20):
        a, b = (t for s, _, _, t in micro if s == step)
        assert abs(a - b) <= 320, (step, a, b)  # within one example; unbalanced halves differ by ~10 %


def test_example_hashes_packed_and_padded():
    import torch

    from sql2nl_training.packing import PackedCollator

    rows = [{"input_ids": [5, 6, 7], "completion_mask": [0, 1, 1]}, {"input_ids": [8, 9], "completion_mask": [0, 1]}]
    packed = example_hashes(PackedCollator()(rows))
    padded = example_hashes(
        {"input_ids": torch.tensor([[5, 6, 7], [8, 9, 0]]), "attention_mask": torch.tensor([[1, 1, 1], [1, 1, 0]])}
    )
    assert packed == padded and len(set(packed)) == 2


def test_launch_env_fills_in_but_keeps_the_users():
    assert {k: launch_env({})[k] for k in SAFE_ENV} == SAFE_ENV
    assert launch_env({"NCCL_NVLS_ENABLE": "1"})["NCCL_NVLS_ENABLE"] == "1"
    assert visible_devices(2, {}) == "0,1"
    assert visible_devices(1, {"CUDA_VISIBLE_DEVICES": "3,5"}) == "3"


def test_one_process_uses_one_gpu(tmp_path):
    from transformers import TrainingArguments

    from sql2nl_training.distributed import one_device_per_process

    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8, use_cpu=True, report_to=[])
    args._n_gpu = 2  # what the Trainer finds on a host with two GPUs when no launcher started it
    assert args.train_batch_size == 16  # ... and it would then wrap the model in nn.DataParallel
    one_device_per_process(args)
    assert args.n_gpu == 1 and args.train_batch_size == 8


def test_comm_profile_splits_a_step_into_compute_nccl_and_idle(tmp_path):
    """Two steps of 10 ms (us below): compute 0-6, an all-reduce 4-8 (2 hidden behind compute, 2 not),
    nothing 8-10; the same again from 10."""
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import comm_profile

    def k(name, ts, dur):
        return {"ph": "X", "cat": "kernel", "name": name, "ts": ts, "dur": dur}

    events = []
    for t0 in (0, 10_000):
        events += [
            k("ampere_bf16_gemm", t0, 3_000),
            k("triton_fused_add", t0 + 3_000, 3_000),
            k("ncclDevKernel_AllReduce_Sum_f32_RING_LL(x)", t0 + 4_000, 4_000),
        ]
    trace = tmp_path / "trace.json"
    trace.write_text(
        json.dumps({"traceEvents": events + [{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 0, "dur": 5}]})
    )
    got = comm_profile.summarize(trace, steps=2, wall_s=0.020)
    assert got == {
        "device": "cuda",
        "steps": 2,
        "wall_ms": 10.0,
        "compute_ms": 6.0,
        "nccl_ms": 4.0,
        "nccl_exposed_ms": 2.0,
        "idle_ms": 2.0,
        "nccl_kernels": 1.0,
        "nccl_kernel_names": ["ncclDevKernel_AllReduce_Sum_f32_RING_LL"],
    }


def test_a_dataset_without_column_names_keeps_the_trainers_own_sampler(tmp_path):
    """An iterable dataset (column_names None) is not one the global-batch sampler can index: the
    Trainer's own choice stands (before the fix: TypeError, 'NoneType' is not iterable)."""
    import torch
    from datasets import Dataset, IterableDataset
    from transformers import Trainer, TrainingArguments

    from sql2nl_training.distributed import DistributedOptions, distributed_trainer_class

    cls = distributed_trainer_class(Trainer, DistributedOptions(global_batch=4))
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        use_cpu=True,
        report_to=[],
    )
    trainer = cls(model=torch.nn.Linear(2, 2), args=args)
    stream = IterableDataset.from_generator(lambda: iter([{"input_ids": [1, 2]}]))
    assert stream.column_names is None
    assert trainer._get_train_sampler(stream) is None
    rows = Dataset.from_list([{"input_ids": [1] * n} for n in (3, 5, 2, 7)])
    assert type(trainer._get_train_sampler(rows)).__name__ == "GlobalBatchSampler"


def test_the_adapters_start_the_same_whatever_ran_before(tmp_path):
    """Two runs of one config must start from the same LoRA weights even when the process drew
    random numbers before loading the model (as dequantizing a GGUF base does on a cache miss and
    not on a hit): before the fix, 1 GPU and 2 GPUs of one SmolLM2 config logged the same step-1
    loss but gradient norms 0.828 vs 0.866."""
    import torch

    from sql2nl_training import scratch
    from sql2nl_training.finetune import load_model

    base = tmp_path / "base"
    scratch.build("tiny", ["SELECT name FROM singer", "Names of singers."] * 4, base, seed=0)
    cfg = TrainConfig(base=str(base), data="-", out="-", lora_r=4, lora_alpha=4, engine="peft", seed=3)
    weights = []
    for draws in (0, 1000):
        torch.rand(draws)  # what earlier work in the process consumed
        model, _ = load_model(str(base), cfg, "peft")
        weights.append({n: p.detach().clone() for n, p in model.named_parameters() if "lora_A" in n})
    assert weights[0] and weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][n], weights[1][n]) for n in weights[0])
