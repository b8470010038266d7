"""The llamacpp backend's speed: sql2nl on top of llama.cpp vs raw ``llama_cpp.Llama`` calls.

    python benchmarks/bench_llamacpp.py --quick          # 6 prompts, 3 rounds, 64 new tokens
    python benchmarks/bench_llamacpp.py                  # 24 prompts, 5 rounds, 128 new tokens
    python benchmarks/bench_llamacpp.py --gguf FILE.gguf # any GGUF instead of the scratch model
    python benchmarks/bench_llamacpp.py --n-gpu-layers -1  # a CUDA build of llama-cpp-python

Without ``--gguf`` it builds a random-weight ``mini`` scratch Llama (sql2nl_training.scratch, a
tokenizer trained on Spider) and exports it with ``sql2nl_gguf.export`` to f16 and q8_0, cached in
benchmarks/out/. Same GGUF, same Spider queries, same prompts, same greedy settings:

* ``raw``: ``Llama.create_completion(prompt)`` on the already rendered prompt;
* ``describe``: ``sql2nl.describe(sql, backend="llamacpp", cache=False)`` — parsing, facts, prompt
  rendering through the GGUF's chat template, generation, think-stripping and the faithfulness guard;
* ``stream``: ``describe_stream`` (token-by-token, own UTF-8 decoding).

Both share one loaded model (the backend's), so threads and context are identical; the KV cache is
reset before every timed run, so each processes its whole prompt (no reuse of the previous one's).
Per prompt the methods run back to back in rotating order, each keeping its best time over the
rounds (wall time), so a burst from another process spoils one sample rather than the comparison. Overhead goal: ≤ 5 %. Prints a markdown table for RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SQL2NL_SPIDER_DIR", ROOT.parent / "shared" / "data" / "spider_s2t"))
OUT = ROOT / "benchmarks" / "out" / "llamacpp"


def spider(split: str, n: int | None = None) -> list[dict]:
    with open(DATA / f"{split}.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    if n:
        step = max(1, len(rows) // n)
        rows = rows[::step][:n]
    return rows


def scratch_gguf(size: str) -> Path:
    """A random-weight scratch model of ``size`` exported to GGUF (cached under benchmarks/out/)."""
    out = OUT / size
    if not (out / "gguf" / "manifest.json").is_file():
        from sql2nl.prompt import build_messages, render_prompt
        from sql2nl_gguf import export
        from sql2nl_training.scratch import build

        print(f"building a {size} scratch model and exporting it to GGUF in {out} ...", file=sys.stderr)
        texts = [render_prompt(build_messages(r["sql"])) + r["description"] for r in spider("train", 3000)]
        hf = build(size, texts, out / "hf")
        export(hf, out / "gguf", ("f16", "q8_0"), method="direct", verify=False)
    return out / "gguf"


def bench(
    gguf: Path,
    sqls: list[str],
    rounds: int,
    max_new: int,
    n_threads: int | None,
    n_gpu_layers: int,
    extra_buffers: str = "auto",
) -> dict:
    from sql2nl import describe
    from sql2nl.api import describe_stream
    from sql2nl.backends import clear_backend_instances, get_backend
    from sql2nl.prompt import build_messages, render_prompt

    opts = dict(
        model=str(gguf),
        max_new_tokens=max_new,
        n_threads=n_threads,
        n_gpu_layers=n_gpu_layers,
        extra_buffers=extra_buffers,
    )
    be = get_backend("llamacpp", **opts)
    llm = be.model.llm
    prompts = [render_prompt(build_messages(s), chat_template=be.chat_template) for s in sqls]

    def raw(i):
        r = llm.create_completion(prompts[i], max_tokens=max_new, temperature=0.0, stop=be.stop)
        return r["choices"][0]["text"], r["usage"]["completion_tokens"]

    def via_describe(i):
        return describe(sqls[i], backend="llamacpp", cache=False, **opts).text, None

    def via_stream(i):
        return "".join(describe_stream(sqls[i], backend="llamacpp", cache=False, **opts)), None

    methods = {"raw": raw, "describe": via_describe, "stream": via_stream}
    for fn in methods.values():  # warm-up: page the weights in, fill caches
        fn(0)
    # Per prompt, the methods run back to back (order rotating each round) and each keeps its best
    # time over the rounds: a burst from another process spoils one sample, not the comparison.
    best = {k: [float("inf")] * len(sqls) for k in methods}
    best_cpu = {k: [float("inf")] * len(sqls) for k in methods}
    outputs: dict = {k: [None] * len(sqls) for k in methods}
    names = list(methods)
    for rnd in range(rounds):
        for i in range(len(sqls)):
            k = (rnd + i) % len(names)
            for name in names[k:] + names[:k]:
                llm.reset()  # no KV-cache reuse from the previous run: every run processes its whole prompt
                t, c = time.perf_counter(), time.process_time()
                outputs[name][i] = methods[name](i)
                best_cpu[name][i] = min(best_cpu[name][i], time.process_time() - c)
                best[name][i] = min(best[name][i], time.perf_counter() - t)
    from sql2nl.prompt import strip_thinking

    texts = {k: [o[0] for o in v] for k, v in outputs.items()}
    n_tok = sum(o[1] for o in outputs["raw"])
    same = [strip_thinking(t, p) for t, p in zip(texts["raw"], prompts)] == texts["describe"]
    n_prompt = sum(len(llm.tokenize(p.encode(), add_bos=True, special=True)) for p in prompts)
    n_threads = llm.n_threads
    fixed = fixed_costs(be, sqls, texts["raw"])
    clear_backend_instances()
    return {
        "gguf": gguf.name,
        "extra_buffers": extra_buffers,
        "bytes": gguf.stat().st_size,
        "best_s": {k: sum(v) for k, v in best.items()},
        "best_cpu_s": {k: sum(v) for k, v in best_cpu.items()},
        "completion_tokens": n_tok,
        "prompt_tokens": n_prompt,
        "prompts": len(prompts),
        "same_text": same,
        "stream_same_text": texts["stream"] == texts["describe"],
        "n_threads": n_threads,
        "fixed_ms": fixed,
    }


def fixed_costs(be, sqls: list[str], raw_texts: list[str], reps: int = 20) -> dict:
    """ms per query of what the backend adds around generation, each the best of ``reps`` (pure Python, so
    a busy machine barely moves it): parse + facts, prompt rendering, the n_ctx check, the guard."""
    from sql2nl.backends import Request
    from sql2nl.facts import statement_facts
    from sql2nl.parsing import parse

    def best(fn):
        out = float("inf")
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            out = min(out, time.perf_counter() - t)
        return out / len(sqls) * 1000

    reqs = [Request(s, tuple(statement_facts(t) for t in parse(s))) for s in sqls]
    prompts = [be.prompt_for(r) for r in reqs]
    return {
        "parse+facts": best(lambda: [tuple(statement_facts(t) for t in parse(s)) for s in sqls]),
        "render prompt": best(lambda: [be.prompt_for(r) for r in reqs]),
        "n_ctx check": best(lambda: [be._tokens(p) for p in prompts]),
        "guard": best(lambda: [be.guard(r, p, o) for r, p, o in zip(reqs, prompts, raw_texts)]),
    }


def table(results: list[dict], args) -> str:
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, n_threads={results[0]['n_threads']}, "
        f"n_gpu_layers={args.n_gpu_layers}; llama-cpp-python {_version()}; {results[0]['prompts']} Spider queries, "
        f"max_new_tokens={args.max_new}, greedy, per prompt the best of {args.rounds} interleaved runs (wall time; CPU time of the whole process alongside), summed; tok/s = generated tokens / wall time including prompt processing.",
        "",
        "| GGUF | extra CPU buffers | size | prompt tok | gen tok | raw Llama s | describe s | overhead | stream s | overhead "
        "| overhead in CPU time (describe / stream) | tok/s raw | tok/s describe | same text |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        b, c = r["best_s"], r["best_cpu_s"]

        def ov(d, m):
            return f"{(d[m] - d['raw']) / d['raw'] * 100:+.1f} %"

        lines.append(
            f"| {r['gguf']} | {r['extra_buffers']} | {r['bytes'] / 2**20:.1f} MiB | {r['prompt_tokens']} | {r['completion_tokens']} | "
            f"{b['raw']:.3f} | {b['describe']:.3f} | {ov(b, 'describe')} | {b['stream']:.3f} | {ov(b, 'stream')} | "
            f"{ov(c, 'describe')} / {ov(c, 'stream')} | "
            f"{r['completion_tokens'] / b['raw']:.0f} | {r['completion_tokens'] / b['describe']:.0f} | "
            f"{'yes' if r['same_text'] and r['stream_same_text'] else 'NO'} |"
        )
    lines += [
        "",
        "Fixed cost the backend adds per query (ms, best of 20; pure Python), and as a share of a raw call:",
        "",
        "| GGUF | " + " | ".join(results[0]["fixed_ms"]) + " | total | share of raw call |",
        "|---|" + "---:|" * (len(results[0]["fixed_ms"]) + 2),
    ]
    for r in results:
        f = r["fixed_ms"]
        total = sum(f.values())
        per_call = r["best_s"]["raw"] / r["prompts"] * 1000
        lines.append(
            f"| {r['gguf']} | "
            + " | ".join(f"{v:.2f}" for v in f.values())
            + f" | {total:.2f} | {total / per_call * 100:.2f} % |"
        )
    return "\n".join(lines)


def _version() -> str:
    from importlib.metadata import version

    return version("llama_cpp_python")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="6 prompts, 3 rounds, 64 new tokens")
    ap.add_argument("--gguf", type=Path, action="append", help="GGUF file(s) to bench (default: the scratch model)")
    ap.add_argument("--size", default="mini", help="scratch model size when no --gguf (default mini)")
    ap.add_argument("--prompts", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--max-new", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="n_threads (default: llama.cpp's choice)")
    ap.add_argument("--n-gpu-layers", type=int, default=0)
    ap.add_argument(
        "--extra-buffers",
        default="auto",
        help="comma list of llama.cpp extra-CPU-buffer settings to compare: auto, on, off (default auto; "
        "on crashes quantized files on AMX CPUs)",
    )
    ap.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = ap.parse_args(argv)
    args.prompts = args.prompts or (6 if args.quick else 24)
    args.rounds = args.rounds or (3 if args.quick else 5)
    args.max_new = args.max_new or (64 if args.quick else 128)
    files = args.gguf or [scratch_gguf(args.size) / f"model.{q}.gguf" for q in ("q8_0", "f16")]
    sqls = [r["sql"] for r in spider("valid", args.prompts)]
    from sql2nl_llamacpp.cpu import describe_setting

    print(describe_setting(), file=sys.stderr)
    results = [
        bench(f, sqls, args.rounds, args.max_new, args.threads, args.n_gpu_layers, eb)
        for f in files
        for eb in args.extra_buffers.split(",")
    ]
    print(table(results, args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
