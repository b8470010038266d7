"""The Spark engine of benchmarks/bench_logs.py: describe a JSON-lines query log with Spark ``local[N]``.

    python benchmarks/bench_logs.py --engines workers2,spark2          # side by side with the pool
    python benchmarks/bench_spark.py IN.jsonl OUT.jsonl [--cores 2]     # this engine alone

A fresh process starts a SparkSession (``local[N]``, Arrow on, loopback, no UI, the driver JVM's
options for a short job: :data:`JVM_OPTIONS`, and with ``--cds`` a class-data archive), reads the log with
Spark's JSON reader split into 2N partitions (no shuffle), adds ``describe_udf(cache=False)`` (as
the other engines run with ``--no-cache``), writes JSON lines with Spark's writer and joins the part
files, in order, into OUT. Its wall time therefore includes the JVM's start, reading and writing:
what a user waits for, as for the other engines. It prints the session's start-up and the job's
own time on stderr, so the per-row overhead can be told apart from the fixed cost.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sql2nl.integrations.spark import SHORT_JOB_JVM_OPTIONS

#: The driver JVM's options (in ``local[N]`` it is also the executor): the library's short-job options.
JVM_OPTIONS = SHORT_JOB_JVM_OPTIONS


def cds_options(archive: Path) -> str:
    """JVM options for a class-data archive (AppCDS, JDK 13+): the JVM maps the classes Spark loads
    from ``archive`` instead of reading, parsing and verifying them from 280 jars; the run that finds
    no archive there writes one when its JVM exits (a few seconds; JDK 19+ can do both with
    ``-XX:+AutoCreateSharedArchive``). The archive belongs to one JDK and one Spark classpath."""
    if archive.exists():
        return f"-XX:SharedArchiveFile={archive}"
    return f"-XX:ArchiveClassesAtExit={archive} -Xlog:cds=off -Xlog:cds+dynamic=off"


def spark_engine(cores: int, extra: list[str] | None = None) -> Callable[[Path, Path], float]:
    """An engine for bench_logs.ENGINES: ``run(src, out)`` returns when ``out`` is complete, with the
    CPU seconds of every process Spark started (the JVM, its Python daemon and workers): some of
    them are not reaped through the engine's process, so its children's rusage would miss them.
    ``extra``: more arguments of this script (``--cds ARCHIVE``...)."""

    def run(src: Path, out: Path) -> float:
        stats = out.with_name(out.name + ".stats.json")
        subprocess.run(
            [
                sys.executable,
                __file__,
                str(src),
                str(out),
                "--cores",
                str(cores),
                "--stats",
                str(stats),
                *(extra or []),
            ],
            check=True,
        )
        return json.loads(stats.read_text())["cpu"]

    return run


def tree_cpu() -> float:
    """CPU seconds of this process and all its descendants so far, the live ones and those reaped
    (Linux ``/proc``: each live process's own time plus that of the children it has waited for)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    times: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent[int(d.name)] = int(fields[1])
            times[int(d.name)] = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    tree, todo = set(), [os.getpid()]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += [c for c, pp in parent.items() if pp == pid and c not in tree]
    return sum(times.get(p, 0) for p in tree) / ticks


def describe_log(
    src: Path,
    out: Path,
    cores: int,
    jvm_options: str = JVM_OPTIONS,
    partitions_per_core: int = 2,
    conf: dict[str, str] | None = None,
) -> dict[str, float]:
    """Describe the JSON-lines log ``src`` into ``out`` with Spark ``local[cores]``; the timings."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    t0 = time.perf_counter()
    from pyspark.sql import SparkSession
    from pyspark.sql.functions import col

    from sql2nl.integrations.spark import describe_udf

    split = max(1 << 16, math.ceil(src.stat().st_size / (partitions_per_core * cores)))
    builder = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("sql2nl-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.files.maxPartitionBytes", str(split))
        .config("spark.driver.extraJavaOptions", jvm_options)
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    t1, cpu1 = time.perf_counter(), tree_cpu()
    log = spark.read.schema("id long, sql string").json(str(src))
    d = describe_udf(cache=False)(col("sql"))
    described = log.select("id", "sql", d.alias("d")).select(
        "id",
        "sql",
        col("d.text").alias("description"),
        col("d.warnings").alias("warnings"),
        col("d.faithfulness").alias("faithfulness"),
        col("d.fingerprint").alias("fingerprint"),
        col("d.error.message").alias("error"),
    )
    with tempfile.TemporaryDirectory(prefix="sql2nl-bench-spark-", dir=out.parent) as tmp:
        parts = Path(tmp) / "out"
        described.write.option("ignoreNullFields", "false").json(str(parts))
        partitions = sorted(parts.glob("part-*"))
        t2, cpu2 = time.perf_counter(), tree_cpu()
        with open(out, "wb") as f:  # part files are numbered in the input's order
            for p in partitions:
                with open(p, "rb") as part:
                    shutil.copyfileobj(part, f)
    gateway = spark.sparkContext._gateway
    spark.stop()
    proc = getattr(gateway, "proc", None)
    if proc is not None:  # the JVM exits when its stdin closes: gone before the next engine starts
        proc.stdin.close()
        proc.wait(60)
    t3 = time.perf_counter()
    # (CPU sampled before stopping: Spark's Python workers die with its daemon, unreaped by this tree.)
    return {
        "start": t1 - t0,
        "job": t2 - t1,
        "join_stop": t3 - t2,
        "partitions": len(partitions),
        "cpu_start": cpu1,
        "cpu_job": cpu2 - cpu1,
        "cpu": cpu2,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--stats", type=Path, help="write the timings here (JSON)")
    ap.add_argument(
        "--jvm-options",
        default=JVM_OPTIONS,
        help=f"the driver JVM's options ('' for the JVM's defaults; default {JVM_OPTIONS!r})",
    )
    ap.add_argument("--cds", type=Path, metavar="ARCHIVE", help="use this class-data archive; make it if missing")
    ap.add_argument("--partitions-per-core", type=int, default=2, help="input splits per core (default 2)")
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="another Spark setting")
    args = ap.parse_args()
    conf = dict(c.split("=", 1) for c in args.conf)
    jvm_options = f"{args.jvm_options} {cds_options(args.cds)}" if args.cds else args.jvm_options
    t = describe_log(args.src, args.out, args.cores, jvm_options, args.partitions_per_core, conf)
    if args.stats:
        args.stats.write_text(json.dumps(t))
    print(
        f"spark local[{args.cores}]: session start {t['start']:.1f} s, job {t['job']:.1f} s over "
        f"{t['partitions']:.0f} partitions, join + stop {t['join_stop']:.1f} s; CPU s in all its processes: "
        f"{t['cpu']:.1f} ({t['cpu_start']:.1f} starting the session, {t['cpu_job']:.1f} in the job)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
