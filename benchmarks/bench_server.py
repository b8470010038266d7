"""Load benchmark for `sql2nl serve`: many concurrent loopback clients, rules backend.

    python benchmarks/bench_server.py            # 64 clients x 500 requests per scenario
    python benchmarks/bench_server.py --quick    # 64 clients x 50 requests
    python benchmarks/bench_server.py --scenarios chat-4k --requests 20 --pace 2   # users who read answers

The server runs as its own process (`python -m sql2nl.cli serve`, uvicorn with uvloop and
httptools when installed, access log off), so it has one core and the load generator the
other. The load generator is a small asyncio client speaking raw HTTP/1.1 over keep-alive
connections (httpx would spend more CPU than the server it measures). Each client sends its
requests one after another; latency is from writing the request to reading the whole body.

Scenarios:
  repeated  - /v1/describe with one statement: after the first, answers come from the server's cache
  distinct  - /v1/describe with a different Spider statement each time (parse + describe per request)
  distinct-text - the same, with "facts": false (an editor that shows only the text)
  chat      - /v1/chat/completions, DBeaver-like "explain" message, repeated statement
  chat-4k   - /v1/chat/completions, a different ~4 KB message each time, in turn each kind of
              benchmarks/chat_messages.py: prose without SQL, a valid query, one with a typo, an
              unclosed quote, an unclosed parenthesis, lines of broken statements, a ```sql block
              in prose (the server's cache cannot answer them: every one is searched and described)
  chat-4k-same - the same, one message of each kind sent again and again (answered from the cache
              after the first; clients asking the same at once share one computation)

Clients send their requests back to back (a closed loop: latency is then mostly the wait behind
the other 63 clients' requests), or with ``--pace S`` pause a random time averaging S seconds
before each request, as people reading the answers do (latency is then the request's own).

Prints a markdown table: requests/s, p50/p99/max latency, errors, and the CPU seconds the server
and the load generator used. On a shared machine the wall-clock rate depends on what else runs;
"server µs/req" (server CPU time per request) and "req/s per server core" (requests / server CPU
seconds) do not, and say what one core can serve.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import resource
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

SPIDER = Path(
    os.environ.get("SQL2NL_SPIDER_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "spider_s2t")
)
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.I)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(path: str, body: dict, port: int) -> bytes:
    data = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer bench\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


def statements(n: int) -> list[str]:
    """``n`` different statements: Spider's training SQL when available, else generated variants."""
    out: list[str] = []
    path = SPIDER / "train.jsonl"
    if path.exists():
        with path.open() as f:
            seen = set()
            for line in f:
                sql = json.loads(line)["sql"]
                if sql not in seen:
                    seen.add(sql)
                    out.append(sql)
    i = 0
    while len(out) < n:  # top up with distinct generated statements
        out.append(f"SELECT name, age FROM users WHERE age > {i} AND city = 'c{i}' ORDER BY name LIMIT {i % 50 + 1}")
        i += 1
    return out[:n]


async def client(
    port: int,
    reqs: list[bytes],
    latencies: list[float],
    errors: list[str],
    pace: float = 0.0,
    rng: random.Random | None = None,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for req in reqs:
            if pace and rng is not None:
                await asyncio.sleep(rng.expovariate(1 / pace))  # a person reading the last answer
                # The server closes a connection idle for 5 s (uvicorn's keep-alive): connect afresh,
                # as a browser or IDE would after a pause (loopback: well under a millisecond).
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            t0 = time.perf_counter()
            writer.write(req)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                m = _LENGTH.search(head)
                await reader.readexactly(int(m.group(1)) if m else 0)
            except (asyncio.IncompleteReadError, ConnectionError) as e:
                errors.append(type(e).__name__)
                return
            latencies.append(time.perf_counter() - t0)
            if head[9:12] != b"200":
                errors.append(head[9:12].decode())
    finally:
        writer.close()


async def run_load(port: int, per_client: list[list[bytes]], pace: float = 0.0) -> tuple[float, list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    t0 = time.perf_counter()
    await asyncio.gather(
        *(client(port, reqs, latencies, errors, pace, random.Random(i)) for i, reqs in enumerate(per_client))
    )
    return time.perf_counter() - t0, latencies, errors


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (uvicorn's workers), from Linux /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid_here = int(stat.parent.name)
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            continue
        if pid_here == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def start_server(port: int, workers: int, concurrency: int) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "sql2nl.cli",
        "serve",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--max-queue",
        "100000",
        "--workers",
        str(workers),
        "--concurrency",
        str(concurrency),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()}")
    proc.kill()
    raise SystemExit("server did not start within 60 s")


def chat_requests(total: int, port: int, distinct: bool = True) -> list[bytes]:
    """``total`` ~4 KB chat messages, the kinds of chat_messages.py in turn: all different, or
    (``distinct=False``) the same one message of each kind again and again."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from chat_messages import KINDS, message

    return [
        request(
            "/v1/chat/completions",
            {
                "model": "gpt-4o",
                "messages": [
                    {"role": "user", "content": message(KINDS[i % len(KINDS)], 4000, seed=i if distinct else 0)}
                ],
            },
            port,
        )
        for i in range(total)
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--requests", type=int, default=500, help="Requests per client.")
    ap.add_argument("--quick", action="store_true", help="50 requests per client.")
    ap.add_argument("--workers", type=int, default=1, help="Server processes (serve --workers).")
    ap.add_argument("--concurrency", type=int, default=4, help="Backend threads per process (serve --concurrency).")
    ap.add_argument("--scenarios", default="repeated,distinct,distinct-text,chat,chat-4k,chat-4k-same")
    ap.add_argument(
        "--pace", type=float, default=0.0, help="Mean seconds a client pauses before each request (0: back to back)."
    )
    args = ap.parse_args()
    if args.quick:
        args.requests = 50
    try:
        import uvloop

        uvloop.install()
        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"
    import importlib.util

    server_stack = (
        ("httptools" if importlib.util.find_spec("httptools") else "h11")
        + " + "
        + ("uvloop" if importlib.util.find_spec("uvloop") else "asyncio")
    )
    load_before = os.getloadavg()[0]
    port = free_port()
    proc = start_server(port, args.workers, args.concurrency)
    total = args.clients * args.requests
    rows = []
    try:
        one = "SELECT name FROM users WHERE age > 18 ORDER BY name LIMIT 10"
        chat_msg = {
            "model": "gpt-4o",
            "messages": [
                {
                    "role": "system",
                    "content": "Instructions:\n- You are the DBeaver AI assistant.\n- Use the same language as the user.",
                },
                {"role": "user", "content": f"Explain the following SQL query:\n{one}"},
            ],
        }
        warm = [[request("/v1/describe", {"sql": one}, port)] * 5 for _ in range(args.clients)]
        asyncio.run(run_load(port, warm))
        for name in args.scenarios.split(","):
            if name == "repeated":
                reqs = [request("/v1/describe", {"sql": one}, port)] * total
            elif name == "distinct":
                reqs = [request("/v1/describe", {"sql": s}, port) for s in statements(total)]
            elif name == "distinct-text":
                reqs = [
                    request("/v1/describe", {"sql": s, "facts": False}, port) for s in statements(2 * total)[total:]
                ]
            elif name == "chat":
                reqs = [request("/v1/chat/completions", chat_msg, port)] * total
            elif name == "chat-4k":
                reqs = chat_requests(total, port)
            elif name == "chat-4k-same":
                reqs = chat_requests(total, port, distinct=False)
            else:
                raise SystemExit(f"unknown scenario {name!r}")
            per_client = [reqs[i :: args.clients] for i in range(args.clients)]
            s0, c0 = cpu_seconds(proc.pid), own_cpu()
            wall, lat, errors = asyncio.run(run_load(port, per_client, args.pace))
            s1, c1 = cpu_seconds(proc.pid), own_cpu()
            lat.sort()
            rows.append(
                (
                    name,
                    len(lat),
                    len(errors),
                    len(lat) / wall,
                    pct(lat, 50) * 1e3,
                    pct(lat, 99) * 1e3,
                    lat[-1] * 1e3 if lat else float("nan"),
                    s1 - s0,
                    c1 - c0,
                    wall,
                )
            )
            print(f"{name}: {len(lat)} requests in {wall:.1f} s, {len(errors)} errors", file=sys.stderr)
            if errors:
                print(f"{name}: errors {dict(Counter(errors))}", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(10)
    pacing = f", each pausing {args.pace:g} s on average before a request" if args.pace else ", back to back"
    print(
        f"\n{args.clients} concurrent clients x {args.requests} requests per scenario{pacing}, rules backend; "
        f"server: uvicorn {server_stack}, {args.workers} process(es), {args.concurrency} backend threads each; load generator: raw HTTP/1.1 keep-alive on {loop_name}, "
        f"same machine ({os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"load average before: {load_before:.1f}).\n"
    )
    print(
        "| scenario | requests | errors | req/s | p50 ms | p99 ms | max ms | server CPU s | client CPU s "
        "| server µs/req | req/s per server core |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        per = r[7] / r[1] if r[1] else float("nan")
        print(
            f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:,.0f} | {r[4]:.1f} | {r[5]:.1f} | {r[6]:.1f} | {r[7]:.1f} | "
            f"{r[8]:.1f} | {per * 1e6:,.0f} | {1 / per if per else float('nan'):,.0f} |"
        )


if __name__ == "__main__":
    main()
