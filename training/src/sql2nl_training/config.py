"""The training configuration: one dataclass, saved as JSON beside every run (peft's style).

>>> cfg = TrainConfig(base="scratch:tiny", data="pairs.json", out="runs/x", max_steps=10)
>>> TrainConfig.from_dict(cfg.to_dict()) == cfg
True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from sql2nl.errors import InvalidInputError
from sql2nl.prompt import LANGUAGES

ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ENGINES = ("auto", "unsloth", "peft")


@dataclass
class TrainConfig:
    """Everything a training run depends on. ``sql2nl train`` exposes each field as ``--field-name``."""

    base: str = field(
        default="scratch:tiny",
        metadata={
            "help": "Base model: a hub id, a local HF model dir, gguf:<file.gguf> (dequantized once, cached by the file's hash), or scratch:<tiny|mini|small|base>."
        },
    )
    data: str = field(
        default="",
        metadata={"help": "Training pairs: seed JSON list, JSONL, CSV, Spider/WikiSQL file, or hf:<dataset name>."},
    )
    out: str = field(
        default="", metadata={"help": "Run directory to create (adapter, merged model, manifest, report)."}
    )
    from_run: str | None = field(
        default=None,
        metadata={
            "help": "Multi-stage: start from this earlier run's merged model (instead of --base) with fresh LoRA adapters and this config; the manifest keeps the lineage."
        },
    )
    valid: str | None = field(
        default=None,
        metadata={"help": "Validation pairs; default: split valid_fraction of the databases off the training data."},
    )
    valid_fraction: float = field(
        default=0.1, metadata={"help": "Share of databases held out for validation when --valid is not given."}
    )
    tables: str | None = field(
        default=None, metadata={"help": "Spider/WikiSQL tables file (schema hints in prompts; synthetic data)."}
    )
    synthetic: int = field(
        default=0,
        metadata={"help": "Add this many synthetic pairs generated from --tables with the rules describer as teacher."},
    )
    rename_augment: float = field(
        default=0.0,
        metadata={"help": "Add this share of extra pairs with tables/columns renamed consistently in SQL and text."},
    )
    repair_targets: bool = field(
        default=False,
        metadata={
            "help": "Append what a training description leaves out (a filter value, limit, ordering, negation...) from the rules describer's text for the same SQL, where one of its clauses says it (English)."
        },
    )
    drop_unfaithful: bool = field(
        default=False,
        metadata={
            "help": "Drop training pairs whose description (after any repair) still leaves out or contradicts something that changes the result, by sql2nl's checker; paraphrased table and column names do not count."
        },
    )
    rules_teacher: float = field(
        default=0.0,
        metadata={
            "help": "Add a rules-describer target (question style) for this share of the training statements, those people described unfaithfully first."
        },
    )
    languages: list[str] = field(
        default_factory=lambda: ["en"],
        metadata={"help": "Target languages; zh targets for synthetic pairs come from the rules describer."},
    )
    engine: str = field(default="auto", metadata={"help": "auto (Unsloth if it imports, else PEFT), unsloth, or peft."})
    load_in_4bit: bool = field(
        default=False, metadata={"help": "Load the base model in 4-bit (QLoRA; needs bitsandbytes and a GPU)."}
    )
    max_seq_length: int = field(
        default=1024,
        metadata={"help": "Longest prompt+description in tokens; longer examples are counted and skipped."},
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha (scale = alpha / r)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    target_modules: list[str] = field(
        default_factory=lambda: list(ALL_LINEAR),
        metadata={"help": "Modules that get LoRA adapters (default: all linear layers)."},
    )
    train_embeddings: bool | None = field(
        default=None,
        metadata={"help": "Also train embed_tokens and lm_head fully (default: on for scratch models, off otherwise)."},
    )
    epochs: float = field(default=1.0, metadata={"help": "Passes over the training data (ignored when max_steps > 0)."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimizer steps (-1: use epochs)."})
    batch_size: int = field(
        default=8, metadata={"help": "Examples per device per step (padding-free, so no tokens are wasted on padding)."}
    )
    grad_accum: int = field(default=1, metadata={"help": "Gradient accumulation steps."})
    global_batch: int = field(
        default=0,
        metadata={
            "help": "Examples per optimizer step over all processes; 0: batch_size x processes x grad_accum at the start. Saved with the run: a resume on another number of GPUs keeps it, each process then taking global_batch / processes examples per step in micro-batches of at most batch_size (gradient accumulation makes up the rest)."
        },
    )
    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate."})
    warmup_ratio: float = field(default=0.03, metadata={"help": "Share of steps spent warming up the learning rate."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    lr_scheduler: str = field(
        default="linear", metadata={"help": "Learning-rate schedule (any transformers scheduler name)."}
    )
    padding_free: bool = field(
        default=True,
        metadata={
            "help": "Pack each batch into one row without padding (position_ids and cu_seq_lens keep the examples apart); off: TRL's padded batches."
        },
    )
    save_steps: int = field(default=50, metadata={"help": "Write a checkpoint every this many steps (and on SIGTERM)."})
    save_total_limit: int = field(default=2, metadata={"help": "Keep at most this many checkpoints."})
    logging_steps: int = field(default=5, metadata={"help": "Log the loss every this many steps."})
    eval_steps: int = field(
        default=0, metadata={"help": "Compute the validation loss every this many steps (0: only at the end)."}
    )
    log_data_order: bool = field(
        default=False,
        metadata={
            "help": "Write RUN/data_order/rank-N.jsonl: a hash of every example each process trained on, step by step (to check that a resumed run saw what an uninterrupted one would)."
        },
    )
    max_minutes: float = field(
        default=0.0, metadata={"help": "Stop (with a checkpoint) after this many minutes of training; 0: no limit."}
    )
    seed: int = field(default=0, metadata={"help": "Random seed (data split, shuffling, initialisation)."})
    bf16: bool | None = field(
        default=None, metadata={"help": "Train in bfloat16 (default: on where the GPU supports it)."}
    )
    compile: bool = field(
        default=False,
        metadata={
            "help": "torch.compile each decoder layer (CUDA, PEFT engine): fewer, fused kernels; the first steps pay for compiling."
        },
    )
    gradient_checkpointing: bool = field(
        default=False,
        metadata={
            "help": "Recompute activations in the backward pass instead of keeping them: much less memory, about a third more compute for each checkpointed layer (engine unsloth: Unsloth's offloaded checkpointing)."
        },
    )
    checkpoint_layers: float = field(
        default=1.0,
        metadata={
            "help": "With gradient_checkpointing: the share of decoder layers that are checkpointed (0-1]; the others keep their activations and skip the recompute, trading the memory left over for speed. PEFT engine; Unsloth checkpoints every layer."
        },
    )
    ddp_bucket_mb: int = field(
        default=25,
        metadata={
            "help": "Several GPUs: DDP's gradient bucket size in MB (each bucket's all-reduce starts as soon as its gradients are ready, during the backward pass)."
        },
    )
    ddp_static_graph: bool = field(
        default=False,
        metadata={
            "help": "Several GPUs: tell DDP the graph is the same every step (true for LoRA; lets it skip per-step bookkeeping)."
        },
    )
    ddp_bf16_grads: bool = field(
        default=False,
        metadata={
            "help": "Several GPUs: all-reduce the gradients in bfloat16 (half the bytes; the adapters' gradients are fp32)."
        },
    )

    def __post_init__(self):
        def bad(name, why):
            raise InvalidInputError(f"Invalid training config: {name} {why}.")

        if self.engine not in ENGINES:
            bad("engine", f"must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if isinstance(self.languages, str):
            self.languages = [x.strip() for x in self.languages.split(",") if x.strip()]
        if not self.languages or any(lang not in LANGUAGES for lang in self.languages):
            bad("languages", f"must be a non-empty subset of {', '.join(LANGUAGES)}, not {self.languages!r}")
        if isinstance(self.target_modules, str):
            self.target_modules = [x.strip() for x in self.target_modules.split(",") if x.strip()]
        if not self.target_modules:
            bad("target_modules", "must name at least one module")
        for name in (
            "lora_r",
            "lora_alpha",
            "batch_size",
            "grad_accum",
            "max_seq_length",
            "save_steps",
            "save_total_limit",
            "logging_steps",
            "ddp_bucket_mb",
        ):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                bad(name, f"must be a positive integer, not {getattr(self, name)!r}")
        if not 0 <= self.lora_dropout < 1:
            bad("lora_dropout", "must be in [0, 1)")
        if not 0 < self.valid_fraction < 1:
            bad("valid_fraction", "must be between 0 and 1")
        if not 0 < self.checkpoint_layers <= 1:
            bad("checkpoint_layers", "must be in (0, 1]: the share of decoder layers to checkpoint")
        if not 0 <= self.rename_augment <= 1:
            bad("rename_augment", "must be between 0 and 1")
        if not 0 <= self.rules_teacher <= 1:
            bad("rules_teacher", "must be between 0 and 1")
        if self.learning_rate <= 0:
            bad("learning_rate", "must be positive")
        if self.max_steps == 0 or self.max_steps < -1:
            bad("max_steps", "must be -1 (use epochs) or a positive number of steps")
        if self.max_steps == -1 and self.epochs <= 0:
            bad("epochs", "must be positive when max_steps is -1")
        for name in ("global_batch", "eval_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                bad(name, f"must be 0 or a positive integer, not {getattr(self, name)!r}")
        if self.max_minutes < 0:
            bad("max_minutes", "cannot be negative")
        if self.synthetic < 0:
            bad("synthetic", "cannot be negative")
        if self.from_run and self.out and Path(self.from_run).resolve() == Path(self.out).resolve():
            bad("from_run", "must be another run than --out")
        if self.synthetic and not self.tables:
            bad("synthetic", "needs --tables (a schema to generate queries from)")

    @property
    def is_scratch(self) -> bool:
        return self.base.startswith("scratch:")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(
                f"Unknown training config field(s): {', '.join(unknown)}. Known fields: {', '.join(sorted(known))}."
            )
        return cls(**data)

    @classmethod
    def from_json(cls, path: str | Path) -> "TrainConfig":
        """Read a config (or a recipe) saved as JSON. Keys starting with ``_`` are comments."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInputError(f"Config file {path} does not exist.") from None
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"Config file {path} is not valid JSON: {e}.") from None
        return cls.from_dict({k: v for k, v in data.items() if not k.startswith("_")})
