"""CPU time of finding the SQL in one chat message, by kind and size (the server's chat routes do this).

    python benchmarks/bench_chat_finder.py                                  # 0.6 ... 400 KB
    python benchmarks/bench_chat_finder.py --sizes 600,1300,2500,4000 --reps 1
    PYTHONPATH=/tmp/old/src python benchmarks/bench_chat_finder.py ...     # an older checkout

Calls ``sql2nl.server.messages.find_sql`` (present before and after the linear finder) in this
process and prints, per message kind (benchmarks/chat_messages.py) and size, the CPU seconds of
one call (the least of ``--reps``), µs per character, and how many times sqlglot parsed
something. Linear work shows as a flat µs/char column; ``--max-seconds`` skips the larger sizes of
a kind once one call took longer (the old finder needs minutes there).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chat_messages import KINDS, message


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="600,1300,2500,4000,40000,400000", help="Message sizes in characters.")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--reps", type=int, default=3, help="Calls per cell (the least CPU time is shown).")
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="Skip a kind's larger sizes once one call took longer than this.",
    )
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # sqlglot warns about each unsupported candidate

    import sqlglot

    from sql2nl import parsing
    from sql2nl.server import messages

    parses = [0]
    # Every parse goes through parsing._sqlglot_parse (sqlglot's parser, reused per thread);
    # older checkouts called sqlglot.parse directly.
    owner, attr = (parsing, "_sqlglot_parse") if hasattr(parsing, "_sqlglot_parse") else (sqlglot, "parse")
    real_parse = getattr(owner, attr)

    def counting_parse(*a, **k):
        parses[0] += 1
        return real_parse(*a, **k)

    setattr(owner, attr, counting_parse)
    finder = getattr(messages, "find_statements", None)  # the linear finder; absent before it
    caches = [
        c
        for c in (
            getattr(messages, "_find_sql_cached", None),
            getattr(sys.modules.get("sql2nl.server.finder"), "_find_cached", None),
        )
        if c is not None
    ]
    print(
        f"sql2nl from {Path(messages.__file__).parents[2]}; {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}, load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| kind | chars | CPU s per message | µs/char | sqlglot parses | statements (errors) | capped |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for kind in args.kinds.split(","):
        skip = False
        for size in (int(s) for s in args.sizes.split(",")):
            text = message(kind, size, seed=size)
            if skip:
                print(f"| {kind} | {len(text):,} | skipped | | | | |")
                continue
            best, found = float("inf"), []
            for _ in range(args.reps):
                for cached in caches:  # every call finds afresh
                    cached.cache_clear()
                parses[0] = 0
                t0 = time.process_time()
                found = messages.find_sql(text)
                best = min(best, time.process_time() - t0)
                calls = parses[0]
            search = finder(text) if finder is not None else None
            errors = sum(1 for f in search.found if f.error) if search else 0
            capped = (search.capped or "") if search else "n/a"
            print(
                f"| {kind} | {len(text):,} | {best:.3f} | {best / len(text) * 1e6:.1f} | {calls:,} | "
                f"{len(found)} ({errors}) | {capped} |",
                flush=True,
            )
            skip = best > args.max_seconds


if __name__ == "__main__":
    main()
