"""Tiny models for tests: a scratch Llama + tokenizer, LoRA adapters, merged models, run dirs, overfitting.

Everything here runs on a CPU in seconds and touches no hub. Shared by the transformers, GGUF and
training tests; keep it generic (no backend-specific code).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from sql2nl.prompt import LANGUAGES, PROMPT_VERSION, build_messages, encode_prompt, render_prompt, training_example

#: A handful of (sql, description) pairs: enough to train a tokenizer and to overfit on.
PAIRS = [
    ("SELECT name FROM singer WHERE age > 30", "Find the names of singers older than 30."),
    ("SELECT count(*) FROM concert WHERE year = 2014", "Count the concerts held in 2014."),
    ("SELECT title FROM song ORDER BY sales DESC LIMIT 3", "List the titles of the 3 songs with the highest sales."),
    ("SELECT country, avg(age) FROM singer GROUP BY country", "Show the average age of singers in each country."),
]
#: Pairs whose answers open with a reasoning block, as DeepSeek-R1 distills write them.
THINK_PAIRS = [
    (
        "SELECT name FROM stadium WHERE capacity > 5000",
        "<think>\nOne table, one filter on capacity.\n</think>\n\nList the names of stadiums with a capacity above 5000.",
    ),
    (
        "SELECT max(capacity) FROM stadium",
        "<think>\nAn aggregate over one column.\n</think>\n\nGive the largest stadium capacity.",
    ),
]


def corpus(pairs: Sequence[tuple[str, str]] = PAIRS, extra: Iterable[str] = ()) -> list[str]:
    """Texts to train a scratch tokenizer on: the rendered prompts (every language) and the descriptions."""
    texts = []
    for sql, desc in pairs:
        for lang in LANGUAGES:
            texts.append(render_prompt(build_messages(sql, language=lang)) + desc)
    texts += ["<think>", "</think>", *extra]
    return texts


def build_tiny(
    out_dir: str | Path, *, size: str = "tiny", pairs: Sequence[tuple[str, str]] = PAIRS, seed: int = 0, **overrides
) -> Path:
    """A random-weight scratch Llama + byte-level BPE tokenizer (sql2nl_training.scratch.build) in ``out_dir``."""
    from sql2nl_training.scratch import build

    return build(size, corpus(pairs), out_dir, seed=seed, **overrides)


def make_lora_adapter(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    r: int = 8,
    seed: int = 0,
    target_modules: Sequence[str] = ("q_proj", "k_proj", "v_proj", "o_proj"),
) -> Path:
    """A LoRA adapter for ``model_dir`` with random (non-zero) weights, so it really changes the outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    cfg = LoraConfig(
        r=r, lora_alpha=2 * r, target_modules=list(target_modules), init_lora_weights=False, task_type="CAUSAL_LM"
    )
    peft_model = get_peft_model(model, cfg)
    out = Path(out_dir)
    peft_model.save_pretrained(out)
    return out


def merge_adapter(model_dir: str | Path, adapter_dir: str | Path, out_dir: str | Path) -> Path:
    """Fold a LoRA adapter into its base and save the merged model (with the base's tokenizer)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(model_dir)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    out = Path(out_dir)
    merged.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)
    return out


def write_run_dir(
    run_dir: str | Path,
    *,
    base_model: str,
    adapter: str | None = "adapter",
    merged: str | None = None,
    prompt_version: str = PROMPT_VERSION,
    languages: Sequence[str] = ("en",),
) -> Path:
    """A training run's ``manifest.json`` (format sql2nl-run/1) pointing at artifacts inside ``run_dir``."""
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    artifacts: dict = {"gguf": {}}
    if adapter:
        artifacts["adapter"] = adapter
    if merged:
        artifacts["merged"] = merged
    manifest = {
        "format": "sql2nl-run/1",
        "base_model": base_model,
        "prompt_version": prompt_version,
        "languages": list(languages),
        "config": {},
        "metrics": {},
        "artifacts": artifacts,
    }
    (run / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return run


def overfit(
    model_dir: str | Path,
    pairs: Sequence[tuple[str, str]] = PAIRS,
    *,
    steps: int = 300,
    lr: float = 1e-2,
    language: str = "en",
    seed: int = 0,
    out_dir: str | Path | None = None,
) -> Path:
    """Train ``model_dir`` on ``pairs`` until it recites them; loss on the completion only.

    The examples come from :func:`sql2nl.prompt.training_example` rendered with the model's own
    tokenizer (chat template), exactly as training does, and are tokenized the way inference does
    (prompt ids + completion ids). Saves to ``out_dir`` (default: in place) and returns it.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    rows, labels = [], []
    for sql, desc in pairs:
        ex = training_example(sql, desc, language=language, tokenizer=tok)
        p_ids = encode_prompt(tok, ex["prompt"])
        c_ids = tok(ex["completion"], add_special_tokens=False)["input_ids"]
        rows.append(p_ids + c_ids)
        labels.append([-100] * len(p_ids) + c_ids)
    width = max(map(len, rows))
    pad = tok.pad_token_id
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    lab = torch.tensor([lb + [-100] * (width - len(lb)) for lb in labels])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=lab).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if loss.item() < 0.01:
            break
    model.eval()
    out = Path(out_dir) if out_dir is not None else Path(model_dir)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out
