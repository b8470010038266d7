"""Training on several processes (``sql2nl train --gpus N``, torchrun, ``accelerate launch``).

What DDP needs from the pipeline, in one place:

- :func:`launch` starts the processes through torchrun with NVLink multicast off in NCCL (see
  :data:`SAFE_ENV`) unless the caller set those variables.
- The **global batch** (examples per optimizer step over every process) is what a run keeps;
  :func:`split_global_batch` derives the per-process micro-batch and gradient accumulation for
  any number of processes, so a run resumed on another number of GPUs trains on the same
  examples in the same steps.
- :class:`GlobalBatchSampler` takes each step's examples from one seeded shuffle (the same
  whatever the number of processes) and splits them so every process gets as many examples and
  nearly as many tokens (packed batches cost what their tokens cost; the slowest process sets
  the pace of every step).
- :func:`trainer_args` and :func:`distributed_trainer_class`: DDP settings that cost nothing
  with LoRA (no search for unused parameters, no buffer broadcast, gradients as views into the
  all-reduce buckets, optional bf16 gradient compression), the sampler, a log of the examples
  of every step (``RUN/data_order/``), and wall-clock seconds in the log history.

>>> split_global_batch(64, processes=2, max_micro=32)
(32, 1)
>>> split_global_batch(64, processes=1, max_micro=32)
(32, 2)
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sql2nl.errors import InvalidInputError

# NVLink multicast (NVLS) in NCCL, PyTorch's symmetric memory and NVSHMEM can take a shared
# host's GPUs out of service; the lent multi-GPU machines turn it off and every process we start
# keeps it off (a value the user set wins).
SAFE_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}
DATA_ORDER = "data_order"


def launch_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with :data:`SAFE_ENV` filled in where unset."""
    out = dict(os.environ if env is None else env)
    for k, v in SAFE_ENV.items():
        out.setdefault(k, v)
    return out


def torchrun_command(processes: int, target: list[str]) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc_per_node=N TARGET...`` (TARGET: a script
    and its arguments, or ``-m module ...``)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *target]


def launch(processes: int, target: list[str], env: dict[str, str] | None = None) -> int:
    """Run ``target`` in ``processes`` processes with torchrun and wait; SIGTERM/SIGINT are passed on
    (each process checkpoints and stops). Returns torchrun's exit status."""
    proc = subprocess.Popen(torchrun_command(processes, target), env=launch_env(env))
    forward = lambda signum, frame: proc.send_signal(signum)  # noqa: E731
    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def cuda_devices() -> int:
    """How many CUDA devices this host has (0 without CUDA); creates no CUDA context."""
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:
        return 0


def visible_devices(processes: int, env: Mapping[str, str] | None = None) -> str:
    """``CUDA_VISIBLE_DEVICES`` for a job of ``processes`` processes, one GPU each: the first
    ``processes`` of the ones already visible (all of them by default)."""
    source: Mapping[str, str] = os.environ if env is None else env
    have = [d for d in source.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return ",".join(have[:processes] if have else map(str, range(processes)))


def one_device_per_process(args) -> None:
    """A single process on a host with several GPUs: the HF Trainer would spread it over all of
    them with ``nn.DataParallel``, which copies the whole model to every GPU each step and cannot
    split a packed batch (one row). One process trains on one GPU; several go through DDP
    (``--gpus N``)."""
    if args.world_size == 1 and args.n_gpu > 1:
        args._n_gpu = 1


# --- the global batch ------------------------------------------------------------------------------


def split_global_batch(global_batch: int, processes: int, max_micro: int) -> tuple[int, int]:
    """(examples per process per micro-batch, gradient accumulation steps) for ``global_batch``
    examples per optimizer step over ``processes`` processes, micro-batches of at most
    ``max_micro`` examples: the fewest accumulation steps that split each process's share evenly.
    """
    if global_batch < 1 or processes < 1 or max_micro < 1:
        raise InvalidInputError(
            f"Invalid batch split: global batch {global_batch}, {processes} processes, "
            f"micro-batch {max_micro}; all must be positive."
        )
    if global_batch % processes:
        ok = [n for n in range(1, global_batch + 1) if global_batch % n == 0]
        raise InvalidInputError(
            f"The global batch of {global_batch} examples per step cannot be split evenly over {processes} "
            f"processes (GPUs). Use a number of GPUs that divides it ({', '.join(map(str, ok[:8]))}"
            f"{'...' if len(ok) > 8 else ''}), or start a new run with another --global-batch."
        )
    share = global_batch // processes
    accum = next(a for a in range(1, share + 1) if share % a == 0 and share // a <= max_micro)
    return share // accum, accum


def global_batch_of(config, processes: int, saved_world_size: int | None = None) -> int:
    """The run's global batch: ``config.global_batch``, else what the config and the number of
    processes give (for runs saved before the field existed: the world size they started with)."""
    if config.global_batch:
        return int(config.global_batch)
    return config.batch_size * config.grad_accum * (saved_world_size or processes)


# --- which examples each process takes ---------------------------------------------------------------


def _balanced(items: list[tuple[int, int]], bins: int) -> list[list[int]]:
    """Split (index, tokens) items into ``bins`` bins of equal counts (± 1) and nearly equal tokens:
    longest first, each onto the lightest bin that still has room. Indices keep their input order."""
    cap = [len(items) // bins + (1 if b < len(items) % bins else 0) for b in range(bins)]
    heap = [(0, b) for b in range(bins)]
    out: list[list[tuple[int, int]]] = [[] for _ in range(bins)]
    order = sorted(range(len(items)), key=lambda i: (-items[i][1], i))
    for i in order:
        full = []
        load, b = heapq.heappop(heap)
        while len(out[b]) >= cap[b]:
            full.append((load, b))
            load, b = heapq.heappop(heap)
        out[b].append((i, items[i][0]))
        heapq.heappush(heap, (load + items[i][1], b))
        for f in full:
            heapq.heappush(heap, f)
    return [[idx for _, idx in sorted(group)] for group in out]


try:  # transformers >= 5.x hands a BatchRebalanceSampler to the DataLoader as its batch sampler
    from transformers.trainer_pt_utils import BatchRebalanceSampler

    _BatchSamplerBase: Any = BatchRebalanceSampler
except Exception:  # pragma: no cover - older transformers: the Trainer's own sampler is used
    _BatchSamplerBase = None


class GlobalBatchSampler(_BatchSamplerBase or object):  # type: ignore[misc]
    """Yields this process's micro-batches (lists of dataset indices), step by step.

    Epoch ``e`` shuffles the dataset with ``seed + e``; step ``k`` takes examples ``k·G .. k·G+G-1``
    of that order (``G``: the global batch; the last step of an epoch takes what is left, topped up
    to ``G`` from the start of the order, as DistributedSampler pads). Those ``G`` examples are split
    into ``processes`` shares of ``G / processes`` examples with nearly equal token counts, and each
    share into ``accum`` micro-batches the same way. Every process computes the same split, so no
    communication is needed, and the examples of a step do not depend on the number of processes.
    """

    def __init__(self, lengths: list[int], global_batch: int, processes: int, accum: int, rank: int, seed: int):
        self.lengths = [max(1, int(n)) for n in lengths]
        self.global_batch, self.processes, self.accum, self.rank = global_batch, processes, accum, rank
        self.seed, self.epoch = seed, 0
        self.steps_per_epoch = math.ceil(len(self.lengths) / global_batch) if self.lengths else 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.steps_per_epoch * self.accum

    def step_examples(self, order: list[int], step: int) -> list[int]:
        chunk = order[step * self.global_batch : (step + 1) * self.global_batch]
        if len(chunk) < self.global_batch:  # the last step of an epoch is topped up from its start,
            # so every step has G examples whatever the number of processes
            chunk = chunk + (order * self.global_batch)[: self.global_batch - len(chunk)]
        return chunk

    def split(self, chunk: list[int]) -> list[list[list[int]]]:
        """``[process][micro-batch] -> indices`` for one step's examples."""
        shares = _balanced([(i, self.lengths[i]) for i in chunk], self.processes)
        return [_balanced([(i, self.lengths[i]) for i in share], self.accum) for share in shares]

    def order(self) -> list[int]:
        import torch

        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        return torch.randperm(len(self.lengths), generator=g).tolist()

    def __iter__(self):
        order = self.order()
        for step in range(self.steps_per_epoch):
            yield from self.split(self.step_examples(order, step))[self.rank]


# --- the Trainer ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistributedOptions:
    """What :func:`distributed_trainer_class` changes in the HF Trainer."""

    global_batch: int
    bf16_grads: bool = False
    data_order_dir: str | None = None  # write RUN/data_order/rank-R.jsonl here


def trainer_args(config, processes: int, global_batch: int) -> dict[str, Any]:
    """``TrainingArguments`` for the batch split and DDP (``train`` and the GPU benchmark).

    Only the LoRA adapters train, and every one of them takes part in every step, so DDP need not
    search the graph for unused parameters; the buffers (rotary frequencies) never change, so they
    are not broadcast before each forward pass.
    """
    per_device, accum = split_global_batch(global_batch, processes, config.batch_size)
    return {
        "per_device_train_batch_size": per_device,
        "gradient_accumulation_steps": accum,
        # evaluation batches do not depend on the number of processes: the same batches, spread
        # over the processes, give the same validation loss
        "per_device_eval_batch_size": config.batch_size,
        "ddp_find_unused_parameters": False,
        "ddp_broadcast_buffers": False,
        "ddp_bucket_cap_mb": config.ddp_bucket_mb,
        "ddp_static_graph": config.ddp_static_graph,
    }


def distributed_trainer_class(base, options: DistributedOptions):
    """``base`` (a Trainer class) with :class:`GlobalBatchSampler`, DDP gradients as bucket views
    (no copy between the gradients and the all-reduce buffers) and optional bf16 compression,
    the data-order log and ``elapsed_s`` in every log entry."""

    _indexed_cpu_locations()

    class DistributedTrainer(base):
        sql2nl_options = options

        def _build_accelerator_args(self, **kwargs):
            args = super()._build_accelerator_args(**kwargs)
            from accelerate.utils import DDPCommunicationHookType, DistributedDataParallelKwargs

            for h in args.get("kwargs_handlers", []):
                if isinstance(h, DistributedDataParallelKwargs):
                    h.gradient_as_bucket_view = True
                    if self.sql2nl_options.bf16_grads and self.args.world_size > 1:
                        if not _nccl():
                            raise InvalidInputError(
                                "ddp_bf16_grads needs CUDA GPUs (PyTorch's bf16 gradient "
                                "compression runs on NCCL); drop --ddp-bf16-grads."
                            )
                        h.comm_hook = DDPCommunicationHookType.BF16
            return args

        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            if (
                _BatchSamplerBase is None
                or dataset is None
                or "input_ids" not in (getattr(dataset, "column_names", None) or ())
            ):
                return super()._get_train_sampler(train_dataset)
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            self._sql2nl_sampler = GlobalBatchSampler(
                [len(x) for x in dataset["input_ids"]],
                self.sql2nl_options.global_batch,
                self.args.world_size,
                self.args.gradient_accumulation_steps,
                self.args.process_index,
                seed,
            )
            return self._sql2nl_sampler

        def _run_epoch(self, *args, **kwargs):
            # accelerate does not pass set_epoch through the wrappers a resumed epoch adds
            sampler = getattr(self, "_sql2nl_sampler", None)
            if sampler is not None and "epoch" in kwargs:
                sampler.set_epoch(kwargs["epoch"])
            return super()._run_epoch(*args, **kwargs)

        def train(self, *args, **kwargs):
            self._sql2nl_t0 = time.perf_counter()
            return super().train(*args, **kwargs)

        def log(self, logs, *args, **kwargs):
            if hasattr(self, "_sql2nl_t0"):
                logs["elapsed_s"] = round(time.perf_counter() - self._sql2nl_t0, 3)
            return super().log(logs, *args, **kwargs)

        def training_step(self, model, inputs, *args, **kwargs):
            if self.sql2nl_options.data_order_dir:
                self._log_examples(inputs)
            return super().training_step(model, inputs, *args, **kwargs)

        def _log_examples(self, inputs) -> None:
            step = self.state.global_step + 1
            micro = getattr(self, "_sql2nl_micro", (0, -1))
            micro = (step, micro[1] + 1 if micro[0] == step else 0)
            self._sql2nl_micro = micro
            path = Path(self.sql2nl_options.data_order_dir or ".") / f"rank-{self.args.process_index}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            rec = {
                "step": step,
                "micro": micro[1],
                "world_size": self.args.world_size,
                "examples": example_hashes(inputs),
            }
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")

    DistributedTrainer.__name__ = DistributedTrainer.__qualname__ = f"Distributed{base.__name__}"
    return DistributedTrainer


def _nccl() -> bool:
    import torch
    import torch.distributed as dist

    return torch.cuda.is_available() and dist.is_available() and dist.is_nccl_available()


_CPU_LOCATIONS: list[bool] = []


def _indexed_cpu_locations() -> None:
    """Let ``torch.load(map_location="cpu:0")`` work: the Trainer maps a resumed optimizer state to
    each process's device, which for gloo (CPU) processes is spelled ``cpu:0``, a name torch.load
    does not know (once per process)."""
    if _CPU_LOCATIONS:
        return
    import torch.serialization

    torch.serialization.register_package(
        99,
        lambda storage: None,
        lambda storage, location: storage if location.startswith("cpu:") and location[4:].isdigit() else None,
    )
    _CPU_LOCATIONS.append(True)


# --- the data-order log -------------------------------------------------------------------------------


def example_hashes(inputs: dict[str, Any]) -> list[str]:
    """A short hash of each example's token ids in a collated batch (packed: split at
    ``cu_seq_lens_q``; padded: each row's tokens under its attention mask)."""
    ids = inputs["input_ids"]
    rows: list[list[int]]
    if inputs.get("cu_seq_lens_q") is not None:
        flat = ids[0].tolist()
        cu = inputs["cu_seq_lens_q"].tolist()
        rows = [flat[a:b] for a, b in zip(cu, cu[1:])]
    else:
        mask = inputs.get("attention_mask")
        rows = (
            [[t for t, m in zip(r, mr) if m] for r, mr in zip(ids.tolist(), mask.tolist())]
            if mask is not None
            else ids.tolist()
        )
    return [hashlib.blake2b(",".join(map(str, r)).encode(), digest_size=6).hexdigest() for r in rows]


def truncate_data_order(run: Path, last_step: int) -> None:
    """Forget the records of steps after ``last_step`` (work lost with an interruption); main process."""
    for f in sorted((run / DATA_ORDER).glob("rank-*.jsonl")):
        keep = [ln for ln in f.read_text(encoding="utf-8").splitlines() if ln and json.loads(ln)["step"] <= last_step]
        tmp = f.with_suffix(".tmp")
        tmp.write_text("".join(ln + "\n" for ln in keep), encoding="utf-8")
        os.replace(tmp, f)


def read_data_order(run: str | Path) -> dict[int, list[str]]:
    """``{step: sorted example hashes}`` over every process of a run trained with ``log_data_order``."""
    steps: dict[int, list[str]] = {}
    for f in sorted((Path(run) / DATA_ORDER).glob("rank-*.jsonl")):
        for ln in f.read_text(encoding="utf-8").splitlines():
            if ln:
                rec = json.loads(ln)
                steps.setdefault(rec["step"], []).extend(rec["examples"])
    return {k: sorted(v) for k, v in sorted(steps.items())}


def copy_run_at(run: str | Path, dest: str | Path, step: int) -> Path:
    """A copy of ``run`` as an interruption right after its checkpoint of ``step`` leaves it (later
    checkpoints removed), to resume, e.g. on another number of GPUs, and compare with ``run``."""
    dest = Path(dest)
    shutil.copytree(run, dest)
    for ck in (dest / "checkpoints").glob("checkpoint-*"):
        if int(ck.name.split("-")[1]) > step:
            shutil.rmtree(ck)
    if not (dest / "checkpoints" / f"checkpoint-{step}").is_dir():
        raise InvalidInputError(f"{run} has no checkpoint of step {step}.")
    return dest
