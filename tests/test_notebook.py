"""docs/explain_sql.ipynb, executed by nbclient in a real ipykernel.

The kernel is this interpreter (a kernelspec written to a temporary JUPYTER_PATH entry), so the
test needs no `ipykernel install` and always runs the sql2nl under test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from skips import require

nbformat = require("nbformat")
nbclient = require("nbclient")
require("ipykernel")

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOTEBOOK = DOCS / "explain_sql.ipynb"
KERNEL = "sql2nl-test-python"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    kernels = tmp_path_factory.mktemp("jupyter") / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "sql2nl tests",
                "language": "python",
            }
        )
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(kernels.parent.parent))
    try:
        nb = nbformat.read(NOTEBOOK, as_version=4)
        client = nbclient.NotebookClient(
            nb, kernel_name=KERNEL, timeout=120, startup_timeout=120, resources={"metadata": {"path": str(DOCS)}}
        )
        client.execute()  # raises CellExecutionError for any error outside `raises-exception` cells
    finally:
        mp.undo()
    return {tag: c for c in nb.cells if c.cell_type == "code" for tag in c.metadata.get("tags", [])}


def _data(cell, mime):
    return [o["data"][mime] for o in cell.outputs if "data" in o and mime in o["data"]]


def _stream(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_notebook_runs_and_renders(executed):
    rich = executed["rich"]
    html = _data(rich, "text/html")[0]
    assert html.count("class='sql2nl-statement'") == 2 and "class='sql2nl-facts'" in html
    assert "customers" in html and "&gt;= 2020" in html
    md = _data(rich, "text/markdown")[0]
    assert md.count("```sql") == 2 and "| fact | value |" in md
    text = _data(rich, "text/plain")[0]
    assert len(text.splitlines()) == 2 and "<Explanation" not in text

    interpolated = _data(executed["interpolated"], "text/html")[0]
    assert "FROM orders" in interpolated and "&gt; 100" in interpolated and "{table}" not in interpolated

    assert _data(executed["line"], "text/plain")
    assert executed["store"].outputs == []  # `var <<` stores instead of showing
    assert "delete" in _data(executed["use-stored"], "text/plain")[0]
    assert _stream(executed["use-stored"]).strip()
    assert _data(executed["json"], "application/json")[0]["statements"][0]["facts"][0]["tables"] == ["orders"]
    assert "sql2nl-facts" in _data(executed["describe"], "text/html")[0]


def test_bad_query_is_a_short_error_and_the_kernel_goes_on(executed):
    errors = [o for o in executed["bad"].outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "SQLParseError"
    tb = "\n".join(errors[0]["traceback"])
    assert "Could not parse" in tb and "Traceback" not in tb and len(tb.splitlines()) <= 6
    assert "    FORM customers" in tb
    assert _data(executed["after-error"], "text/plain")  # the next cell ran normally


def test_sqlalchemy_hook_logs_in_the_notebook(executed):
    logged = _stream(executed["sqlalchemy"])
    assert "| SELECT name FROM pets WHERE species = ? AND age > 1" in logged
    assert logged.count("SELECT name FROM pets") == 1  # one record per distinct statement
