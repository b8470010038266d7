"""The ``llamacpp`` backend's options, declared once (light: importing this loads no llama_cpp)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sql2nl.llm import LLMOptions
from sql2nl.options import option


@dataclass
class LlamaCppOptions(LLMOptions):
    """Options of :class:`~sql2nl_llamacpp.backend.LlamaCppBackend` (plus the guard's and sampling's)."""

    model: str | None = option(None, "A .gguf file, a training run directory or an export directory (required).")
    quant: str | None = option(None, "Which GGUF of a directory to use (default: q8_0, else q4_k_m, else f16).")
    # The context bounds how many tokens can be generated after a long prompt: it can change the text.
    n_ctx: int | None = option(None, "Context window in tokens (default: the model's, at most 4096).", minimum=1)
    n_threads: int | None = option(
        None,
        "CPU threads (default: llama.cpp's choice; in a worker of --workers N, its share of the CPUs).",
        changes_text=False,
        minimum=1,
    )
    n_gpu_layers: int = option(0, "Layers offloaded to the GPU (-1: all).", changes_text=False, minimum=-1)
    n_batch: int = option(512, "Prompt tokens evaluated per batch.", changes_text=False, minimum=1)
    chat_template: str | None = option(None, "A Jinja chat template to use instead of the one in the GGUF.")
    lora: str | None = option(None, "A GGUF LoRA adapter for the model (sql2nl export --lora-gguf), applied at load.")
    verbose: bool = option(False, "Let llama.cpp log to stderr.", changes_text=False)
    # Other CPU kernels may round differently, so it counts as changing the text (cache key).
    extra_buffers: bool | Literal["auto", "on", "off"] | None = option(
        None,
        "llama.cpp's extra CPU buffer types (AMX, repacked weights): auto (off on CPUs with AMX, where they "
        "crash), on, off; null: $SQL2NL_LLAMA_EXTRA_BUFFERS, else auto.",
    )
