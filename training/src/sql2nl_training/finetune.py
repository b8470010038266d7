"""Fine-tuning: data → one causal sequence per pair (the core's prompt) → LoRA with Unsloth or PEFT.

>>> from sql2nl_training import TrainConfig, train            # doctest: +SKIP
>>> run = train(TrainConfig(base="scratch:tiny", data="pairs.json", out="runs/t", max_steps=20))

The model sees exactly what the backends later give it: ``sql2nl.prompt.training_example`` renders
the prompt through the tokenizer's chat template (the plain format for scratch models) and the
completion is the description plus EOS. TRL's SFT trainer trains on batches packed without padding
(:mod:`.packing`: position_ids and cu_seq_lens keep the examples apart) with the loss, and the LM
head, on the description tokens only.

Works under ``torchrun``/``accelerate launch``: the HF Trainer does DDP; only rank 0 writes files.
SIGTERM makes the trainer write a checkpoint at the end of the current step and stop; ``resume=True``
continues from the last checkpoint with optimizer, scheduler, RNG and data position restored.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from sql2nl.errors import InvalidInputError, Sql2NLError
from sql2nl.prompt import PROMPT_VERSION, training_example
from sql2nl.rundir import MANIFEST, RUN_FORMAT, atomic_dir, atomic_write_json, atomic_write_text, is_run, read_manifest

from .config import TrainConfig
from .data import Pair, databases, dedupe, load_pairs, split_by_database, write_jsonl
from .distributed import (
    DATA_ORDER,
    DistributedOptions,
    distributed_trainer_class,
    global_batch_of,
    one_device_per_process,
    trainer_args,
    truncate_data_order,
)
from .engines import choose_engine, resolve_engine  # noqa: F401  (resolve_engine: still importable from here)
from .figures import save_figure
from .gguf_base import is_gguf_base
from .gguf_base import prepare as prepare_gguf
from .model import _dtype, _has_cuda, build_scratch, checkpoint_share, load_model, sft_args  # noqa: F401  (load_model, sft_args: importable from here)

EMBEDDINGS = ["embed_tokens", "lm_head"]


class TrainingInterrupted(Sql2NLError):
    """Training stopped on a signal after writing a checkpoint; ``sql2nl train --out RUN --resume`` continues."""


# --- data -----------------------------------------------------------------------------------------


def prepare_data(config: TrainConfig, log=print) -> tuple[list[Pair], list[Pair], dict[str, Any]]:
    """Read, check, split and augment the data as ``config`` says; returns (train, valid, summary).

    Everything that adds or changes pairs (target repair and filtering, rules-teacher pairs,
    synthetic pairs, renaming) happens after the split and to the training half only, and
    synthetic queries are written over the training databases only: validation stays as people
    wrote it, over schemas the model has not seen (when the split is by database).
    """
    lang = config.languages[0]
    ds = load_pairs(config.data, tables=config.tables, language=lang)
    log(ds.summary())
    pairs = list(ds.pairs)
    summary: dict[str, Any] = {
        "source": ds.source,
        "read": len(ds.pairs),
        "bad_rows": len(ds.bad),
        "bad_examples": [f"{w}: {why}" for w, why in ds.bad[:5]],
        "duplicates": ds.duplicates,
    }
    if config.valid:
        vds = load_pairs(config.valid, tables=config.tables, language=lang)
        log(vds.summary())
        valid = vds.pairs
        vgroups = {p.db_id for p in valid if p.db_id}
        shared = sorted({p.db_id for p in pairs if p.db_id in vgroups})
        if shared:  # the user chose this split; say so, but keep their data
            log(
                f"note: {len(shared)} database(s) appear in both the training and the validation file "
                f"(e.g. {shared[0]}); validation scores will be optimistic"
            )
        summary["shared_databases"] = len(shared)
        train = pairs
    else:
        train, valid = split_by_database(pairs, config.valid_fraction, config.seed)
    if config.repair_targets or config.drop_unfaithful or config.rules_teacher:
        from .targets import improve

        train, summary["targets"] = improve(
            train,
            repair_targets=config.repair_targets,
            drop_unfaithful=config.drop_unfaithful,
            rules_teacher=config.rules_teacher,
            seed=config.seed,
        )
        log(f"training targets: {summary['targets']}")
    if config.synthetic:
        from .synthetic import from_spider_tables, generate_many

        # databases only validation has (all of them, split by database) get no synthetic queries;
        # where training and validation share databases (a --valid file that overlaps), nothing is hidden
        held_out = set(databases(valid)) - set(databases(train))
        specs = [s for s in from_spider_tables(config.tables or "") if s.name not in held_out]  # set: __post_init__
        syn = (
            generate_many(specs, config.synthetic, seed=config.seed, languages=tuple(config.languages)) if specs else []
        )
        summary["synthetic"] = len(syn)
        train = train + syn
    if config.rename_augment:
        from .synthetic import augment

        extra = augment(train, config.rename_augment, seed=config.seed)
        summary["renamed"] = len(extra)
        train = train + extra
    train, dropped = dedupe(train)
    summary.update(train=len(train), valid=len(valid), duplicates=summary["duplicates"] + dropped)
    if not train:
        raise InvalidInputError("No training pairs are left after checking and splitting the data.")
    return train, valid, summary


def examples(pairs: list[Pair], tokenizer, max_len: int) -> tuple[list[dict[str, str]], int]:
    """Prompt/completion rows for TRL; pairs longer than ``max_len`` tokens are counted and skipped."""
    rows, skipped = [], 0
    for p in pairs:
        ex = training_example(
            p.sql, p.description, language=p.language, tokenizer=tokenizer, detail=p.detail, style=p.style
        )
        n = len(tokenizer(ex["prompt"] + ex["completion"], add_special_tokens=False)["input_ids"])
        if n > max_len:
            skipped += 1
            continue
        rows.append(ex)
    return rows, skipped


# --- signals --------------------------------------------------------------------------------------


class _StopOnSignal:
    """SIGTERM/SIGINT → checkpoint at the end of the current step, then stop (see :func:`train`)."""

    def __init__(self):
        self.received: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum, frame):
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C really stops
        self.received = signum

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def callback(self, max_minutes: float = 0.0):
        from transformers import TrainerCallback

        stopper = self
        started = time.monotonic()

        class Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                if stopper.received is not None:
                    control.should_save = True
                    control.should_training_stop = True
                elif max_minutes and time.monotonic() - started > 60 * max_minutes:
                    control.should_save = True  # a time budget ends the run normally
                    control.should_training_stop = True
                return control

        return Callback()


# --- artifacts ------------------------------------------------------------------------------------


def last_checkpoint(run_dir: Path) -> Path | None:
    ckpts = [p for p in (run_dir / "checkpoints").glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    return max(ckpts, key=lambda p: int(p.name.split("-")[-1])) if ckpts else None


def plot_loss(log_history: list[dict[str, Any]], path: Path) -> Path | None:
    """The training (and validation) loss curve as a PNG."""
    pts = [(h["step"], h["loss"]) for h in log_history if "loss" in h and "step" in h]
    if not pts:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(*zip(*pts), label="training loss")
    ev = [(h["step"], h["eval_loss"]) for h in log_history if "eval_loss" in h]
    if ev:
        ax.plot(*zip(*ev), "o", label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (description tokens)")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def _report(run: Path, config: TrainConfig, manifest: dict[str, Any]) -> str:
    m = manifest.get("metrics", {})
    d = manifest.get("data", {})
    lines = [
        f"# Training run `{run.name}`",
        "",
        f"- base model: `{manifest['base_model']}` (engine: {manifest.get('engine')})",
        f"- prompt format: `{manifest['prompt_version']}`; languages: {', '.join(manifest['languages'])}",
        *(
            [
                f"- base file: `{bf['file']}` (sha256 `{bf['sha256']}`, {bf['architecture']}, EOS `{bf['eos']}`, "
                f"PAD `{bf['pad']}`), dequantized once into `{bf['model_dir']}`"
            ]
            if (bf := manifest.get("base_file"))
            else []
        ),
        f"- data: {d.get('train', 0)} training / {d.get('valid', 0)} validation pairs "
        f"({d.get('bad_rows', 0)} bad rows refused, {d.get('duplicates', 0)} duplicates removed, "
        f"{d.get('too_long', 0)} too long)",
    ]
    for ex in d.get("bad_examples", []):
        lines.append(f"  - refused: {ex}")
    if config.from_run:
        lines.append(
            f"- stage {len(manifest.get('stages', [])) + 1}: continues `{config.from_run}` "
            "(lineage in manifest.json `stages`; `sql2nl compare` scores every stage on the same data)"
        )
    lines += [
        f"- LoRA r={config.lora_r}, alpha={config.lora_alpha} on {', '.join(config.target_modules)}",
        f"- steps: {m.get('steps')}, final training loss: {m.get('train_loss')}, "
        f"validation loss: {m.get('eval_loss')}, time: {m.get('train_seconds')} s "
        f"({m.get('useful_tok_s')} useful tokens/s)",
        "",
    ]
    if (run / "loss.png").exists():
        lines += ["![loss curve](loss.png)", ""]
    lines += ["```json", json.dumps(config.to_dict(), indent=2), "```", ""]
    return "\n".join(lines)


# --- the run --------------------------------------------------------------------------------------


def train(config: TrainConfig, *, resume: bool = False, progress: bool = True, log=None, callbacks=()) -> Path:
    """Train as ``config`` says and return the run directory (see :mod:`sql2nl.rundir`).

    Raises :class:`TrainingInterrupted` after a SIGTERM/SIGINT (a checkpoint is written first).
    ``callbacks`` are extra ``transformers.TrainerCallback`` objects (``sql2nl tune`` reports and prunes through one).
    ``config.from_run`` continues an earlier run (multi-stage; see :mod:`sql2nl_training.stages`).
    """
    from accelerate import PartialState

    if not config.out:
        raise InvalidInputError("Training needs an output directory (--out).")
    if not config.data:
        raise InvalidInputError("Training needs data (--data).")
    run = Path(config.out).resolve()
    # One shared state with the Trainer: on a host without CUDA, cpu=True makes torchrun processes a
    # MULTI_CPU (gloo) group; a plain PartialState() would fix every process as rank 0 of 1.
    state = PartialState(cpu=not _has_cuda())
    main = state.is_main_process
    log = log or (lambda msg: print(msg, file=sys.stderr) if main else None)
    if resume:
        if not (run / "config.json").is_file():
            raise InvalidInputError(f"Nothing to resume in {run}: it has no config.json. Start without --resume.")
        config = TrainConfig.from_json(run / "config.json")
        config.out = str(run)
    elif is_run(run) or last_checkpoint(run):
        raise InvalidInputError(f"{run} already holds a run. Pass --resume to continue it, or choose another --out.")
    # The global batch is the run's; the number of processes only decides how it is split (an
    # InvalidInputError here, before any work, when it cannot be split evenly).
    config.global_batch = global_batch_of(
        config, state.num_processes, read_manifest(run).get("world_size") if resume and is_run(run) else None
    )
    batch_args = trainer_args(config, state.num_processes, config.global_batch)
    state.wait_for_everyone()  # every process has checked before the main one writes anything

    choice = choose_engine(config.engine, log if main else None)  # before transformers/TRL are imported below
    engine = choice["used"]
    if resume and (run / "data" / "train.jsonl").is_file() and is_run(run):
        # the exact pairs the run started with, even if the source file changed since
        train_pairs = load_pairs(run / "data" / "train.jsonl").pairs
        vfile = run / "data" / "valid.jsonl"
        valid_pairs = load_pairs(vfile).pairs if vfile.stat().st_size else []
        data_summary = read_manifest(run).get("data", {})
    else:
        train_pairs, valid_pairs, data_summary = prepare_data(config, log)
    stages: list[dict[str, Any]] = []
    if config.from_run:  # multi-stage: the earlier run's merged model is this stage's base
        from .stages import starting_point

        if not main:
            state.wait_for_everyone()  # the main process merges first
        config.from_run = str(Path(config.from_run).resolve())
        config.base, stages, earlier = starting_point(config.from_run, log)
        if config.train_embeddings is None:  # a scratch lineage keeps training its embeddings
            config.train_embeddings = bool(
                earlier.get("train_embeddings") or str(earlier.get("base", "")).startswith("scratch:")
            )
        if main:
            state.wait_for_everyone()
    base = config.base
    base_file = None
    if config.is_scratch:
        base = str(run / "base")
        if main and not (run / "base" / "config.json").is_file():
            build_scratch(config, train_pairs, run / "base")
        state.wait_for_everyone()
    elif is_gguf_base(base):  # dequantized once into the cache (main process first; the others then read it)
        if main:
            gguf_base = prepare_gguf(base, log=log)
        state.wait_for_everyone()
        if not main:
            gguf_base = prepare_gguf(base, log=log)
        base, base_file = str(gguf_base.model_dir), gguf_base.to_dict()
    model, tok = load_model(base, config, engine)
    train_rows, too_long = examples(train_pairs, tok, config.max_seq_length)
    valid_rows, _ = examples(valid_pairs, tok, config.max_seq_length)
    data_summary["too_long"] = too_long
    if too_long:
        log(f"{too_long} training pairs are longer than max_seq_length={config.max_seq_length} tokens; skipped")
    if not train_rows:
        raise InvalidInputError(f"Every training pair is longer than max_seq_length={config.max_seq_length}.")

    manifest = {
        "format": RUN_FORMAT,
        "base_model": base,
        "prompt_version": PROMPT_VERSION,
        "languages": sorted({p.language for p in train_pairs} | set(config.languages)),
        "engine": engine,
        "engine_choice": choice,
        "status": "training",
        "config": config.to_dict(),
        "data": data_summary,
        "metrics": {},
        "artifacts": {},
        "stages": stages,
        "world_size": state.num_processes,
        "global_batch": config.global_batch,
        "per_device_batch": batch_args["per_device_train_batch_size"],
        "grad_accum": batch_args["gradient_accumulation_steps"],
    }
    if base_file:
        manifest["base_file"] = base_file
    if main:
        run.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run / "config.json", config.to_dict())
        write_jsonl(train_pairs, run / "data" / "train.jsonl")
        write_jsonl(valid_pairs, run / "data" / "valid.jsonl")
        if resume and is_run(run):
            old = read_manifest(run)
            manifest["stages"] = old.get("stages", [])
        atomic_write_json(run / MANIFEST, manifest)

    from datasets import Dataset as HFDataset

    args = sft_args(
        output_dir=str(run / "checkpoints"),
        # examples over max_seq_length were already counted and skipped; packed batches are built by
        # sql2nl_training.packing, not by TRL, so no max_length and no TRL padding_free here
        max_length=None if config.padding_free else config.max_seq_length,
        padding_free=False,
        **batch_args,
        eval_strategy="steps" if config.eval_steps and valid_rows else "no",
        eval_steps=config.eval_steps or None,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler,
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        data_seed=config.seed,
        disable_tqdm=not progress,
        # use_cpu: without it, on a host without CUDA, the Trainer rebuilds the shared accelerate state
        # as a single process and torchrun's processes would train independently
        use_cpu=not _has_cuda(),
        bf16=_has_cuda() and str(_dtype(config)) == "torch.bfloat16",
    )
    one_device_per_process(args)
    options = DistributedOptions(
        config.global_batch, config.ddp_bf16_grads, str(run / DATA_ORDER) if config.log_data_order else None
    )
    trainer = distributed_trainer_class(_trainer_class(engine, config.padding_free), options)(
        model=model,
        args=args,
        train_dataset=HFDataset.from_list(train_rows),
        eval_dataset=HFDataset.from_list(valid_rows) if valid_rows else None,
        processing_class=tok,
        **_collator(config.padding_free),
    )
    counter = trainer.data_collator = _TokenCounter(trainer.data_collator, trainer.model)
    stopper = _StopOnSignal()
    trainer.add_callback(stopper.callback(config.max_minutes))
    for cb in callbacks:
        trainer.add_callback(cb)
    manifest["world_size"] = trainer.args.world_size
    ckpt = last_checkpoint(run) if resume else None
    if resume and ckpt is None:
        log(f"no checkpoint in {run / 'checkpoints'}; starting from the beginning")
    if resume and main and config.log_data_order:  # steps after the checkpoint were lost: train them again
        truncate_data_order(run, int(ckpt.name.split("-")[-1]) if ckpt else 0)
    state.wait_for_everyone()
    t0 = time.perf_counter()
    with stopper:
        result = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    if stopper.received is not None:
        ck = last_checkpoint(run)
        if main:
            atomic_write_json(run / MANIFEST, {**manifest, "status": "interrupted"})
        raise TrainingInterrupted(
            f"Training stopped by signal {stopper.received} at step "
            f"{trainer.state.global_step}; checkpoint {ck}. Continue with "
            f"`sql2nl train --out {run} --resume`."
        )
    seconds = round(time.perf_counter() - t0, 2)
    metrics: dict[str, Any] = {
        "steps": trainer.state.global_step,
        "train_seconds": seconds,
        "train_loss": _last_loss(trainer.state.log_history),
        "train_runtime_loss": round(result.training_loss, 4),
        # tokens of the examples trained on (no padding counted), this process
        "train_tokens": counter.tokens,
        "useful_tok_s": round(counter.tokens / max(seconds, 1e-9), 1),
    }
    if valid_rows:
        metrics["eval_loss"] = round(trainer.evaluate()["eval_loss"], 4)
    if main:
        with atomic_dir(run / "adapter") as tmp:
            trainer.model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
        plot_loss(trainer.state.log_history, run / "loss.png")
        atomic_write_json(run / "log_history.json", trainer.state.log_history)
        manifest.update(status="done", metrics=metrics, artifacts={"adapter": "adapter"})
        atomic_write_json(run / MANIFEST, manifest)
        atomic_write_text(run / "report.md", _report(run, config, manifest))
    state.wait_for_everyone()
    return run


class _TokenCounter:
    """Wraps the data collator and counts the tokens of the examples of training batches
    (evaluation batches, collated while the model is in eval mode, are not counted)."""

    def __init__(self, inner, model):
        self.inner, self.model, self.tokens = inner, model, 0

    def __call__(self, features):
        if self.model.training:
            self.tokens += sum(len(f["input_ids"]) for f in features)
        return self.inner(features)


def _collator(padding_free: bool) -> dict[str, Any]:
    from .packing import PackedCollator

    return {"data_collator": PackedCollator()} if padding_free else {}


def _trainer_class(engine: str, padding_free: bool = True):
    """TRL's SFT trainer: with packed batches and the description-only loss of :mod:`.packing`
    (the default), or TRL's padded batches; for those, PEFT without CUDA uses the model's own loss
    (TRL's fused LM-head loss is a Triton kernel that needs a GPU; Unsloth brings its own).
    """
    from transformers import Trainer
    from trl import SFTTrainer

    if padding_free:
        from .packing import packed_trainer_class

        return packed_trainer_class(SFTTrainer)
    if engine == "unsloth" or _has_cuda():
        return SFTTrainer

    class CPUSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs = {k: v for k, v in inputs.items() if k not in ("completion_mask", "assistant_masks")}
            return Trainer.compute_loss(
                self, model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )

    return CPUSFTTrainer


def _last_loss(history: list[dict[str, Any]]) -> float | None:
    losses = [h["loss"] for h in history if "loss" in h]
    return round(float(losses[-1]), 4) if losses else None
