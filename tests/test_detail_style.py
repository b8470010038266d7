"""``detail="summary"|"steps"`` and ``style="statement"|"question"`` at every surface: the API
(describe, describe_many, describe_stream, the cache key), the CLI, ``%%explain_sql``, the HTTP
server and its OpenAPI document, the prompt format and the training pairs (the LSP hover is in
``test_lsp.py``, with its client)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from skips import require

from sql2nl import describe, describe_many, describe_stream
from sql2nl.cli import cli
from sql2nl.errors import InvalidInputError
from sql2nl.prompt import PROMPT_VERSION, build_messages, render_prompt, training_example

SIMPLE = "SELECT name FROM users WHERE age > 18"
STAGED = (
    "WITH big AS (SELECT customer_id, SUM(total) AS spent FROM orders GROUP BY customer_id) "
    "SELECT c.name FROM big b JOIN customers c ON c.id = b.customer_id WHERE b.spent > 1000"
)


# -- the library ------------------------------------------------------------------------------------


def test_steps_are_a_numbered_outline_one_step_per_cte_then_the_result():
    text = describe(STAGED, detail="steps", cache=False).text
    lines = text.split("\n")
    assert [line.split(".")[0] for line in lines] == ["1", "2"]
    assert lines[0].startswith("1. big: ") and "orders" in lines[0]
    assert lines[1].startswith("2. Result: List the names of customers")


def test_summary_is_one_paragraph_and_names_the_intermediate_results():
    long = STAGED.replace(
        "SUM(total) AS spent", ", ".join(f"SUM(c{i}) AS s{i}" for i in range(30)) + ", SUM(total) AS spent"
    )
    text = describe(long, cache=False).text
    assert "\n" not in text and len(text.split()) <= 60
    assert "big" in text and "customers" in text


@pytest.mark.parametrize("style, start, end", [("statement", "List ", "."), ("question", "What are ", "?")])
def test_style(style, start, end):
    text = describe(SIMPLE, style=style, cache=False).text
    assert text.startswith(start) and text.endswith(end)


def test_every_entry_point_takes_the_options_and_checks_them():
    assert describe_many([SIMPLE], style="question", cache=False)[0].text.endswith("?")
    assert "".join(describe_stream(STAGED, detail="steps", cache=False)).startswith("1. ")
    for bad in ({"detail": "full"}, {"style": "poem"}):
        with pytest.raises(InvalidInputError, match="must be one of"):
            describe(SIMPLE, **bad)
        with pytest.raises(InvalidInputError, match="must be one of"):
            describe_many([SIMPLE], **bad)


def test_options_are_part_of_the_cache_key():
    a = describe(SIMPLE)  # cached
    b = describe(SIMPLE, style="question")
    c = describe(SIMPLE, detail="steps")
    assert len({a.text, b.text, c.text}) == 3
    assert describe(SIMPLE, style="question").text == b.text


# -- the CLI and the notebook magic -----------------------------------------------------------------


def test_cli_detail_and_style():
    r = CliRunner().invoke(cli, ["describe", "--detail", "steps", "--style", "question", STAGED])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("1. big: ") and r.output.strip().endswith("?")
    bad = CliRunner().invoke(cli, ["describe", "--detail", "everything", SIMPLE])
    assert bad.exit_code != 0 and "everything" in bad.output


def test_ipython_magic_detail_and_style():
    require("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "sql2nl")
    try:
        result = shell.run_cell_magic("explain_sql", "--detail steps --style question", STAGED)
        assert str(result).startswith("1. big: ") and str(result).endswith("?")
        assert "white-space:pre-line" in result._repr_html_()  # the outline keeps its lines
    finally:
        shell.run_line_magic("unload_ext", "sql2nl")


# -- the HTTP server ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http():
    require("uvicorn")
    httpx = require("httpx")
    from sql2nl.server.app import create_app
    from sql2nl.server.config import ServerConfig
    from sql2nl.server.runner import ServerThread

    with ServerThread(create_app(ServerConfig())) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def test_server_detail_and_style(http):
    r = http.post("/v1/describe", json={"sql": STAGED, "detail": "steps", "style": "question"})
    assert r.status_code == 200
    assert r.json()["text"] == describe(STAGED, detail="steps", style="question").text
    batch = http.post(
        "/v1/describe/batch", json={"style": "question", "items": [SIMPLE, {"sql": SIMPLE, "style": "statement"}]}
    )
    assert [x["text"][-1] for x in batch.json()["results"]] == ["?", "."]
    bad = http.post("/v1/describe", json={"sql": SIMPLE, "detail": "all"})
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "detail"


def test_openapi_documents_the_options(http):
    schema = http.get("/openapi.json").json()["components"]["schemas"]["DescribeRequest"]["properties"]
    assert schema["detail"]["enum"][:2] == ["summary", "steps"]
    assert schema["style"]["enum"][:2] == ["statement", "question"]


# -- the prompt format and the training pairs ------------------------------------------------------


def test_prompt_says_the_detail_and_style_asked_for():
    assert PROMPT_VERSION == "sql2nl-prompt-2"
    user = build_messages(SIMPLE, detail="steps", style="question")[1]["content"]
    assert "numbered outline" in user and "as a question" in user
    assert "short paragraph" in build_messages(SIMPLE)[1]["content"]
    assert "问句" in build_messages(SIMPLE, language="zh", style="question")[1]["content"]
    ex = training_example(SIMPLE, "What are the names?", detail="steps", style="question")
    assert ex["prompt"] == render_prompt(build_messages(SIMPLE, detail="steps", style="question"))
    with pytest.raises(InvalidInputError):
        build_messages(SIMPLE, detail="long")


def test_training_pairs_carry_detail_and_style(tmp_path):
    require("sql2nl_training")
    from sql2nl_training.data import Pair, load_pairs

    assert Pair("SELECT 1", "What is one?").style == "question"
    assert Pair("SELECT 1", "Show one.").style == "statement"
    path = tmp_path / "pairs.jsonl"
    rows = [
        {"sql": SIMPLE, "description": "Names of adults."},
        {"sql": STAGED, "description": "1. big: ...\n2. Result: ...", "detail": "steps"},
        {"sql": SIMPLE, "description": "x", "detail": "novel"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    ds = load_pairs(path)
    assert [(p.detail, p.style) for p in ds.pairs] == [("summary", "statement"), ("steps", "statement")]
    assert len(ds.bad) == 1 and "detail" in ds.bad[0][1]
    assert ds.pairs[1].to_dict()["detail"] == "steps"
