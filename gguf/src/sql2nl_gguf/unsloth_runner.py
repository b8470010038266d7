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
    import unsloth  # noqa: F401  (must come before transformers' models are loaded)
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(model_dir, load_in_4bit=False, load_in_8bit=False,
                                                         full_finetuning=False, dtype=None)
    out = model.save_pretrained_gguf(save_dir, tokenizer, quantization_method=quants.split(","))
    keep = {k: v for k, v in (out or {}).items() if isinstance(v, (str, list, bool, type(None)))}
    with open(result, "w", encoding="utf-8") as f:
        json.dump(keep, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
