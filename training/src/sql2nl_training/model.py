"""The model a run trains: the base loaded (Hugging Face id, local directory, ``gguf:FILE`` or a
``scratch:SIZE`` model built from the run's own text), LoRA adapters on it, gradient checkpointing
on a share of the layers, and the SFT arguments every engine shares. Used by :mod:`.finetune`
and by the training benchmarks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sql2nl.errors import InvalidInputError, ModelError
from sql2nl.prompt import build_messages, render_prompt
from sql2nl.rundir import atomic_dir

from .config import TrainConfig
from .data import Pair

EMBEDDINGS = ["embed_tokens", "lm_head"]


def _dtype(config: TrainConfig):
    import torch

    if config.bf16 is not None:
        return torch.bfloat16 if config.bf16 else torch.float32
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_model(base: str, config: TrainConfig, engine: str, build=None):
    """The base model with fresh LoRA adapters, and its tokenizer.

    ``build(**kw)`` (PEFT engine), if given, makes the base model instead of ``from_pretrained``,
    with the same keywords (dtype, attention); the GPU benchmark builds random weights with it.
    """
    train_emb = config.train_embeddings if config.train_embeddings is not None else config.is_scratch
    extra: dict[str, Any] = {"modules_to_save": EMBEDDINGS} if train_emb else {}
    from transformers import set_seed

    # the adapters' random initialisation depends on the seed alone, not on what this process did
    # before (a GGUF base dequantized just now or read from the cache; one process or several)
    set_seed(config.seed)
    try:
        if engine == "unsloth":
            from unsloth import FastLanguageModel

            model, tok = FastLanguageModel.from_pretrained(
                model_name=base,
                max_seq_length=config.max_seq_length,
                dtype=_dtype(config),
                load_in_4bit=config.load_in_4bit,
            )
            model = FastLanguageModel.get_peft_model(
                model,
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                lora_dropout=config.lora_dropout,
                target_modules=list(config.target_modules),
                bias="none",
                random_state=config.seed,
                use_gradient_checkpointing="unsloth" if config.gradient_checkpointing else False,
                **extra,
            )
        else:
            import torch
            from peft import LoraConfig, get_peft_model
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tok = AutoTokenizer.from_pretrained(base)
            kw: dict[str, Any] = {"dtype": _dtype(config)}
            if config.padding_free:  # packed rows: varlen flash attention on CUDA, per-example SDPA elsewhere
                from .packing import register_varlen_attention

                kw["attn_implementation"] = register_varlen_attention()
            if config.load_in_4bit:
                from transformers import BitsAndBytesConfig

                kw["quantization_config"] = BitsAndBytesConfig(
                    load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
                )
            model = build(**kw) if build is not None else AutoModelForCausalLM.from_pretrained(base, **kw)
            if config.gradient_checkpointing:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
                model.enable_input_require_grads()
                checkpoint_share(model, config.checkpoint_layers)
            lcfg = LoraConfig(
                task_type="CAUSAL_LM",
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                lora_dropout=config.lora_dropout,
                target_modules=list(config.target_modules),
                bias="none",
                **extra,
            )
            model = get_peft_model(model, lcfg)
            if _has_cuda() and kw["dtype"] != torch.float32:
                _keep_activations_in_half(model)
            if config.compile and _has_cuda() and not config.load_in_4bit:  # bitsandbytes layers do not compile
                from .packing import compile_layers

                compile_layers(model)
    except (OSError, ValueError) as e:
        raise ModelError(
            f"Could not load the base model {base!r}: {e}. Give a hub id (online), a local "
            "Hugging Face model directory, gguf:<file.gguf>, or scratch:<size>."
        ) from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok


def checkpoint_share(model, share: float) -> None:
    """Keep gradient checkpointing on the first ``ceil(share * n)`` decoder layers only; the others
    store their activations and skip the recompute (a third of their step's compute). Which layers
    does not matter for the peak: every activation is alive at the end of the forward pass.
    """
    from transformers.modeling_layers import GradientCheckpointingLayer

    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    keep = math.ceil(share * len(layers))
    for i, layer in enumerate(layers):
        layer.gradient_checkpointing = i < keep


def sft_args(**kw):
    """TRL's ``SFTConfig`` as the pipeline trains with it (``train`` and the GPU benchmark): loss on
    the description only, no reporting services, and gradient checkpointing left to
    :func:`load_model` — TRL's default (on) would have the Trainer checkpoint every layer whatever
    the config says."""
    from trl import SFTConfig

    return SFTConfig(completion_only_loss=True, gradient_checkpointing=False, report_to=[], **kw)


def _keep_activations_in_half(model) -> None:
    """Adapters stay fp32 (PEFT's default, precise updates) and the Trainer's autocast runs their
    matmuls in bf16; without this PEFT first copies every activation to fp32 for each adapter, a
    fifth of the GPU time of an 8B LoRA step in the H100 profile."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    for m in model.modules():
        if isinstance(m, BaseTunerLayer):
            m.cast_input_dtype_enabled = False  # type: ignore[attr-defined]  # set by each PEFT layer class, not declared on the base


def build_scratch(config: TrainConfig, train: list[Pair], out: Path) -> Path:
    """``scratch:<size>``: a random-weight Llama with a tokenizer trained on the rendered examples."""
    from . import scratch

    size = config.base.split(":", 1)[1] or "tiny"
    if size not in scratch.SIZES:
        raise InvalidInputError(f"Unknown scratch size {size!r}; choose one of {', '.join(scratch.SIZES)}.")
    texts = [
        render_prompt(build_messages(p.sql, language=p.language, detail=p.detail, style=p.style)) + p.description
        for p in train
    ]
    with atomic_dir(out) as tmp:
        scratch.build(size, texts, tmp, seed=config.seed, max_positions=max(2048, config.max_seq_length))
    return out


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()
