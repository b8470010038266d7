"""Tiny data and a tiny trained run shared by test_review, test_tune and test_multistage (training part 2)."""

from __future__ import annotations

import json
from pathlib import Path

GENERAL = [
    {"sql": "SELECT name FROM customers WHERE city = 'Paris'", "description": "List the names of customers who live in Paris.", "db_id": "shop"},
    {"sql": "SELECT count(*) FROM orders", "description": "How many orders are there?", "db_id": "shop"},
    {"sql": "SELECT product, sum(amount) FROM orders GROUP BY product", "description": "Show the total amount ordered for each product.", "db_id": "shop"},
    {"sql": "SELECT name FROM students WHERE age > 18", "description": "List the names of students older than 18.", "db_id": "school"},
    {"sql": "SELECT avg(grade) FROM exams", "description": "What is the average exam grade?", "db_id": "school"},
    {"sql": "SELECT T1.name FROM students AS T1 JOIN exams AS T2 ON T1.id = T2.student_id WHERE T2.grade = 100", "description": "Find the names of students who scored 100 in an exam.", "db_id": "school"},
]
VALID = [
    {"sql": "SELECT title FROM songs WHERE year < 1990", "description": "List the titles of songs released before 1990.", "db_id": "music"},
    {"sql": "SELECT genre, count(*) FROM songs GROUP BY genre", "description": "Count the songs in each genre.", "db_id": "music"},
    {"sql": "SELECT name FROM singers UNION SELECT name FROM bands", "description": "List the names of all singers and bands.", "db_id": "music"},
    {"sql": "SELECT max(price) FROM albums", "description": "What is the highest album price?", "db_id": "music"},
    {"sql": "SELECT name FROM bands WHERE country = 'UK' ORDER BY name", "description": "List the names of bands from the UK in alphabetical order.", "db_id": "music"},
]
# a "team's own" second-stage set over another schema
OURS = [
    {"sql": "SELECT title FROM tickets WHERE status = 'open'", "description": "List the titles of open tickets.", "db_id": "helpdesk"},
    {"sql": "SELECT count(*) FROM tickets WHERE priority = 'high'", "description": "How many high priority tickets are there?", "db_id": "helpdesk"},
    {"sql": "SELECT agent, count(*) FROM tickets GROUP BY agent", "description": "Count the tickets of each agent.", "db_id": "helpdesk"},
    {"sql": "SELECT name FROM agents WHERE team = 'billing'", "description": "List the names of agents in the billing team.", "db_id": "helpdesk"},
]


def write_jsonl(rows, path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def tiny_config(**kw):
    """A scratch:tiny config that trains in seconds on a CPU (plain PEFT: no Unsloth start-up cost)."""
    from sql2nl_training import TrainConfig

    base = dict(base="scratch:tiny", engine="peft", max_steps=4, batch_size=3, learning_rate=5e-3, lora_r=8,
                lora_alpha=16, warmup_ratio=0.0, max_seq_length=256, save_steps=100, logging_steps=1, seed=0)
    return TrainConfig(**{**base, **kw})


def tiny_run(tmp: Path, name: str = "run", **kw) -> Path:
    """Train ``scratch:tiny`` for a few steps on :data:`GENERAL`, validated on :data:`VALID`."""
    from sql2nl_training import train

    data = write_jsonl(GENERAL, tmp / "general.jsonl")
    valid = write_jsonl(VALID, tmp / "valid.jsonl")
    return train(tiny_config(data=str(data), valid=str(valid), out=str(tmp / name), **kw), progress=False)
