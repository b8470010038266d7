"""How long a GGUF export takes: tool preparation, direct path and Unsloth path, with the verification split out.

    python benchmarks/bench_gguf_export.py --quick          # tiny model, direct path only
    python benchmarks/bench_gguf_export.py                  # tiny + mini models, direct and Unsloth paths
    python benchmarks/bench_gguf_export.py --sizes small --methods direct --quants f16,q8_0,q4_k_m

Prints a Markdown table (for benchmarks/RESULTS.md, section "GGUF export") and writes
benchmarks/out/gguf_export.json. Uses a scratch model (sql2nl_training.scratch); nothing from a hub.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny model, direct path, f16+q8_0 only")
    ap.add_argument("--sizes", default="tiny,mini", help="scratch sizes (tiny, mini, small, base)")
    ap.add_argument("--methods", default="direct,unsloth")
    ap.add_argument("--quants", default="f16,q8_0,q4_k_m")
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "gguf_export.json"))
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.methods, args.quants = "tiny", "direct", "f16,q8_0"

    from sql2nl.prompt import LANGUAGES, build_messages, render_prompt
    from sql2nl_gguf import export
    from sql2nl_gguf.export import unsloth_available
    from sql2nl_gguf.tools import installed_version, prepare_llama_cpp_tools
    from sql2nl_training.scratch import build

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sdist = os.environ.get("SQL2NL_LLAMA_CPP_SDIST")
        t = time.perf_counter()
        tools = prepare_llama_cpp_tools(tmp / "tools", sdist=sdist)  # fresh folder: what a first export pays
        prep_s = time.perf_counter() - t
        t = time.perf_counter()
        prepare_llama_cpp_tools(tmp / "tools")
        cached_s = time.perf_counter() - t
        texts = [
            render_prompt(build_messages(f"SELECT c{i} FROM t{i} WHERE x > {i}", language=lang)) + f"Row {i}."
            for i in range(200)
            for lang in LANGUAGES
        ]
        for size in args.sizes.split(","):
            model = build(size, texts, tmp / f"hf-{size}")
            weights = sum(p.stat().st_size for p in model.glob("*.safetensors"))
            for method in args.methods.split(","):
                if method == "unsloth" and not unsloth_available():
                    print("unsloth not installed: skipping the Unsloth path")
                    continue
                t = time.perf_counter()
                m = export(model, tmp / f"out-{size}-{method}", args.quants, method=method, tools=tools)
                wall = time.perf_counter() - t
                rows.append(
                    {
                        "size": size,
                        "method": method,
                        "quants": args.quants,
                        "weights_mb": round(weights / 1e6, 2),
                        "convert_s": m["seconds"]["convert"],
                        "verify_s": round(m["seconds"]["total"] - m["seconds"]["convert"], 2),
                        "wall_s": round(wall, 2),
                        "agreement": {
                            q: e["greedy_agreement"]["token_agreement"] for q, e in m["quantizations"].items()
                        },
                        "teacher_forced": {
                            q: e["greedy_agreement"]["teacher_forced"] for q, e in m["quantizations"].items()
                        },
                        "parity_ok": m["verification"]["tokenizer_parity"]["ok"],
                    }
                )
                print(rows[-1], flush=True)
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "llama_cpp_python": installed_version(),
        "tools_prepare_s": round(prep_s, 2),
        "tools_cached_s": round(cached_s, 4),
        "sdist_from": "file" if sdist else "pip download",
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(
        f"\nTool folder: prepared in {prep_s:.1f}s (sdist {result['sdist_from']}), cached lookup {cached_s * 1000:.1f} ms"
    )
    print(
        "\n| model | method | quants | weights MB | convert+quantize s | verify s | total s "
        "| greedy agreement: free-running / teacher-forced | parity |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        agree = ", ".join(f"{q} {a:.0%} / {r['teacher_forced'][q]:.0%}" for q, a in r["agreement"].items())
        print(
            f"| {r['size']} | {r['method']} | {r['quants']} | {r['weights_mb']} | {r['convert_s']:.1f} | "
            f"{r['verify_s']:.1f} | {r['wall_s']:.1f} | {agree} | {'ok' if r['parity_ok'] else 'FAIL'} |"
        )


if __name__ == "__main__":
    main()
