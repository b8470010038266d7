"""Query logs: describe_many(workers=N), the process pool, and `sql2nl describe --jsonl/--csv/--parquet`.

Real files in tmp dirs, real worker processes (fork and spawn), a real killed run that is resumed.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from skips import require

from sql2nl import Backend, Draft, api, describe, describe_many, hookimpl, pool
from sql2nl.backends import clear_backend_instances
from sql2nl.cli import cli
from sql2nl.errors import BackendError, InvalidInputError, SQLParseError
from sql2nl.plugins import register_plugin, unregister_plugin


def statements(n: int, start: int = 0) -> list[str]:
    """``n`` distinct statements of a few shapes."""
    shapes = [
        "SELECT c{a}, count(*) FROM t{b} WHERE x > {i} GROUP BY c{a}",
        "SELECT name FROM users{b} WHERE age BETWEEN {i} AND {j} ORDER BY name DESC LIMIT 5",
        "UPDATE t{b} SET a = {i} WHERE id IN (SELECT id FROM u WHERE c{a} = 'v{i}')",
        "SELECT T1.a FROM t{b} AS T1 JOIN u AS T2 ON T1.id = T2.tid WHERE T2.k = {i}",
    ]
    return [shapes[i % 4].format(a=i % 7, b=i % 13, i=i, j=i + 10) for i in range(start, start + n)]


class Recording(Backend):
    """Describes like a stub and writes what it does to ``log``: its build (with the pid) and each statement."""

    name = "test-recording"

    def __init__(self, log: str, die_on: str = ""):
        self.log, self.die_on = log, die_on
        self._note(f"init {os.getpid()}")

    def _note(self, line: str) -> None:
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(line.replace("\n", " ") + "\n")

    def describe(self, request):
        if self.die_on and self.die_on in request.sql:
            os._exit(3)  # a crash in native code, say: the process is gone
        self._note(f"describe {os.getpid()} {request.sql}")
        return Draft(text=f"about {', '.join(t for f in request.facts for t in f.tables)}")


class RecordingPlugin:
    @hookimpl
    def register_backends(self, register):
        register("test-recording", Recording, description="records its calls")
        register("test-slow", Slow, description="says which process described and how many CPUs it was given")
        register("test-gpu", OnGpu, description="Slow, as a backend that batches on a GPU")


class Slow(Backend):
    """A backend as slow as a model, for the pool: small tasks, workers from a few statements on."""

    name = "test-slow"
    pool_chunk = 2
    pool_min = 3

    def describe(self, request):
        return Draft(text=f"{os.getpid()} {pool.worker_cpus()}")


class OnGpu(Slow):
    name = "test-gpu"
    pool_workers = 1  # each worker would load its own copy of the model onto the GPU


@pytest.fixture
def recording(tmp_path):
    name = register_plugin(RecordingPlugin(), name="test-logs-plugin")
    yield tmp_path / "calls.txt"
    unregister_plugin(name)
    clear_backend_instances()


def calls(log: Path) -> list[list[str]]:
    return [line.split(" ", 2) for line in log.read_text(encoding="utf-8").splitlines()]


# -- the pool ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["spawn", "fork", "forkserver"])
def test_pool_keeps_order_describes_each_statement_once_and_matches_describe(method, recording):
    sqls = statements(40)
    spaced = [s.replace(" ", "  ", 1) + " ;" for s in sqls[:10]]  # the same statements, spelled otherwise
    items = sqls + spaced + ["SELEC x FROM t", None] + sqls[5:15]
    job = api.worker_job("test-recording", None, {"log": str(recording)}, {"cache": False})
    out = list(
        pool.describe_items(
            ((i, s, None) for i, s in enumerate(items)),
            job,
            workers=2,
            chunk_size=8,
            min_parallel=0,
            start_method=method,
        )
    )
    assert [i for i, _, _ in out] == list(range(len(items)))
    for (i, _fp, r), sql in zip(out, items):
        if i < len(sqls):
            assert r.text == describe(sql, backend="test-recording", log=str(recording), cache=False).text
    assert [fp for _, fp, _ in out[40:50]] == [fp for _, fp, _ in out[:10]]  # whitespace does not matter
    assert out[50][2].error[0] == "SQLParseError" and out[50][2].exception().line == 1
    assert out[51][2].error_message == "InvalidInputError: Expected the SQL as a string, got NoneType."
    parent = str(os.getpid())
    log = calls(recording)
    workers = {pid for kind, pid, *_ in log if kind == "init" and pid != parent}
    described = [rest[0] for kind, pid, *rest in log if kind == "describe" and pid in workers]
    assert 1 <= len(workers) <= 2  # each worker process built the backend once
    assert sorted(described) == sorted(sqls)  # each distinct statement described once, in a worker


@pytest.mark.parametrize("shape", [{}, {"detail": "steps", "style": "question"}, {"language": "zh"}])
def test_describe_many_with_workers_is_describe_many(monkeypatch, shape):
    monkeypatch.setattr(pool, "MIN_PARALLEL", 0)
    sqls = statements(30) + ["SELECT X''", "SELECT name FROM users WHERE"] + statements(5)
    serial = describe_many(sqls, on_error="keep", cache=False, **shape)
    parallel = describe_many(sqls, on_error="keep", cache=False, workers=2, **shape)
    # Everything a Description holds (text, backend, language, warnings, score, guard, facts), in order.
    assert [d.to_dict() for d in parallel] == [d.to_dict() for d in serial]
    assert [d.sql for d in parallel] == sqls
    if shape:  # the options reached the workers: the texts are not the default ones
        plain = describe_many(sqls[:3], cache=False)
        assert all(a.text != b.text for a, b in zip(parallel[:3], plain))
    with pytest.raises(SQLParseError) as e:
        describe_many(sqls, cache=False, workers=2)
    assert "HexString" in str(e.value) and (e.value.line, e.value.column) == (1, 8)
    with pytest.raises(InvalidInputError, match="workers"):
        describe_many(sqls, workers=0)


def test_a_slow_backend_gets_workers_from_a_few_statements_on_and_each_its_share_of_the_cpus(recording):
    # A model takes a tenth of a second a statement: workers pay back after a few (pool_min), and
    # each worker's thread pool (llama.cpp's) gets its share of the cores (worker_cpus), not all.
    parent = str(os.getpid())
    assert pool.worker_cpus() is None
    job = api.worker_job("test-slow", None, {}, {"cache": False})
    assert (job.chunk_size, job.min_parallel) == (2, 3)
    few = describe_many(statements(2), backend="test-slow", cache=False, workers=2)
    assert {d.text for d in few} == {f"{parent} None"}  # fewer than pool_min: described here
    many = describe_many(statements(12), backend="test-slow", cache=False, workers=2)
    pids = {d.text.split()[0] for d in many}
    assert parent not in pids and 1 <= len(pids) <= 2
    assert {d.text.split()[1] for d in many} == {str(max(1, pool.default_workers() // 2))}
    # The rules describer keeps the pool's defaults: its statements take well under a millisecond.
    rules = api.worker_job(None, None, {}, {"cache": False})
    assert (rules.chunk_size, rules.min_parallel, rules.workers) == (None, None, None)
    # A GPU backend stays in one process unless workers are asked for (`--jsonl` defaults to None).
    gpu = api.worker_job("test-gpu", None, {}, {"cache": False})
    items = ((i, s, None) for i, s in enumerate(statements(12)))
    assert {r.text for _, _, r in pool.describe_items(items, gpu)} == {f"{parent} None"}


def test_a_worker_that_dies_is_an_error_not_a_hang(recording):
    sqls = statements(20) + ["SELECT boom FROM t"] + statements(20, start=20)
    job = api.worker_job("test-recording", None, {"log": str(recording), "die_on": "boom"}, {"cache": False})
    seen = []
    with pytest.raises(BackendError, match="worker process died"):
        for i, _, _r in pool.describe_items(
            ((i, s, None) for i, s in enumerate(sqls)), job, workers=2, chunk_size=4, min_parallel=0
        ):
            seen.append(i)
    assert seen == list(range(len(seen))) and len(seen) < len(sqls)  # what came back before is in order


def test_a_backend_instance_that_cannot_travel_is_refused_clearly():
    class Local(Backend):  # defined in a function: no other process can import it
        name = "local"

        def describe(self, request):
            return Draft(text="x")

    with pytest.raises(InvalidInputError, match="name"):
        describe_many(["SELECT a FROM t"], backend=Local(), workers=2)


# -- files ------------------------------------------------------------------------------------------


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def write_jsonl(path: Path, rows: list) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(r if isinstance(r, str) else json.dumps(r) + "\n")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def log_file(tmp_path):
    rows = [{"id": i, "sql": s, "user": f"u{i % 3}"} for i, s in enumerate(statements(12))]
    rows.insert(3, {"id": "dup", "sql": "  " + statements(1)[0] + ";", "user": "x"})
    rows.insert(5, "this is not json\n")
    rows.insert(6, "\n")  # blank lines are no records
    rows.insert(8, {"id": "nosql"})
    rows.insert(9, {"id": "bad", "sql": "SELECT name FROM users WHERE"})
    rows.insert(10, {"id": "mysql", "sql": "SELECT `name` FROM `users` WHERE `age` > 3", "dialect": "mysql"})
    rows.insert(11, {"id": "baddialect", "sql": "SELECT a FROM t", "dialect": "postgress"})
    return write_jsonl(tmp_path / "queries.jsonl", rows)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_jsonl_log_in_order_with_every_field_and_the_bad_records_reported(log_file, tmp_path, workers, monkeypatch):
    monkeypatch.setattr(pool, "MIN_PARALLEL", 0)  # a small file still goes through the worker processes
    out = tmp_path / "out.jsonl"
    r = run("describe", "--jsonl", log_file, "--out", out, "--workers", workers, "--dialect-field", "dialect")
    assert r.exit_code == 1  # some records were bad
    got = read_jsonl(out)
    assert len(got) == 12 + 6 and not (tmp_path / "out.jsonl.partial").exists()
    good = [g for g in got if g.get("id") in range(12)]
    assert [g["id"] for g in good] == list(range(12)) and all(g["user"] == f"u{g['id'] % 3}" for g in good)
    for g in good:
        assert g["description"] == describe(g["sql"]).text and g["error"] is None and g["warnings"] == []
        assert set(g) == {"id", "sql", "user", "description", "warnings", "faithfulness", "fingerprint", "error"}
    dup = next(g for g in got if g.get("id") == "dup")
    assert dup["fingerprint"] == good[0]["fingerprint"] and dup["description"] == good[0]["description"]
    mysql = next(g for g in got if g.get("id") == "mysql")
    assert mysql["description"] == describe(mysql["sql"], dialect="mysql").text
    assert got[5]["error"].startswith("InvalidInputError: line 6 is not valid JSON")
    assert "line 6 is not valid JSON" in r.stderr
    assert "line 9: InvalidInputError: the record has no 'sql' field" in r.stderr
    assert "line 10: SQLParseError: Could not parse the SQL at line 1" in r.stderr
    assert "line 12: InvalidInputError:" in r.stderr and "postgress" in r.stderr
    assert "18 records described" in r.stderr and "4 bad" in r.stderr


def test_a_log_is_described_with_the_describe_options(tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "MIN_PARALLEL", 0)
    sqls = ["WITH a AS (SELECT x FROM t WHERE y > 2) SELECT x FROM a"] + statements(5)
    src = write_jsonl(tmp_path / "in.jsonl", [{"sql": s} for s in sqls])
    out = tmp_path / "out.jsonl"
    r = run(
        "describe",
        "--jsonl",
        src,
        "--out",
        out,
        "--workers",
        "2",
        "-l",
        "zh",
        "--detail",
        "steps",
        "--style",
        "question",
        "--no-cache",
        "--progress",
    )
    assert r.exit_code == 0, r.output
    assert "describing in.jsonl" in r.stderr and "6/6" in r.stderr  # the progress bar, on stderr
    shape = dict(language="zh", detail="steps", style="question")
    got = [g["description"] for g in read_jsonl(out)]
    assert got == [describe(s, **shape).text for s in sqls]
    assert got[0] != describe(sqls[0], language="zh").text  # the options changed the text


def test_csv_and_parquet_in_and_out(tmp_path):
    pa = require("pyarrow")
    import pyarrow.parquet as pq

    sqls = statements(6) + ["SELEC broken"]
    src = tmp_path / "history.csv"
    with open(src, "w", encoding="utf-8-sig", newline="") as f:  # with a BOM, as Excel writes it
        w = csv.writer(f)
        w.writerow(["query_id", "query_text", "note"])
        for i, s in enumerate(sqls):
            w.writerow([f"q{i}", s, "multi\nline" if i == 2 else ""])
    r = run("describe", "--csv", src, "--field", "query_text", "--out", tmp_path / "out.csv")
    assert r.exit_code == 1 and "row 7: SQLParseError" in r.stderr
    rows = list(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8", newline="")))
    assert [x["query_id"] for x in rows] == [f"q{i}" for i in range(7)] and rows[2]["note"] == "multi\nline"
    assert rows[0]["description"] == describe(sqls[0]).text and json.loads(rows[0]["warnings"]) == []
    assert run("describe", "--csv", src, "--field", "query_text", "--out", tmp_path / "out.parquet").exit_code == 1
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("query_id").to_pylist() == [f"q{i}" for i in range(7)]
    assert table.schema.field("warnings").type == pa.list_(pa.string())
    assert table.schema.field("faithfulness").type == pa.float64()
    pq.write_table(pa.table({"n": list(range(6)), "sql": sqls[:6]}), tmp_path / "in.parquet")
    r = run("describe", "--parquet", tmp_path / "in.parquet")  # no --out: JSON lines on stdout
    assert r.exit_code == 0
    assert [json.loads(x)["description"] for x in r.stdout.splitlines()] == [describe(s).text for s in sqls[:6]]


def test_an_output_that_cannot_be_written_is_a_clear_error(log_file, tmp_path):
    r = run("describe", "--jsonl", log_file, "--out", tmp_path / "no" / "such" / "dir" / "out.jsonl")
    assert r.exit_code == 1 and "Cannot write" in r.output and "No such file or directory" in r.output
    assert "unexpected" not in r.output
    r = run("describe", "--jsonl", tmp_path / "missing.jsonl")
    assert r.exit_code == 1 and "does not exist" in r.output


def test_an_interrupted_run_is_not_overwritten_and_a_changed_input_not_resumed(log_file, tmp_path):
    out = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.partial").write_text('{"id": 0}\n')
    r = run("describe", "--jsonl", log_file, "--out", out)
    assert r.exit_code == 1 and "--resume" in r.output and (tmp_path / "out.jsonl.partial").exists()
    src = write_jsonl(tmp_path / "in.jsonl", [{"sql": s} for s in statements(30)])
    assert run("describe", "--jsonl", src, "--out", out, "--resume", "--checkpoint-every", "10").exit_code == 0
    assert len(read_jsonl(out)) == 30  # (no checkpoint: it started over)
    from sql2nl.records import Checkpoint

    (tmp_path / "out.jsonl.partial").write_text(out.read_text()[:200])
    Checkpoint(tmp_path / "out.jsonl.partial.ckpt").save({"records": 1, "bytes": 10, "digest": "0" * 64})
    r = run("describe", "--jsonl", src, "--out", out, "--resume")
    assert r.exit_code == 1 and "not the input the interrupted run read" in r.output


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
def test_a_killed_run_resumes_without_losing_or_repeating_a_record(tmp_path):
    n = 6000
    src = write_jsonl(tmp_path / "big.jsonl", [{"id": i, "sql": s} for i, s in enumerate(statements(n))])
    out, ckpt = tmp_path / "out.jsonl", tmp_path / "out.jsonl.partial.ckpt"
    exe = [
        sys.executable,
        "-m",
        "sql2nl.cli",
        "describe",
        "--jsonl",
        str(src),
        "--out",
        str(out),
        "--workers",
        "2",
        "--checkpoint-every",
        "100",
        "--no-progress",
    ]
    proc = subprocess.Popen(exe, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    saved = 0
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if ckpt.exists():
            saved = json.loads(ckpt.read_text())["records"]
            if saved >= 300:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    workers = children(proc.pid)
    assert workers, "the run should describe in worker processes"
    os.kill(proc.pid, signal.SIGKILL)  # mid-run, with no chance to clean up or to stop its workers
    proc.wait()
    deadline = time.monotonic() + 30
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if alive(w)]
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    assert not left, "worker processes outlived the killed run"
    assert not out.exists() and (tmp_path / "out.jsonl.partial").exists() and saved >= 300
    resumed = subprocess.run(exe + ["--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "from the interrupted run" in resumed.stderr
    got = read_jsonl(out)
    assert [g["id"] for g in got] == list(range(n))  # none lost, none twice, in order
    for g in got[::97]:
        assert g["description"] == describe(g["sql"]).text
    assert not (tmp_path / "out.jsonl.partial").exists() and not ckpt.exists()


def test_on_error_raise_stops_at_the_bad_record_and_resumes_once_it_is_fixed(tmp_path):
    sqls = statements(8)
    rows = [{"id": i, "sql": s} for i, s in enumerate(sqls)]
    rows[5]["sql"] = "SELECT name FROM users WHERE"
    src, out = write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    r = run("describe", "--jsonl", src, "--out", out, "--on-error", "raise")
    assert r.exit_code == 1 and "Error: line 6: Could not parse the SQL" in r.output and not out.exists()
    rows[5]["sql"] = sqls[5]  # fixed
    write_jsonl(src, rows)
    r = run("describe", "--jsonl", src, "--out", out, "--resume", "--on-error", "raise")
    assert r.exit_code == 0 and "after 5 from the interrupted run" in r.stderr
    assert [g["description"] for g in read_jsonl(out)] == [describe(s).text for s in sqls]


def test_a_dead_worker_stops_the_run_with_what_was_written_kept(recording, tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "MIN_PARALLEL", 0)
    monkeypatch.setattr(pool, "CHUNK_SIZE", 4)
    rows = [{"id": i, "sql": s} for i, s in enumerate(statements(300))]
    rows[250]["sql"] = "SELECT boom FROM t"
    src, out = write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    r = run(
        "describe",
        "--jsonl",
        src,
        "--out",
        out,
        "--workers",
        "2",
        "-b",
        "test-recording",
        "-o",
        f"log={recording}",
        "-o",
        "die_on=boom",
    )
    assert r.exit_code == 1 and "worker process died" in r.output and "--resume" in r.output
    saved = json.loads((tmp_path / "out.jsonl.partial.ckpt").read_text())["records"]
    assert 0 < saved <= 250 and not out.exists()
    kept = read_jsonl(tmp_path / "out.jsonl.partial")
    assert [g["id"] for g in kept[:saved]] == list(range(saved))
