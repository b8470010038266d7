"""Query logs at scale on one host: statements/s of a plain describe() loop vs `sql2nl describe --workers N`.

    python benchmarks/bench_logs.py                       # 100,000 statements; loop, --workers 1, --workers 2
    python benchmarks/bench_logs.py --n 5000 --engines loop,workers2
    python benchmarks/bench_logs.py --json out.json
    python benchmarks/bench_logs.py --engines workers2,spark2cds --marginal 5   # + the cost per row

The input is a JSON-lines log of ``--n`` distinct Spider-like statements: the training
subpackage's synthetic query writer over every schema of Spider's ``tables.json``
(``sql2nl_training.synthetic.queries``), spread evenly, made distinct. Each engine reads that file
and writes the described records; the time is wall time of a fresh process (startup, reading,
describing, writing: what a user waits for), one engine after the other in one run (``--rounds R``:
on R slices of the log, each engine first in turn, times summed), with the CPU time of all its
processes (workers included) beside it. The load average is read before and after
each, because the machine may be shared. It prints a markdown table.

``--marginal K`` also runs every engine on every K-th statement of the log (the same mix, 1/K of
the rows) and reports the slope between the two sizes, ``(wall full - wall small) / (rows -
rows/K)``: what one more row costs once the engine has started. A SparkSession's start (the JVM,
its Python workers) is paid once per application, however many rows follow; the slope is Spark's
overhead per row, the start is the fixed cost beside it.

An engine is one function taking the input file and an output path and returning when the output
is complete; add one to ENGINES. An engine whose processes are not all reaped through it (Spark's
Python workers die with their daemon) returns its own CPU seconds instead of None.
The Spark engine (``spark2``: ``local[2]``, ``sql2nl.integrations.spark.describe_udf``, with
bench_spark.JVM_OPTIONS for a short job) lives in bench_spark.py; ``--engines workers2,spark2``
puts it beside the pool. ``spark2jvm`` runs it with the JVM's default options instead, and
``spark2cds`` with a class-data archive of Spark's classes, made before the timing by an untimed
run over the log's first 2,000 statements.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Beside the checkout (../shared), or beside the folder of worktrees it is in (../../shared).
DATA = Path(
    os.environ.get("SQL2NL_SPIDER_DIR")
    or next(
        (
            p / "shared" / "data" / "spider_s2t"
            for p in Path(__file__).resolve().parents[2:4]
            if (p / "shared" / "data" / "spider_s2t").is_dir()
        ),
        "spider_s2t",
    )
)


def make_log(path: Path, n: int, seed: int = 0) -> int:
    """Write ``n`` distinct statements (fewer if the schemas cannot give that many) as JSON lines."""
    from sql2nl.cache import fingerprint
    from sql2nl_training.synthetic import from_spider_tables, queries

    specs = [s for s in from_spider_tables(DATA / "tables.json") if any(s.tables.values())]
    seen: set[str] = set()
    sqls: list[str] = []
    per = n // len(specs) + 1
    rounds = 0
    while len(sqls) < n and rounds < 20:  # another seed round where small schemas ran out of variety
        for i, spec in enumerate(specs):
            for sql in queries(spec, per, seed=seed + 1000 * rounds + i):
                fp = fingerprint(sql)
                if fp not in seen:
                    seen.add(fp)
                    sqls.append(sql)
        rounds += 1
    sqls = sqls[:n]
    with open(path, "w", encoding="utf-8") as f:
        for i, sql in enumerate(sqls):
            f.write(json.dumps({"id": i, "sql": sql}) + "\n")
    return len(sqls)


def _slices(src: Path, rounds: int) -> list[Path]:
    if rounds <= 1:
        return [src]
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    size = -(-len(lines) // rounds)
    parts = []
    for i in range(rounds):
        part = src.with_name(f"slice{i}.jsonl")
        part.write_text("".join(lines[i * size : (i + 1) * size]), encoding="utf-8")
        parts.append(part)
    return parts


def _every(src: Path, k: int) -> Path:
    """Every ``k``-th record of ``src`` (the same mix of statements, 1/k of them) as another log."""
    small = src.with_name(f"every{k}.jsonl")
    with open(src, encoding="utf-8") as f:
        small.write_text("".join(line for i, line in enumerate(f) if i % k == 0), encoding="utf-8")
    return small


# -- engines: each runs in a fresh process and returns when OUT is complete -----------------------


def _cli(workers: int) -> Callable[[Path, Path], None]:
    def run(src: Path, out: Path) -> None:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sql2nl.cli",
                "describe",
                "--jsonl",
                str(src),
                "--out",
                str(out),
                "--workers",
                str(workers),
                "--no-cache",
                "--no-progress",
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    return run


def loop(src: Path, out: Path) -> None:
    """The plain way: read each record, describe() it, write it; one process."""
    subprocess.run([sys.executable, __file__, "--loop", str(src), str(out)], check=True)


def _loop_body(src: str, out: str) -> None:
    from sql2nl import Sql2NLError, describe

    with open(src, encoding="utf-8") as fin, open(out, "w", encoding="utf-8") as fout:
        for line in fin:
            rec = json.loads(line)
            try:
                d = describe(rec["sql"], cache=False)
                rec.update(description=d.text, warnings=d.warnings, error=None)
            except Sql2NLError as e:
                rec.update(description=None, warnings=[], error=str(e))
            fout.write(json.dumps(rec, ensure_ascii=False) + "\n")


def spark2(src: Path, out: Path, extra: list[str] | None = None) -> float:
    """Spark ``local[2]`` with ``describe_udf`` (see bench_spark.py); its CPU seconds."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_spark import spark_engine

    return spark_engine(2, extra)(src, out)


def spark2jvm(src: Path, out: Path) -> float:
    """``spark2`` with the JVM's default options (C2 compiler, G1 collector), for comparison."""
    return spark2(src, out, ["--jvm-options="])


def _cds_archive(src: Path) -> Path:
    return src.with_name("spark-classes.jsa")


def spark2cds(src: Path, out: Path) -> float:
    """``spark2`` with the JVM's class-data archive made beforehand (by :func:`make_cds_archive`)."""
    return spark2(src, out, ["--cds", str(_cds_archive(src))])


def make_cds_archive(src: Path) -> None:
    """Untimed: a Spark run over the log's first 2,000 statements that writes the class-data archive."""
    head = src.with_name("cds-warmup.jsonl")
    with open(src, encoding="utf-8") as f, open(head, "w", encoding="utf-8") as h:
        h.writelines(line for _, line in zip(range(2000), f))
    t0 = time.perf_counter()
    spark2(head, head.with_suffix(".out"), ["--cds", str(_cds_archive(src))])
    print(f"class-data archive made in {time.perf_counter() - t0:.1f} s (untimed)", file=sys.stderr)


#: name -> (label in the table, engine); the default run is the one-host engines (Spark only when asked).
ENGINES: dict[str, tuple[str, Callable[[Path, Path], float | None]]] = {
    "loop": ("plain `describe()` loop, 1 process", loop),
    "workers1": ("`sql2nl describe --jsonl --workers 1`", _cli(1)),
    "workers2": ("`sql2nl describe --jsonl --workers 2`", _cli(2)),
    "spark2": ("Spark `local[2]`, `describe_udf` (pandas UDF)", spark2),
    "spark2jvm": ("Spark `local[2]`, `describe_udf`, the JVM's default options", spark2jvm),
    "spark2cds": ("Spark `local[2]`, `describe_udf`, JVM class-data archive", spark2cds),
}
#: name -> untimed preparation, run once before the first round.
SETUP: dict[str, Callable[[Path], None]] = {"spark2cds": make_cds_archive}
DEFAULT_ENGINES = "loop,workers1,workers2"


# -- the run ----------------------------------------------------------------------------------------


def load() -> float:
    """The 1-minute load average (NaN where /proc is missing)."""
    try:
        return float(open("/proc/loadavg").read().split()[0])
    except OSError:
        return float("nan")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="distinct statements (default 100,000)")
    ap.add_argument(
        "--engines",
        default=DEFAULT_ENGINES,
        help=f"comma-separated, of {', '.join(ENGINES)} (default {DEFAULT_ENGINES})",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="split the log into this many slices and run the engines on each in turn (fairer on a "
        "machine whose load changes); times are summed",
    )
    ap.add_argument(
        "--marginal",
        type=int,
        metavar="K",
        help="also run each engine on every K-th statement of the log and report the cost per row "
        "beyond the fixed start: (full run - small run) / (rows - rows/K); Spark's overhead per row",
    )
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--loop", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.loop:
        _loop_body(*args.loop)
        return
    names = args.engines.split(",")
    unknown = [name for name in names if name not in ENGINES]
    if unknown:
        ap.error(f"unknown engine(s) {', '.join(unknown)}; choose among {', '.join(ENGINES)}")
    with tempfile.TemporaryDirectory(prefix="sql2nl-bench-logs-") as tmp:
        src = Path(tmp) / "log.jsonl"
        n = make_log(src, args.n)
        slices = _slices(src, args.rounds)
        small = _every(src, args.marginal) if args.marginal else None
        for name in names:
            if name in SETUP:
                SETUP[name](slices[0])
        print(f"{n:,} distinct statements in {len(slices)} slices; {machine()}", file=sys.stderr)
        runs = [(r, part) for r, part in enumerate(slices)] + ([(len(slices), small)] if small else [])
        results = {
            name: {
                "engine": name,
                "label": ENGINES[name][0],
                "seconds": 0.0,
                "cpu_seconds": 0.0,
                "records": 0,
                "load": [],
                "small_seconds": 0.0,
            }
            for name in names
        }
        for r, part in runs:
            for name in names[r % len(names) :] + names[: r % len(names)]:  # each engine first in turn
                res, fn = results[name], ENGINES[name][1]
                out = Path(tmp) / f"{name}.jsonl"
                res["load"].append(load())
                c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                own_cpu = fn(part, out)
                took = time.perf_counter() - t0
                res["load"].append(load())
                if part is small:
                    res["small_seconds"] = took
                    print(f"every {args.marginal}th: {name} {took:.1f} s (load {load():.2f})", file=sys.stderr)
                    continue
                res["seconds"] += took
                c1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the engine's processes, workers included
                res["cpu_seconds"] += (
                    c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime if own_cpu is None else own_cpu
                )
                res["records"] += sum(1 for _ in open(out, encoding="utf-8")) if out.exists() else 0
                print(f"slice {r + 1}: {name} {res['seconds']:.1f} s so far (load {load():.2f})", file=sys.stderr)
        results = list(results.values())
        n_small = sum(1 for _ in open(small, encoding="utf-8")) if small else 0
        for res in results:
            res["per_s"] = n / res["seconds"]
            if small:  # the slope between the two sizes: what one more row costs, the fixed start left out
                res["small_rows"] = n_small
                res["ms_per_row"] = 1000 * (res["seconds"] - res["small_seconds"]) / (n - n_small)
            res["load_min"], res["load_max"] = min(res["load"]), max(res["load"])  # (numbers: "10.3" < "9.9")
    base = next((r["per_s"] for r in results if r["engine"] == "loop"), results[0]["per_s"])
    marginal = "ms_per_row" in results[0]
    pool = next((r for r in results if r["engine"] == "workers2"), results[0])
    print(f"\n{n:,} distinct Spider-like statements; {machine()}\n")
    extra = f" wall s, every {args.marginal}th | ms per row beyond the start | vs the pool |" if marginal else ""
    print(
        "| engine | wall s | statements/s | vs loop | CPU s, all its processes | records out | load avg (min–max) |"
        + extra
    )
    print("|---|---:|---:|---:|---:|---:|---|" + ("---:|---:|---:|" if marginal else ""))
    for r in results:
        row = (
            f"| {r['label']} | {r['seconds']:.1f} | {r['per_s']:,.0f} | {r['per_s'] / base:.2f}× | "
            f"{r['cpu_seconds']:.1f} | {r['records']:,} | {r['load_min']:.2f}–{r['load_max']:.2f} |"
        )
        if marginal:
            row += (
                f" {r['small_seconds']:.1f} | {r['ms_per_row']:.3f} |"
                f" {100 * (r['ms_per_row'] / pool['ms_per_row'] - 1):+.0f} % |"
            )
        print(row)
    if args.json:
        Path(args.json).write_text(json.dumps({"n": n, "machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
