"""The ``transformers`` backend's options, declared once (light: importing this loads no torch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sql2nl.llm import LLMOptions
from sql2nl.options import option

_AUTO = "'auto' follows compile (on for CUDA)"


@dataclass
class TransformersOptions(LLMOptions):
    """Options of :class:`~sql2nl_transformers.backend.TransformersBackend` (plus the guard's and sampling's)."""

    model: str | None = option(None, "Hub id, model directory, merged directory or training run directory.")
    adapter: str | None = option(None, "PEFT LoRA adapter directory, applied to model.")
    device: str = option("auto", "Device: auto (CUDA if present), cpu, cuda, cuda:1...")
    dtype: str = option("auto", "Weights' dtype: auto (bf16 on GPU, fp32 on CPU), float32, bfloat16, float16.")
    compile: bool | Literal["auto"] = option(
        "auto", "Compile the decode step with torch.compile and CUDA graphs (auto: on for CUDA).", changes_text=False
    )
    static_cache: bool | Literal["auto"] = option("auto", f"Static KV cache ({_AUTO}).", changes_text=False)
    fast_decode: bool | Literal["auto"] = option(
        "auto",
        f"The backend's own decode loop instead of HF generate ({_AUTO}; needs the static cache).",
        changes_text=False,
    )
    batch_size: int = option(32, "Largest batch generated at once.", changes_text=False, minimum=1)
    merge_adapter: bool = option(True, "Merge the LoRA adapter into the weights at load (faster).", changes_text=False)
