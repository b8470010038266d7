"""Generation speed of the transformers backend vs plain ``model.generate``, on a Llama-3-8B-shaped model.

Throughput does not depend on the weights, so the model is built with random bf16 weights straight
on the GPU (nothing downloaded). Prompts are real sql2nl prompts (the core's prompt format around
Spider-like SQL) of about ``--prompt-tokens`` tokens; every row generates exactly ``--new-tokens``
tokens (the special tokens' output rows are zeroed so greedy decoding never stops early).

Paths compared, at each batch size:
  * ``plain``      — ``model.generate(...)`` with its defaults (dynamic cache, eager);
  * ``backend``    — ``TransformersBackend.generate_tokens``, the code every ``describe`` call runs
    (on CUDA: the backend's own decode loop — prefill into a reused static KV cache, then one
    ``torch.compile``'d step per token replayed as a CUDA graph; see sql2nl_transformers/decoding.py);
  * ``backend-hf`` — the same backend with ``fast_decode=False``: HF ``generate`` around the static
    cache and a compiled forward (the previous fast path; opt-in, for comparison).

Full size (CUDA; about 5 minutes, most of it compiling):
    python benchmarks/bench_transformers_gpu.py --out benchmarks/out/transformers_gpu
    (add ``--paths plain,backend,backend-hf`` to time the previous HF-generate fast path too)
CPU smoke run (seconds; ``--fast-decode on`` runs the own decode loop, uncompiled, on the CPU):
    python benchmarks/bench_transformers_gpu.py --tiny --out /tmp/bench_tx
    python benchmarks/bench_transformers_gpu.py --tiny --fast-decode on --paths plain,backend,backend-hf --out /tmp/bench_tx
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

# The training benchmark's model shapes: both benchmarks measure the same models.
from training_setups import LLAMA3_8B, TINY

ROOT = Path(__file__).resolve().parents[1]
SPIDER = Path(os.environ.get("SQL2NL_SPIDER_DIR", ROOT.parent / "shared" / "data" / "spider_s2t"))


def sample_sqls(n: int = 400) -> list[str]:
    """Spider SQL from the shared data when present, else generated Spider-like statements."""
    path = SPIDER / "valid.jsonl"
    if path.is_file():
        with path.open(encoding="utf-8") as f:
            return [json.loads(line)["sql"] for line in f][:n]
    tables = [
        ("singer", ["name", "age", "country"]),
        ("concert", ["concert_name", "year", "stadium_id"]),
        ("stadium", ["name", "capacity", "location"]),
        ("song", ["title", "sales", "singer_id"]),
    ]
    out = []
    for i in range(n):
        t, cols = tables[i % len(tables)]
        c1, c2, c3 = cols
        shape = i % 4
        if shape == 0:
            out.append(f"SELECT {c1}, {c2} FROM {t} WHERE {c2} > {i} ORDER BY {c1} LIMIT {i % 9 + 1}")
        elif shape == 1:
            out.append(f"SELECT {c3}, count(*) FROM {t} GROUP BY {c3} HAVING count(*) > {i % 5} ORDER BY count(*) DESC")
        elif shape == 2:
            out.append(
                f"SELECT T1.{c1} FROM {t} AS T1 JOIN concert AS T2 ON T1.{c3} = T2.stadium_id "
                f"WHERE T2.year = {2000 + i % 20} AND T1.{c2} < {i * 7}"
            )
        else:
            out.append(f"SELECT avg({c2}), max({c2}) FROM {t} WHERE {c3} = 'value {i}' OR {c1} LIKE '%{i}%'")
    return out


def build(tiny: bool, device, dtype):
    """A random-weight Llama (8B-shaped, or tiny) built directly on ``device``, and a tokenizer for the prompts."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from sql2nl.prompt import build_messages, render_prompt
    from sql2nl_training.scratch import train_tokenizer

    sqls = sample_sqls()
    texts = [render_prompt(build_messages(s)) for s in sqls]
    tok = train_tokenizer(texts, vocab_size=1000 if tiny else 16000)
    spec = TINY if tiny else LLAMA3_8B
    cfg = LlamaConfig(
        **spec,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # weights are created in bf16: no fp32 copy of 8B parameters
    try:
        with torch.device(device):
            model = LlamaForCausalLM(cfg)
    finally:
        torch.set_default_dtype(previous)
    with torch.no_grad():  # greedy decoding never picks these tokens, so every row runs the full length
        model.lm_head.weight[[tok.bos_token_id, tok.eos_token_id, tok.pad_token_id]] = 0
    model.eval()
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    return model, tok, texts


def pick_prompts(tok, texts: list[str], count: int, target: int) -> list[str]:
    """The ``count`` prompts whose token length is closest to ``target``."""
    lengths = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: abs(lengths[i] - target))
    chosen = [texts[i] for i in order[:count]]
    while len(chosen) < count:
        chosen += chosen[: count - len(chosen)]
    return chosen


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def time_calls(fn, repeats: int, device) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        result = fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times, result


def reset_peak(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device) -> tuple[float | None, float | None]:
    import torch

    if device.type != "cuda":
        return None, None
    return torch.cuda.max_memory_allocated() / 2**30, torch.cuda.max_memory_reserved() / 2**30


def count_new(out, width: int, eos: int) -> int:
    total = 0
    for row in out[:, width:].tolist():
        total += next((i + 1 for i, t in enumerate(row) if t == eos), len(row))
    return total


def run_plain(model, tok, prompts, new_tokens, repeats, device) -> dict:
    batch = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    enc = {k: batch[k].to(device) for k in ("input_ids", "attention_mask")}
    width = enc["input_ids"].shape[1]

    def call():
        return model.generate(**enc, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)

    reset_peak(device)
    warm, _ = time_calls(call, 1, device)
    times, out = time_calls(call, repeats, device)
    tokens = count_new(out, width, tok.eos_token_id)
    return {
        "warmup_s": warm[0],
        "times_s": times,
        "new_tokens": tokens,
        "prompt_width": width,
        "peak": peak_gib(device),
    }


def run_backend(backend, prompts, repeats, device, warmups: int = 2) -> dict:
    from sql2nl.prompt import encode_prompt

    rows = [encode_prompt(backend.tokenizer, p) for p in prompts]

    def call():
        return backend.generate_tokens(rows)

    reset_peak(device)
    warm, _ = time_calls(call, warmups, device)  # 1st: compile + CUDA graph recording; 2nd: settles
    times, out = time_calls(call, repeats, device)
    tokens = sum(len(r) for r in out)
    e2e, _ = time_calls(lambda: backend.generate(prompts), 1, device)  # tokenize + generate + decode
    # Prefill alone (one new token, same cache shape): splits a call into prefill + per-token decode steps.
    options = backend.options
    backend.options = options.replace(max_new_tokens=1)
    try:
        prefill, _ = time_calls(call, repeats, device)
    finally:
        backend.options = options
    prefill_s = statistics.median(prefill)
    steps = max(max(map(len, out)) - 1, 1)
    peak = peak_gib(device)  # before the untimed reference run below
    return {
        "warmup_s": sum(warm),
        "times_s": times,
        "new_tokens": tokens,
        "prompt_width": max(map(len, rows)),
        "end_to_end_s": e2e[0],
        "prefill_s": prefill_s,
        "agreement": agreement(backend, rows, out),
        "decode_step_ms": 1000 * (statistics.median(times) - prefill_s) / steps,
        "peak": peak,
    }


def agreement(backend, rows, out) -> float:
    """Sanity check, not a test: the mean share of each row's tokens that plain HF greedy ``generate``
    (eager, dynamic cache) on the same padded inputs also produces before the two first differ.

    With random bf16 weights the logits are nearly flat, so kernels that round differently (compiled
    vs eager, other batch shapes) may part ways after a while; a broken mask, position or cache
    shows as agreement near 0 from the first tokens on.
    """
    import torch

    enc = backend._pad([list(r) for r in rows])
    width = enc["input_ids"].shape[1]
    with torch.no_grad():
        ref = backend.model.generate(
            **enc, max_new_tokens=len(max(out, key=len)), do_sample=False, pad_token_id=backend.tokenizer.pad_token_id
        )[:, width:].tolist()
    shares = []
    for got, want in zip(out, ref):
        same = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        shares.append(same / max(len(got), 1))
    return sum(shares) / len(shares)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny model on whatever device there is (CPU smoke run)")
    ap.add_argument("--out", default="benchmarks/out/transformers_gpu", help="folder for results.json and results.md")
    ap.add_argument("--batch-sizes", default=None, help="comma-separated (default 1,32; tiny: 1,4)")
    ap.add_argument("--prompt-tokens", type=int, default=120)
    ap.add_argument("--new-tokens", type=int, default=None, help="default 64 (tiny: 16)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--paths", default="plain,backend", help="comma-separated: plain, backend, backend-hf")
    ap.add_argument("--compile", default="auto", choices=["auto", "on", "off"], help="the backend's compile option")
    ap.add_argument(
        "--fast-decode",
        default="auto",
        choices=["auto", "on", "off"],
        help="the backend's fast_decode option (own decode loop; auto = on with compile)",
    )
    args = ap.parse_args(argv)

    import torch
    import transformers

    from sql2nl_transformers.backend import TransformersBackend

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda" and not args.tiny:
        print("No CUDA GPU: the full-size benchmark needs one. Use --tiny for a CPU smoke run.", file=sys.stderr)
        return 2
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if device.type == "cpu":
        torch.set_num_threads(1)  # tiny matrices: more threads only fight other processes for the cores
    batch_sizes = [int(b) for b in (args.batch_sizes or ("1,4" if args.tiny else "1,32")).split(",")]
    new_tokens = args.new_tokens or (16 if args.tiny else 64)
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]

    t0 = time.perf_counter()
    model, tok, texts = build(args.tiny, device, dtype)
    build_s = time.perf_counter() - t0
    weights_gib = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**30
    print(f"model built in {build_s:.1f}s: {weights_gib:.2f} GiB of {dtype} weights on {device}", flush=True)
    opt = {"auto": "auto", "on": True, "off": False}
    common = dict(
        max_new_tokens=new_tokens,
        compile=opt[args.compile],
        batch_size=max(batch_sizes),
        static_cache=True if "on" in (args.compile, args.fast_decode) else "auto",
    )
    backends = {"backend": TransformersBackend.from_model(model, tok, fast_decode=opt[args.fast_decode], **common)}
    if "backend-hf" in paths:
        backends["backend-hf"] = TransformersBackend.from_model(model, tok, fast_decode=False, **common)
    backend = backends["backend"]

    rows, errors = [], []
    for bs in batch_sizes:
        prompts = pick_prompts(tok, texts, bs, args.prompt_tokens)
        for path in paths:
            print(f"-- {path}, batch {bs} ...", flush=True)
            if path not in ("plain", "backend", "backend-hf"):
                raise SystemExit(f"unknown path {path!r}")
            try:
                if path == "plain":
                    r = run_plain(model, tok, prompts, new_tokens, args.repeats, device)
                else:
                    r = run_backend(backends[path], prompts, args.repeats, device)
            except Exception as e:  # keep the other rows: a failed path is reported, not fatal
                import traceback

                traceback.print_exc()
                errors.append(f"{path}, batch {bs}: {type(e).__name__}: {e}")
                continue
            med = statistics.median(r["times_s"])
            r.update(
                path=path,
                batch=bs,
                median_s=med,
                tok_per_s=r["new_tokens"] / med,
                peak_allocated_gib=r["peak"][0],
                peak_reserved_gib=r["peak"][1],
            )
            del r["peak"]
            rows.append(r)
            mem = (
                f", peak {r['peak_allocated_gib']:.1f} GiB allocated / {r['peak_reserved_gib']:.1f} GiB reserved"
                if r["peak_allocated_gib"] is not None
                else ""
            )
            print(
                f"   {r['tok_per_s']:.1f} new tok/s ({r['new_tokens']} tokens in {med:.3f}s, warmup "
                f"{r['warmup_s']:.1f}s{mem})",
                flush=True,
            )

    env = {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "dtype": str(dtype),
        "model": "tiny" if args.tiny else "Llama-3-8B shape (random weights)",
        "weights_gib": weights_gib,
        "prompt_tokens_target": args.prompt_tokens,
        "new_tokens": new_tokens,
        "repeats": args.repeats,
        "backend_compile": backend.compile,
        "backend_static_cache": backend.static_cache,
        "backend_fast_decode": backend.fast_decode,
        "backend_fullgraph": backend._fullgraph,
        "overall_peak_allocated_gib": (torch.cuda.max_memory_allocated() / 2**30) if device.type == "cuda" else None,
        "compile_counters": compile_counters(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"env": env, "results": rows, "errors": errors}, indent=2), encoding="utf-8"
    )
    table = markdown(env, rows) + "".join(f"\nFAILED: {e}\n" for e in errors)
    (out / "results.md").write_text(table, encoding="utf-8")
    print()
    print(table)
    if device.type == "cuda":
        print(f"peak GPU memory over the whole run: {env['overall_peak_allocated_gib']:.1f} GiB allocated")
    return 1 if errors else 0


def compile_counters() -> dict:
    """torch.compile's own tallies: graphs compiled, graph breaks, CUDA-graph skips (each skip means a
    compiled step ran without CUDA graphs — look for "skipping cudagraphs" in the log for the reason)."""
    from torch._dynamo.utils import counters

    return {
        "unique_graphs": counters["stats"]["unique_graphs"],
        "graph_breaks": sum(counters["graph_break"].values()),
        "cudagraph_skips": counters["inductor"]["cudagraph_skips"],
        "cudagraph_non_static_inputs_recorded": counters["inductor"]["cudagraph_recorded_non_static_inputs"],
    }


def markdown(env: dict, rows: list[dict]) -> str:
    head = (
        f"{env['model']}, {env['dtype']}, on {env['device']} (torch {env['torch']}, transformers "
        f"{env['transformers']}); ~{env['prompt_tokens_target']}-token prompts, {env['new_tokens']} new tokens, "
        f"median of {env['repeats']}. Backend: static cache={env['backend_static_cache']}, "
        f"compile={env['backend_compile']}, own decode loop={env['backend_fast_decode']} "
        f"(step as one graph: {env['backend_fullgraph']}). torch.compile: {env['compile_counters']}.\n\n"
    )
    lines = [
        "| path | batch | prompt width | new tok/s | s per call | prefill s | ms per decode step | warmup s "
        "| peak alloc GiB | peak reserved GiB | same tokens as HF greedy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        pa = f"{r['peak_allocated_gib']:.1f}" if r["peak_allocated_gib"] is not None else "-"
        pr = f"{r['peak_reserved_gib']:.1f}" if r["peak_reserved_gib"] is not None else "-"
        pf = f"{r['prefill_s']:.3f}" if "prefill_s" in r else "-"
        ds = f"{r['decode_step_ms']:.2f}" if "decode_step_ms" in r else "-"
        ag = f"{100 * r['agreement']:.0f}%" if "agreement" in r else "-"
        lines.append(
            f"| {r['path']} | {r['batch']} | {r['prompt_width']} | {r['tok_per_s']:.1f} | "
            f"{r['median_s']:.3f} | {pf} | {ds} | {r['warmup_s']:.1f} | {pa} | {pr} | {ag} |"
        )
    return head + "\n".join(lines) + "\n" + goals(env, rows)


GOALS = {1: 100.0, 32: 3000.0}  # new tok/s the backend should reach at these batch sizes
MEMORY_GOAL_GIB = 40.0


def goals(env: dict, rows: list[dict]) -> str:
    """One line per goal of the issue (full-size runs only), saying whether this run met it."""
    if env["model"] == "tiny":
        return ""
    out = []
    for r in rows:
        if r["path"] == "backend" and r["batch"] in GOALS:
            ok = r["tok_per_s"] >= GOALS[r["batch"]]
            out.append(
                f"- batch {r['batch']}: {r['tok_per_s']:.0f} new tok/s (goal >= {GOALS[r['batch']]:.0f}): "
                f"{'met' if ok else 'NOT met'}"
            )
    peak = env.get("overall_peak_allocated_gib")
    if peak is not None:
        out.append(
            f"- peak GPU memory {peak:.1f} GiB allocated (goal <= {MEMORY_GOAL_GIB:.0f}): "
            f"{'met' if peak <= MEMORY_GOAL_GIB else 'NOT met'}"
        )
    return ("\n" + "\n".join(out) + "\n") if out else ""


if __name__ == "__main__":
    sys.exit(main())
