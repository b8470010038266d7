"""Tiny data and a tiny trained run shared by test_review, test_tune and test_multistage (training part 2)."""

from __future__ import annotations

import json
from pathlib import Path

from training_pairs import MUSIC, MUSIC_MORE, SHOP_SCHOOL

GENERAL = [dict(p) for p in SHOP_SCHOOL]
VALID = [dict(p) for p in MUSIC + MUSIC_MORE]
# a "team's own" second-stage set over another schema
OURS = [
    {
        "sql": "SELECT title FROM tickets WHERE status = 'open'",
        "description": "List the titles of open tickets.",
        "db_id": "helpdesk",
    },
    {
        "sql": "SELECT count(*) FROM tickets WHERE priority = 'high'",
        "description": "How many high priority tickets are there?",
        "db_id": "helpdesk",
    },
    {
        "sql": "SELECT agent, count(*) FROM tickets GROUP BY agent",
        "description": "Count the tickets of each agent.",
        "db_id": "helpdesk",
    },
    {
        "sql": "SELECT name FROM agents WHERE team = 'billing'",
        "description": "List the names of agents in the billing team.",
        "db_id": "helpdesk",
    },
]


def write_jsonl(rows, path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def tiny_config(**kw):
    """A scratch:tiny config that trains in seconds on a CPU (plain PEFT: no Unsloth start-up cost)."""
    from sql2nl_training import TrainConfig

    base = dict(
        base="scratch:tiny",
        engine="peft",
        max_steps=4,
        batch_size=3,
        learning_rate=5e-3,
        lora_r=8,
        lora_alpha=16,
        warmup_ratio=0.0,
        max_seq_length=256,
        save_steps=100,
        logging_steps=1,
        seed=0,
    )
    return TrainConfig(**{**base, **kw})


def tiny_run(tmp: Path, name: str = "run", **kw) -> Path:
    """Train ``scratch:tiny`` for a few steps on :data:`GENERAL`, validated on :data:`VALID`."""
    from sql2nl_training import train

    data = write_jsonl(GENERAL, tmp / "general.jsonl")
    valid = write_jsonl(VALID, tmp / "valid.jsonl")
    return train(tiny_config(data=str(data), valid=str(valid), out=str(tmp / name), **kw), progress=False)
