"""Training data for a real model: the split by database share, and faithful targets (repair, drop,
rules-teacher pairs) judged by the core's faithfulness checker. Fast and torch-free."""

from __future__ import annotations

import json

import pytest
from skips import require

require("sql2nl_training")

from sql2nl.errors import InvalidInputError  # noqa: E402
from sql2nl_training.config import TrainConfig  # noqa: E402
from sql2nl_training.data import Pair, databases, split_by_database  # noqa: E402
from sql2nl_training.targets import contradictions, improve, is_faithful, omissions, repair, teacher_pairs  # noqa: E402

# 20 databases of very different sizes (1..20 pairs each), as in Spider
MANY = [
    Pair(f"SELECT c{i} FROM t{db} WHERE k = {i}", f"The c{i} of t{db} with k {i}.", f"db{db:02d}")
    for db in range(20)
    for i in range(db + 1)
]

# People's descriptions that leave something out, contradict the SQL, or are fine
SINGER = Pair(
    "SELECT name FROM singer WHERE age > 30 ORDER BY name", "List the singers' names in alphabetical order.", "music"
)
CITIES = Pair("SELECT DISTINCT city FROM customers", "Which cities do customers live in?", "shop")
COUNT = Pair("SELECT count(*) FROM customers", "Return the total number of distinct customers.", "shop")
GOOD = Pair("SELECT name FROM singer WHERE country = 'France'", "Names of singers from France.", "music")
PARAPHRASE = Pair("SELECT customer_phone FROM available_policies", "Find all the phone numbers.", "insurance")


def test_split_by_database_share_is_disjoint_and_deterministic():
    train, valid = split_by_database(MANY, 0.15, seed=0, by="databases")
    assert len(databases(valid)) == 3 and len(databases(train)) == 17  # 15 % of 20 databases, whatever their size
    assert not set(databases(train)) & set(databases(valid)) and len(train) + len(valid) == len(MANY)
    assert split_by_database(MANY, 0.15, seed=0, by="databases") == (train, valid)
    others = {tuple(databases(split_by_database(MANY, 0.15, seed=s, by="databases")[1])) for s in range(1, 6)}
    assert len(others | {tuple(databases(valid))}) > 1  # the seed picks the databases
    # by pairs (the default): whole databases until about 15 % of the pairs
    _, by_pairs = split_by_database(MANY, 0.15, seed=0)
    assert 0.15 * len(MANY) <= len(by_pairs) < 0.15 * len(MANY) + 20
    with pytest.raises(InvalidInputError, match="by must be"):
        split_by_database(MANY, 0.15, by="rows")


def test_split_command_pools_files_and_reports_shared_databases(tmp_path):
    from click.testing import CliRunner

    from sql2nl.cli import cli

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in MANY[::2]))
    b.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in MANY[1::2]))
    res = CliRunner().invoke(
        cli,
        [
            "split",
            "--data",
            str(a),
            "--data",
            str(b),
            "--holdout",
            "0.2",
            "--seed",
            "3",
            "--out",
            str(tmp_path / "split"),
        ],
    )
    assert res.exit_code == 0, res.output
    rec = json.loads((tmp_path / "split" / "split.json").read_text())
    assert rec == json.loads(res.stdout)
    # every database with two or more pairs is in both source files: a split by file shares them all
    assert rec["sources_shared_databases"] == 19
    assert len(rec["databases"]["valid"]) == 4 and not set(rec["databases"]["valid"]) & set(rec["databases"]["train"])
    rows = [
        json.loads(x) for f in ("train", "valid") for x in (tmp_path / "split" / f"{f}.jsonl").read_text().splitlines()
    ]
    assert len(rows) == rec["pairs"]["train"] + rec["pairs"]["valid"] == len(MANY)
    bad = CliRunner().invoke(cli, ["split", "--data", str(a), "--holdout", "2", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "holdout" in bad.output and "Traceback" not in bad.output


def test_omissions_count_meaning_not_paraphrased_names():
    assert omissions(SINGER) == ["value 30"] and omissions(CITIES) == ["distinct"]
    assert omissions(COUNT) == [] and contradictions(COUNT) == ["distinct (not in the SQL)"]
    assert omissions(GOOD) == [] and omissions(PARAPHRASE) == []  # "phone numbers" for customer_phone is fine
    assert [is_faithful(p) for p in (SINGER, CITIES, COUNT, GOOD, PARAPHRASE)] == [False, False, False, True, True]


def test_repair_appends_the_rules_clause_that_says_what_is_missing():
    from sql2nl_training.targets import verdict

    fixed = repair(SINGER)
    assert fixed.description == "List the singers' names in alphabetical order, with age greater than 30."
    assert is_faithful(fixed) and fixed.sql == SINGER.sql and fixed.source.endswith(":repaired")
    assert verdict(fixed.sql, fixed.description).score > verdict(SINGER.sql, SINGER.description).score
    # the clause comes from the teacher's text, and only that clause (not its head)
    taught = repair(
        SINGER, teacher="What are the names of singers whose age is greater than 30, in ascending order of name?"
    )
    assert taught.description == "List the singers' names in alphabetical order, whose age is greater than 30."
    assert repair(SINGER, teacher="Which singers are older than 30, in ascending order of name?") is None  # all head
    assert repair(GOOD) is None  # nothing left out
    assert repair(CITIES) is None  # "different" sits in the teacher's head, not in a clause
    assert repair(SINGER, teacher="Singers.") is None  # the teacher says nothing that helps
    assert repair(Pair(SINGER.sql, "按名字排序列出歌手的名字。", language="zh")) is None  # English only


def test_teacher_pairs_take_unfaithful_statements_first():
    pairs = [SINGER, COUNT, GOOD, PARAPHRASE, Pair(GOOD.sql, "Singers from France.", "music")]
    few = teacher_pairs(pairs, 0.5, seed=0)
    assert {p.sql for p in few} == {SINGER.sql, COUNT.sql}  # the 2 of 4 statements people described unfaithfully
    assert all(p.source == "rules-teacher" and is_faithful(p) for p in few)
    every = teacher_pairs(pairs, 1.0, seed=0)
    assert {p.sql for p in every} == {p.sql for p in pairs} and teacher_pairs(pairs, 0.0) == []


def test_improve_repairs_drops_and_teaches_training_pairs_only():
    syn = Pair("SELECT a FROM t WHERE b = 1", "The a of t.", "x", source="synthetic:x")  # left alone
    pairs = [SINGER, COUNT, GOOD, PARAPHRASE, syn]
    out, s = improve(pairs, drop_unfaithful=True)
    assert [p.sql for p in out] == [GOOD.sql, PARAPHRASE.sql, syn.sql]
    assert (s["with_omissions"], s["with_contradictions"], s["dropped_unfaithful"], s["unfaithful_after"]) == (
        1,
        1,
        2,
        0,
    )
    out, s = improve(pairs, repair_targets=True, drop_unfaithful=True, rules_teacher=0.25, seed=1)
    assert (
        s["repaired"] == 1 and s["dropped_unfaithful"] == 1 and s["rules_teacher"] == 1
    )  # COUNT contradicts: no repair
    assert sum(p.source.endswith(":repaired") for p in out) == 1 and syn in out and COUNT not in out
    with pytest.raises(InvalidInputError, match="rules_teacher"):
        TrainConfig(rules_teacher=1.5)


SPIDERISH_TABLES = [
    {
        "db_id": f"db{k}",
        "table_names_original": [f"t{k}"],
        "table_names": [f"t{k}"],
        "column_names_original": [[-1, "*"], [0, "id"], [0, "name"]],
        "column_names": [[-1, "*"], [0, "id"], [0, "name"]],
        "column_types": ["text", "number", "text"],
        "primary_keys": [1],
        "foreign_keys": [],
    }
    for k in range(4)
]


def test_prepare_data_keeps_additions_out_of_validation(tmp_path):
    """Synthetic queries are written over training databases only, and validation keeps people's text."""
    from sql2nl_training.finetune import prepare_data

    tables = tmp_path / "tables.json"
    tables.write_text(json.dumps(SPIDERISH_TABLES))
    rows = [
        {"sql": f"SELECT name FROM t{k} WHERE id = {i}", "description": f"A name in t{k}.", "db_id": f"db{k}"}
        for k in range(4)
        for i in range(5)
    ]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = TrainConfig(
        data=str(data),
        tables=str(tables),
        synthetic=40,
        valid_fraction=0.25,
        repair_targets=True,
        rules_teacher=0.5,
        out=str(tmp_path / "run"),
    )
    train, valid, summary = prepare_data(cfg, log=lambda m: None)
    held_out = set(databases(valid))
    assert len(held_out) == 1 and len(valid) == 5
    assert all(p.source.startswith("pairs.jsonl:") and p.source.count(":") == 1 for p in valid)  # as people wrote them
    syn = [p for p in train if p.source.startswith("synthetic:")]
    assert syn and not {p.db_id for p in syn} & held_out and summary["synthetic"] == len(syn)
    assert summary["targets"]["repaired"] > 0 and summary["targets"]["rules_teacher"] > 0
