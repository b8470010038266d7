"""The options the name ``smollm2`` stands for: the llamacpp backend, the base GGUF, the LoRA, fast defaults.

>>> from sql2nl import describe
>>> describe("SELECT name FROM singer WHERE age > 30", model="smollm2")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sql2nl.pool import worker_cpus
from sql2nl.prompt import PROMPT_VERSION

from . import files, merge

log = logging.getLogger("sql2nl.smollm2")

MODEL_NAME = "smollm2"
BACKEND = "llamacpp"

# Spider's descriptions are one sentence (the longest few dozen tokens); a shorter budget keeps a
# runaway answer from costing seconds. The system prompt is the same for every statement, so
# llama.cpp reuses its cached keys and values and each call only evaluates the statement's tokens.
MAX_NEW_TOKENS = 64
N_CTX = 2048  # prompts are ~100-300 tokens; 8,192 (trained) would reserve 4x the KV memory for nothing
# A 135M model leaves things out; sampling a few answers and keeping the one the checker scores
# best costs little next to answering with the rules describer (which throws the model's wording away).
# Samples at 0.5 rather than the library's 0.7 stay nearer the greedy answer's wording: on the 707
# unseen-database statements, BLEU 1-ref 21.62 against 21.33 at the same cost (RESULTS.md).
GUARD = {
    "on_unfaithful": "retry",
    "candidates": 3,
    "retries": 1,
    "sample_temperature": 0.5,
}


def default_threads() -> int:
    """Every core this process may use, at most 8 (a 135M model gains nothing beyond); in a worker of
    ``describe_many(workers=N)`` / ``--workers N``, its share of them (one process per core describes
    more statements a second than one process on every core: benchmarks/RESULTS.md)."""
    share = worker_cpus()
    if share is not None:
        return min(share, 8)
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def weights(base: Path, adapter: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """``{"model": merged GGUF}`` from the cache (built on first use), or ``{"model": base, "lora": adapter}``.

    The merged model is about 1.8x as fast on a CPU as llama.cpp's runtime LoRA
    (:mod:`sql2nl_smollm2.merge`); if it cannot be built (read-only cache, disk full), the adapter is
    applied at run time instead and a warning says why. ``SQL2NL_SMOLLM2_MERGE=off`` asks for that.
    """
    outtype = merge.setting()
    if outtype != "off":
        try:
            path = merge.merged_model(
                base,
                adapter,
                base_sha256=manifest["base"]["sha256"],  # checked against the file by check_base
                adapter_sha256=files.sha256_of(adapter),
                outtype=outtype,
            )
            return {"model": str(path)}
        except merge.MergeError as e:
            log.warning("%s; applying the LoRA at run time instead (slower)", e)
    return {"model": str(base), "lora": str(adapter)}


def model_options() -> dict[str, Any]:
    """Backend options for ``smollm2``: checks that the installed base is the one the adapter was trained on.

    The faithfulness guard is on: when the greedy answer is not perfect by the checker, two more
    are sampled and the best kept (best of 3), then one more try; if none is complete, the rules
    describer answers instead (each said in ``warnings`` and ``Description.guard``).
    """
    manifest = files.read_manifest()
    base = files.base_file()
    files.check_base(base, manifest)
    pv = manifest.get("prompt_version")
    if pv != PROMPT_VERSION:
        log.warning(
            "the smollm2 adapter was trained with prompt format %s but this sql2nl uses %s; "
            "its answers may degrade (upgrade sql2nl-smollm2)",
            pv,
            PROMPT_VERSION,
        )
    return {
        **weights(base, files.adapter_file(manifest), manifest),
        **GUARD,
        "max_new_tokens": MAX_NEW_TOKENS,
        "n_ctx": N_CTX,
        "n_threads": default_threads(),
    }
