"""Training data: readers, bad-row accounting, splits by database, synthetic data, renaming, config, metrics.

Fast and torch-free: the model side lives in test_training.py.
"""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest
from skips import require

require("sql2nl_training")

from sql2nl.errors import InvalidInputError  # noqa: E402
from sql2nl_training.config import TrainConfig  # noqa: E402
from sql2nl_training.data import Pair, group_of, load_pairs, split_by_database  # noqa: E402

PAIRS = [
    {
        "sql": "SELECT name FROM customers WHERE city = 'Paris'",
        "description": "Names of customers in Paris.",
        "db_id": "shop",
    },
    {"sql": "SELECT count(*) FROM orders", "description": "How many orders are there?", "db_id": "shop"},
    {"sql": "SELECT name FROM students WHERE age > 18", "description": "Students older than 18.", "db_id": "school"},
    {"sql": "SELECT avg(grade) FROM exams", "description": "The average exam grade.", "db_id": "school"},
    {"sql": "SELECT title FROM songs WHERE year < 1990", "description": "Songs from before 1990.", "db_id": "music"},
    {"sql": "SELECT genre, count(*) FROM songs GROUP BY genre", "description": "Songs per genre.", "db_id": "music"},
]
BAD = [
    {"sql": "SELEC name FRM", "description": "broken SQL"},
    {"sql": "SELECT 1"},
    {"description": "no sql at all"},
]

SPIDER_TABLES = [
    {
        "db_id": "school",
        "table_names_original": ["student", "course", "enrolment"],
        "table_names": ["student", "course", "enrolment"],
        "column_names_original": [
            [-1, "*"],
            [0, "id"],
            [0, "name"],
            [0, "age"],
            [1, "id"],
            [1, "title"],
            [1, "credits"],
            [2, "student_id"],
            [2, "course_id"],
            [2, "grade"],
        ],
        "column_names": [
            [-1, "*"],
            [0, "id"],
            [0, "name"],
            [0, "age"],
            [1, "id"],
            [1, "title"],
            [1, "credits"],
            [2, "student id"],
            [2, "course id"],
            [2, "grade"],
        ],
        "column_types": ["text", "number", "text", "number", "number", "text", "number", "number", "number", "number"],
        "foreign_keys": [[7, 1], [8, 4]],
        "primary_keys": [1, 4],
    }
]


def test_seed_json_counts_and_shows_bad_rows(tmp_path):
    f = tmp_path / "pairs.json"
    f.write_text(json.dumps(PAIRS + BAD + [PAIRS[0], dict(PAIRS[1], sql="select  COUNT(*) from orders")]))
    ds = load_pairs(f)
    assert len(ds.pairs) == len(PAIRS)
    assert len(ds.bad) == 3 and ds.duplicates == 2
    why = dict(ds.bad)
    assert "Could not parse" in why["pairs.json[6]"]
    assert "no description" in why["pairs.json[7]"] and "no SQL" in why["pairs.json[8]"]
    text = ds.summary()
    assert "3 bad rows" in text and "pairs.json[6]" in text
    assert all(p.db_id for p in ds.pairs)


def test_jsonl_csv_and_spider_formats(tmp_path):
    jl = tmp_path / "p.jsonl"
    jl.write_text("\n".join(json.dumps(p) for p in PAIRS) + "\n{not json\n")
    ds = load_pairs(jl)
    assert len(ds.pairs) == 6 and ds.bad[0][0] == "p.jsonl:7"
    cf = tmp_path / "p.csv"
    with cf.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["sql", "description", "db_id"])
        w.writeheader()
        w.writerows(PAIRS)
    assert [p.sql for p in load_pairs(cf).pairs] == [p["sql"] for p in PAIRS]
    spider = tmp_path / "train_spider.json"
    spider.write_text(
        json.dumps(
            [{"db_id": p["db_id"], "query": p["sql"], "question": p["description"], "query_toks": []} for p in PAIRS]
        )
    )
    sp = load_pairs(spider).pairs
    assert sp[0].description == PAIRS[0]["description"] and sp[0].db_id == "shop"


def test_wikisql_needs_tables_and_builds_sql(tmp_path):
    rows = tmp_path / "dev.jsonl"
    rows.write_text(
        json.dumps(
            {
                "phase": 1,
                "table_id": "1-10015132-11",
                "question": "What position does Kyle play?",
                "sql": {"sel": 2, "agg": 0, "conds": [[0, 0, "Kyle"]]},
            }
        )
        + "\n"
        + json.dumps(
            {
                "phase": 1,
                "table_id": "1-10015132-11",
                "question": "How many players?",
                "sql": {"sel": 0, "agg": 3, "conds": []},
            }
        )
        + "\n"
    )
    with pytest.raises(InvalidInputError, match="tables file"):
        load_pairs(rows)
    (tmp_path / "dev.tables.jsonl").write_text(
        json.dumps({"id": "1-10015132-11", "header": ["Player", "No.", "Position"], "types": ["text", "text", "text"]})
        + "\n"
    )
    ds = load_pairs(rows)
    assert ds.pairs[0].sql == 'SELECT "Position" FROM table_1_10015132_11 WHERE "Player" = \'Kyle\''
    assert ds.pairs[1].sql.startswith('SELECT COUNT("Player")')


def test_unusable_inputs_are_clear_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_pairs(tmp_path / "nope.json")
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(BAD))
    with pytest.raises(InvalidInputError, match="no usable pairs"):
        load_pairs(f)
    f.write_text("{oops")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        load_pairs(f)


def test_split_keeps_databases_apart():
    pairs = [Pair(p["sql"], p["description"], p["db_id"]) for p in PAIRS] * 1
    pairs += [Pair(f"SELECT x FROM t{i}", f"x of t{i}", None) for i in range(4)]
    train, valid = split_by_database(pairs, 0.3, seed=1)
    assert train and valid and len(train) + len(valid) == len(pairs)
    assert not {group_of(p) for p in train} & {group_of(p) for p in valid}
    with pytest.raises(InvalidInputError, match="one database"):
        split_by_database([Pair(p["sql"], p["description"], "same") for p in PAIRS])


def test_config_validates_and_round_trips(tmp_path):
    cfg = TrainConfig(base="scratch:tiny", data="d.json", out="o", lora_r=8, languages="en,zh")
    assert cfg.languages == ["en", "zh"]
    p = tmp_path / "c.json"
    p.write_text(cfg.to_json())
    assert TrainConfig.from_json(p) == cfg
    for bad, field in [
        ({"lora_r": 0}, "lora_r"),
        ({"engine": "jax"}, "engine"),
        ({"languages": ["fr"]}, "languages"),
        ({"lora_dropout": 1.5}, "lora_dropout"),
        ({"synthetic": 10}, "synthetic"),
    ]:
        with pytest.raises(InvalidInputError, match=field):
            TrainConfig(**bad)
    with pytest.raises(InvalidInputError, match="Unknown training config field"):
        TrainConfig.from_dict({"lora_rank": 8})


def _spec():
    from sql2nl_training.synthetic import from_spider_tables

    return from_spider_tables


def test_synthetic_from_spider_tables_uses_rules_teacher(tmp_path):
    from sql2nl import describe
    from sql2nl.parsing import parse
    from sql2nl_training.synthetic import from_spider_tables, generate

    t = tmp_path / "tables.json"
    t.write_text(json.dumps(SPIDER_TABLES))
    (spec,) = from_spider_tables(t)
    assert spec.foreign_keys == [
        ("enrolment", "student_id", "student", "id"),
        ("enrolment", "course_id", "course", "id"),
    ]
    pairs = generate(spec, 40, seed=2)
    assert len(pairs) == 40 and len({p.sql for p in pairs}) == 40
    sqls = " ".join(p.sql for p in pairs)
    for construct in ("JOIN", "GROUP BY", "ORDER BY", " IN (SELECT", "count(*)"):
        assert construct in sqls
    assert any(op in sqls for op in ("UNION", "INTERSECT", "EXCEPT"))
    for p in pairs[:10]:
        parse(p.sql)
        assert p.description == describe(p.sql, backend="rules").text
    zh = generate(spec, 3, seed=2, language="zh")
    assert all(p.language == "zh" and any("\u4e00" <= ch <= "\u9fff" for ch in p.description) for p in zh)


def test_synthetic_queries_without_descriptions(tmp_path):
    from sql2nl_training.synthetic import from_spider_tables, generate, queries

    t = tmp_path / "tables.json"
    t.write_text(json.dumps(SPIDER_TABLES))
    (spec,) = from_spider_tables(t)
    sqls = queries(spec, 60, seed=5)
    assert len(sqls) == len(set(sqls)) == 60 and queries(spec, 60, seed=5) == sqls  # distinct, reproducible
    assert [p.sql for p in generate(spec, 60, seed=5)] == sqls  # the teacher describes exactly these


def test_synthetic_quotes_names_that_are_keywords():
    """Spider has a column named ``From`` (train_station): written bare, ``SELECT From FROM train``
    does not parse, and one such statement used to end a whole training run."""
    from sql2nl.parsing import parse
    from sql2nl_training.synthetic import SchemaSpec, generate

    spec = SchemaSpec(
        "trains",
        {"train": [("From", "text"), ("select", "text"), ("Arrival", "text"), ("speed", "number")]},
    )
    pairs = generate(spec, 40, seed=3)
    assert len(pairs) >= 20
    assert any('"From"' in p.sql for p in pairs) and not any("SELECT From" in p.sql for p in pairs)
    for p in pairs:
        parse(p.sql)  # raises on a statement that does not parse
        assert p.description


def test_synthetic_from_sqlalchemy_metadata_and_live_database(tmp_path):
    sa = require("sqlalchemy")
    from sql2nl_training.synthetic import from_database, from_metadata, generate

    md = sa.MetaData()
    sa.Table("author", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String))
    sa.Table(
        "book",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("author.id")),
    )
    spec = from_metadata(md, "library")
    assert ("book", "author_id", "author", "id") in spec.foreign_keys
    assert len(generate(spec, 10, seed=0)) == 10
    db = tmp_path / "live.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE city (id INTEGER PRIMARY KEY, name TEXT, population INTEGER)")
    con.close()
    live = from_database(f"sqlite:///{db}")
    assert live.tables == {"city": [("id", "number"), ("name", "text"), ("population", "number")]}
    assert all("city" in p.sql for p in generate(live, 5))


def test_renaming_is_consistent_in_sql_and_text():
    from sql2nl.facts import extract
    from sql2nl_training.synthetic import augment, rename

    p = Pair("SELECT name FROM students WHERE age > 18", "List the names of students older than 18.", "school")
    r = rename(p, seed=3)
    f = extract(r.sql)[0]
    (table,) = f.tables
    (col,) = f.columns
    assert table != "students" and col != "name" and f.filters[0].column not in ("age", None)
    from sql2nl.words import humanize, plural

    assert r.description == f"List the {plural(humanize(col))} of {plural(humanize(table))} older than 18."
    assert rename(Pair("SELECT a FROM t", "Something unrelated.", "x")) is None
    assert len(augment([p] * 4, 1.0, seed=1)) == 4


def test_scores_multi_reference_and_constructs():
    from sql2nl_training.evaluation import constructs_of, group_references, score

    pairs = [
        Pair("SELECT a FROM t", "Show the a values of every row in t."),
        Pair("select a from t", "List a from t for all of the rows."),
        Pair("SELECT b FROM u JOIN v ON u.id = v.id GROUP BY b", "Each b of u joined with v."),
    ]
    sqls, refs, langs = group_references(pairs)
    assert len(sqls) == 2 and len(refs[0]) == 2
    perfect = score(sqls, [refs[0][1], refs[1][0]], refs, langs)
    assert perfect["bleu"] == pytest.approx(100) and perfect["rouge_l"] == pytest.approx(100)
    # one reference at a time: statement 0's text matches only one of its two descriptions
    assert 20 < perfect["bleu_single"] < 90
    assert score(sqls, [refs[0][0], refs[1][0]], [refs[0][:1], refs[1]], langs)["bleu_single"] == pytest.approx(100)
    worse = score(sqls, ["Nothing.", "Nothing."], refs, langs)
    assert worse["bleu"] < 5 and worse["rouge_l"] < 20 and worse["faithfulness"] < perfect["faithfulness"]
    assert constructs_of(sqls[1]) == ["joins", "grouping"]
    assert constructs_of("SELECT a FROM t WHERE a IN (SELECT b FROM u) UNION SELECT c FROM w") == [
        "nesting",
        "set_operations",
    ]
    assert constructs_of("SELECT a FROM t") == ["simple"]


def test_eval_command_with_rules_backend_prints_one_metrics_line(tmp_path):
    from click.testing import CliRunner

    from sql2nl.cli import cli

    data = tmp_path / "valid.jsonl"
    data.write_text("\n".join(json.dumps(p) for p in PAIRS))
    res = CliRunner().invoke(
        cli, ["eval", "--backend", "rules", "--data", str(data), "--out", str(tmp_path / "rep"), "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1
    m = json.loads(lines[0])
    assert {"bleu", "rouge_l", "faithfulness", "by_construct"} <= set(m) and m["n"] == 6
    for f in ("report.md", "report.html", "constructs.png", "metrics.json", "samples.jsonl"):
        assert (tmp_path / "rep" / f).is_file()
    assert (
        "| rules |" in (tmp_path / "rep" / "report.md").read_text()
        or "rules" in (tmp_path / "rep" / "report.md").read_text()
    )
    bad = CliRunner().invoke(cli, ["eval", "--backend", "rules", "--data", str(tmp_path / "missing.jsonl")])
    assert bad.exit_code != 0 and "does not exist" in bad.output and "Traceback" not in bad.output


def test_train_command_refuses_bad_config_without_traceback(tmp_path):
    from click.testing import CliRunner

    from sql2nl.cli import cli

    res = CliRunner().invoke(
        cli, ["train", "--base", "scratch:tiny", "--data", "x.json", "--out", str(tmp_path / "r"), "--lora-r", "0"]
    )
    assert res.exit_code != 0 and "lora_r" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["train", "--out", str(tmp_path / "none"), "--resume"])
    assert res.exit_code != 0 and "Nothing to resume" in res.output


def test_recipes_are_valid_configs():
    from pathlib import Path

    recipes = sorted((Path(__file__).resolve().parents[1] / "training" / "recipes").glob("*.json"))
    bases = {TrainConfig.from_json(r).base for r in recipes}
    assert "deepseek-ai/DeepSeek-R1-Distill-Llama-8B" in bases and any(b.startswith("scratch:") for b in bases)
    assert len(bases) >= 3
