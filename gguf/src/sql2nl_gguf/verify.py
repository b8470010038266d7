"""Is the GGUF the same model? Tokenizer parity and greedy agreement against the Hugging Face original.

* Tokenizer parity: the HF tokenizer and the GGUF vocabulary (read alone, without weights or context)
  must give identical ids on a sample of SQL, English and Chinese prose, and sql2nl prompts —
  this is what proves a pre-tokenizer mapping (:mod:`sql2nl_gguf.pretokenizer`) right.
* Greedy agreement: the same prompt ids (built with :mod:`sql2nl.prompt`) decoded greedily by the
  HF model and by each GGUF; ``token_agreement`` is the mean fraction of the HF continuation that
  the GGUF reproduces before diverging, ``exact`` the fraction of prompts reproduced entirely, and
  ``teacher_forced`` the fraction of the HF continuation's tokens that are also the GGUF's top-1
  when it is given the same prefix (robust to one early near-tie derailing the rest).

llama.cpp runs in a child process (:mod:`sql2nl_gguf.llama_child`), so a native crash on some CPU becomes
an :class:`~sql2nl_gguf.errors.ExportError` naming the file instead of a dead process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from . import llama_child

SAMPLE_SQL = [
    "SELECT name, country, age FROM singer ORDER BY age DESC",
    "SELECT count(*) FROM concert WHERE year = 2014 OR year = 2015",
    "SELECT T2.name FROM concert AS T1 JOIN stadium AS T2 ON T1.stadium_id = T2.stadium_id GROUP BY T1.stadium_id "
    "HAVING count(*) >= 2",
    "UPDATE employees SET salary = salary * 1.05 WHERE dept_id IN (3, 7) AND hired < '2020-01-01';",
    "select avg(price), max(price) from products where category like '%tea%' limit 10",
    "WITH t AS (SELECT a, ROW_NUMBER() OVER (PARTITION BY b ORDER BY c) AS rn FROM x) SELECT * FROM t WHERE rn = 1",
    'DELETE FROM "Order Items" WHERE qty <= 0\n\n-- tidy up\n',
]
SAMPLE_PROSE = [
    "Show the name, country and age of every singer, oldest first.",
    "How many concerts took place in 2014 or 2015?",
    "Raise salaries by 5% for departments 3 and 7 — only for people hired before 2020.",
    "  Leading spaces,\ttabs and\n\nblank lines; numbers like 3.14, 1,000,000 and 42nd.",
    "统计每个体育场举办的音乐会数量，只显示至少两场的体育场名称。",
    "Émilie's café — naïve façade, ½ price! 🦙🚀",
]
PROMPT_SQL = SAMPLE_SQL[:3] + ["SELECT title FROM books WHERE author_id = 12 ORDER BY published LIMIT 5"]


def _prompts(tokenizer) -> list[str]:
    from sql2nl.prompt import build_messages, render_prompt

    out = [render_prompt(build_messages(sql, language="en"), tokenizer) for sql in PROMPT_SQL]
    out.append(render_prompt(build_messages(PROMPT_SQL[1], language="zh"), tokenizer))
    return out


def tokenizer_parity(gguf: str | os.PathLike, tokenizer, texts: list[str] | None = None) -> dict:
    """Compare HF and GGUF token ids on ``texts`` (default: the SQL/prose/prompt sample).

    The GGUF side reads only the vocabulary (no weights, no context), in a child process.
    """
    texts = texts or SAMPLE_SQL + SAMPLE_PROSE + _prompts(tokenizer)
    gg = llama_child.run("tokenize", os.fspath(gguf), "the tokenizer", texts=texts)
    mismatches = []
    for t, gg_ids in zip(texts, gg["ids"]):
        hf = tokenizer.encode(t, add_special_tokens=False)
        if hf != gg_ids:
            mismatches.append({"text": t[:80], "hf": hf[:24], "gguf": gg_ids[:24]})
    # What each side adds by itself (BOS) must agree too, or prompts would differ by one token.
    hf_bos = tokenizer.encode("x", add_special_tokens=True) != tokenizer.encode("x", add_special_tokens=False)
    if hf_bos != gg["adds_bos"]:
        mismatches.append({"text": "<BOS handling>", "hf": [int(hf_bos)], "gguf": [int(gg["adds_bos"])]})
    return {"ok": not mismatches, "samples": len(texts) + 1, "mismatches": len(mismatches), "examples": mismatches[:3]}


def _hf_greedy(model, tokenizer, ids: list[int], n: int) -> list[int]:
    import torch

    eos = tokenizer.eos_token_id
    with torch.no_grad():
        out = model.generate(
            torch.tensor([ids], device=model.device),
            max_new_tokens=n,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos,
        )
    return out[0, len(ids) :].tolist()


def _agreement(ref: list[list[int]], got: list[list[int]]) -> dict:
    fracs, exact = [], 0
    for r, g in zip(ref, got):
        k = 0
        while k < min(len(r), len(g)) and r[k] == g[k]:
            k += 1
        fracs.append(k / max(len(r), 1))
        exact += int(r == g)
    return {
        "token_agreement": round(sum(fracs) / len(fracs), 4),
        "exact": round(exact / len(ref), 4),
        "prompts": len(ref),
    }


def greedy_agreement(
    model_dir: str | os.PathLike,
    ggufs: Mapping[str, str | os.PathLike],
    tokenizer,
    *,
    n_tokens: int = 16,
    model: Any = None,
) -> dict[str, dict]:
    """Greedy continuations of sql2nl prompts: HF model vs each GGUF in ``ggufs`` (``{quant: path}``)."""
    import torch
    from transformers import AutoModelForCausalLM

    if model is None:
        # On a GPU box the HF reference runs there in its own dtype; on a CPU in float32 (exact, and
        # bf16 matmuls are slow on most CPUs).
        if torch.cuda.is_available():
            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto")
            model = model.to("cuda")
        else:
            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    prompt_ids = [tokenizer.encode(p, add_special_tokens=True) for p in _prompts(tokenizer)]
    ref = [_hf_greedy(model, tokenizer, ids, n_tokens) for ids in prompt_ids]
    n_ctx = max(len(i) for i in prompt_ids) + n_tokens + 16
    out = {}
    for quant, path in ggufs.items():
        gg = llama_child.run(
            "greedy",
            os.fspath(path),
            f"the {quant} GGUF",
            prompts=prompt_ids,
            refs=ref,
            n_tokens=n_tokens,
            eos=tokenizer.eos_token_id,
            n_ctx=n_ctx,
        )
        out[quant] = _agreement(ref, gg["got"])
        # Free-running agreement stops counting at the first flip, which a near-tie in a barely trained model
        # causes; teacher-forced top-1 agreement judges every position on its own.
        forced = gg["forced"]
        out[quant]["teacher_forced"] = round(sum(k for k, _ in forced) / max(sum(n for _, n in forced), 1), 4)
    return out
