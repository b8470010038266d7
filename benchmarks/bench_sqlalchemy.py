"""Overhead of the SQLAlchemy hook: the same SQLite workload with the hook off and on, in one run.

    python benchmarks/bench_sqlalchemy.py            # 10,000 queries per setting
    python benchmarks/bench_sqlalchemy.py --quick    # 2,000 queries per setting

The workload is an application's usual mix through SQLAlchemy Core (bound parameters: lookups by
key, filtered and ordered reads, aggregates, updates, inserts). Settings run in interleaved
blocks (off, on, off, on...) so that drift of a shared machine hits them alike; the overhead is
the ratio of the summed times, and the median of per-round ratios is printed next to it. Three
measures: wall time; CPU time of the thread running the queries (what the hook adds to the user's
thread: the listener); CPU time of the whole process (adds the background describing and logging).

"on" is the default hook with the logger enabled and writing every record to a file (so the
describing and logging really happen); "on+comment" adds the SQL comment; "on+repeats" logs every
execution (``log_repeats=True``), which costs more and is shown for information. The describer
is imported once before timing (start-up cost, not per-query overhead). Wall time on a shared
machine is noisy; CPU time of the process (both threads) is the steadier measure.
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, event, func, insert, select, update

from sql2nl import describe
from sql2nl.integrations.sqlalchemy import LOGGER_NAME, Instrumentation

META = MetaData()
ITEMS = Table(
    "items",
    META,
    Column("id", Integer, primary_key=True),
    Column("name", String(40)),
    Column("category", Integer, index=True),
    Column("price", Integer),
    Column("stock", Integer),
)


def setup(engine) -> None:
    META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(ITEMS),
            [
                {"id": i, "name": f"item {i}", "category": i % 20, "price": (i * 37) % 500, "stock": i % 7}
                for i in range(1, 2001)
            ],
        )


def workload(conn, n: int, start: int) -> None:
    """``n`` queries; ``start`` shifts the parameters so that blocks do not repeat each other."""
    by_id = select(ITEMS.c.name, ITEMS.c.price).where(ITEMS.c.id == 0)
    for k in range(start, start + n):
        m = k % 10
        if m < 4:
            conn.execute(select(ITEMS.c.name, ITEMS.c.price).where(ITEMS.c.id == k % 2000 + 1)).all()
        elif m < 6:
            conn.execute(
                select(ITEMS)
                .where(ITEMS.c.category == k % 20, ITEMS.c.price < 250)
                .order_by(ITEMS.c.price.desc())
                .limit(5)
            ).all()
        elif m == 6:
            conn.execute(
                select(ITEMS.c.category, func.count(), func.avg(ITEMS.c.price))
                .where(ITEMS.c.stock > k % 7)
                .group_by(ITEMS.c.category)
            ).all()
        elif m == 7:
            conn.execute(update(ITEMS).where(ITEMS.c.id == k % 2000 + 1).values(stock=ITEMS.c.stock + 1))
        elif m == 8:
            conn.execute(insert(ITEMS), {"name": f"new {k}", "category": k % 20, "price": k % 500, "stock": 1})
        else:
            conn.execute(by_id, {"id_1": k % 2000 + 1}).all()


SETTINGS = {
    "off": None,
    "on": {},
    "on+comment": {"comment": True},
    "on+repeats": {"log_repeats": True},
}


def listener_cost(engine, hooks) -> None:
    """The listener alone, called directly: what the hook adds to a query already seen."""
    import timeit

    with engine.connect() as conn:
        stmt = str(select(ITEMS.c.name).where(ITEMS.c.id == 1).compile(engine))
        for name, h in hooks.items():
            h._listener(conn, None, stmt, (), None, False)  # first sight: queued / commented once
            h.flush()
            n = 200_000
            t = min(timeit.repeat(lambda h=h: h._listener(conn, None, stmt, (), None, False), number=n, repeat=5))
            print(f"listener call ({name}): {t / n * 1e9:.0f} ns")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=10_000, help="queries per setting")
    ap.add_argument("--rounds", type=int, default=50, help="interleaved blocks per setting")
    ap.add_argument("--quick", action="store_true", help="2,000 queries per setting, 10 rounds")
    ap.add_argument("--settings", default="off,on,on+comment,on+repeats")
    args = ap.parse_args(argv)
    if args.quick:
        args.queries, args.rounds = 2_000, 10
    names = args.settings.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="sql2nl-bench-"))
    engine = create_engine(f"sqlite:///{tmp / 'bench.db'}")
    setup(engine)
    log = logging.getLogger(LOGGER_NAME)
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(tmp / "sql2nl.log")
    log.addHandler(handler)

    per_block = args.queries // args.rounds
    times = {n: [] for n in names}
    cpu = {n: [] for n in names}
    own = {n: [] for n in names}
    # One hook per setting, made once as a program would, and attached only during its blocks.
    hooks = {n: Instrumentation(engine, **SETTINGS[n]) for n in names if SETTINGS[n] is not None}
    for h in hooks.values():
        event.remove(engine, "before_cursor_execute", h._listener)
    offset = 0
    with engine.connect() as conn:
        workload(conn, 200, 10**6)  # warm SQLAlchemy's compiled cache and the SQLite page cache
        # One-time import of the describer (tens of ms) is start-up cost, not per-query overhead.
        describe("SELECT name FROM items WHERE id = 1", dialect="sqlite")
        conn.commit()
        for r in range(args.rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                hook = hooks.get(name)
                if hook is not None:
                    event.listen(engine, "before_cursor_execute", hook._listener, retval=hook.comment)
                t0, c0, o0 = time.perf_counter(), time.process_time(), time.thread_time()
                workload(conn, per_block, offset)
                conn.commit()
                own[name].append(time.thread_time() - o0)
                if hook is not None:  # the background thread's work counts too
                    event.remove(engine, "before_cursor_execute", hook._listener)
                    hook.flush(timeout=30)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
                offset += per_block
    handler.close()
    records = sum(1 for _ in open(tmp / "sql2nl.log", encoding="utf-8"))

    base = sum(times["off"])
    print(
        f"# {per_block * args.rounds:,} queries per setting in {args.rounds} interleaved rounds; "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"SQLAlchemy {__import__('sqlalchemy').__version__}"
    )
    base_cpu = sum(cpu["off"])
    base_own = sum(own["off"])
    print(
        "| setting | wall s | µs/query | wall overhead (sum) | (median of rounds) | query-thread CPU overhead "
        "| process CPU overhead |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in names:
        total = sum(times[name])
        ratios = [t / b for t, b in zip(times[name], times["off"])]
        print(
            f"| {name} | {total:.3f} | {total / (per_block * args.rounds) * 1e6:.1f} | "
            f"{(total / base - 1) * 100:+.2f} % | {(statistics.median(ratios) - 1) * 100:+.2f} % | "
            f"{(sum(own[name]) / base_own - 1) * 100:+.2f} % | {(sum(cpu[name]) / base_cpu - 1) * 100:+.2f} % |"
        )
    for name, h in hooks.items():
        print(f"{name}: {h.stats()}")
    listener_cost(engine, hooks)
    print(f"records in the log file: {records:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
