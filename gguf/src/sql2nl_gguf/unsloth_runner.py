"""Run Unsloth's GGUF exporter in a child process: ``python -m sql2nl_gguf.unsloth_runner MODEL SAVE_DIR QUANTS RESULT``.

A child process because importing Unsloth patches transformers process-wide and because Unsloth
reads ``UNSLOTH_LLAMA_CPP_PATH`` when it is imported; the parent sets the environment
(see :func:`sql2nl_gguf.unsloth_export.unsloth_env`) and reads the JSON written to RESULT.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    model_dir, save_dir, quants, result = argv
    import torch
    import unsloth  # noqa: F401  (must come before transformers' models are loaded)
    from transformers import AutoConfig
    from unsloth import FastLanguageModel

    # Load in the checkpoint's own dtype: Unsloth's CPU default (bf16) would round fp32 weights before
    # conversion, and the f16 GGUF would no longer match the model it claims to be.
    cfg = AutoConfig.from_pretrained(model_dir)
    dtype = getattr(cfg, "dtype", None) or getattr(cfg, "torch_dtype", None)
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_dir, load_in_4bit=False, load_in_8bit=False, full_finetuning=False, dtype=dtype or torch.float32
    )
    out = model.save_pretrained_gguf(save_dir, tokenizer, quantization_method=quants.split(","))
    # The GPU exporter returns a dict with "gguf_files"; Unsloth's CPU exporter returns the list of paths.
    if isinstance(out, dict):
        keep = {k: v for k, v in out.items() if isinstance(v, (str, list, bool, type(None)))}
    else:
        keep = {"gguf_files": [str(p) for p in out or []]}
    with open(result, "w", encoding="utf-8") as f:
        json.dump(keep, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
