"""The Unsloth path: ``FastLanguageModel.from_pretrained(model_dir).save_pretrained_gguf(...)``, offline.

Unsloth is pointed at the prepared llama.cpp tool folder through ``UNSLOTH_LLAMA_CPP_PATH``
(where ``check_llama_cpp`` looks for ``llama-quantize`` and the converter),
``UNSLOTH_LLAMA_CPP_SCRIPTS_DIR`` (the converter it runs, with ``conversion/`` and ``gguf-py/``)
and ``UNSLOTH_LLAMA_CPP_OFFLINE=1`` (never clone, build or download). It runs in a child process
(:mod:`sql2nl_gguf.unsloth_runner`): Unsloth reads those variables when imported and patches
transformers process-wide.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from .convert import child_env
from .errors import ExportError


def unsloth_env(tools_dir: Path, pre_env: str | None) -> dict[str, str]:
    """The environment that makes Unsloth's exporter use ``tools_dir`` and stay offline."""
    env = child_env(tools_dir, pre_env)
    env.update(
        {
            "UNSLOTH_LLAMA_CPP_PATH": str(tools_dir),
            "UNSLOTH_LLAMA_CPP_SCRIPTS_DIR": str(tools_dir),
            "UNSLOTH_LLAMA_CPP_OFFLINE": "1",
            "UNSLOTH_AUTO_INSTALL": "0",  # never clone/build/wipe: a problem with the folder must fail, not "repair"
            "HF_HUB_OFFLINE": "1",  # a local model directory: nothing to fetch
            "TRANSFORMERS_OFFLINE": "1",
            "UNSLOTH_DISABLE_STATISTICS": "1",
        }
    )
    return env


def _quant_of(name: str, quants: list[str]) -> str | None:
    low = name.lower()
    for q in sorted(quants, key=len, reverse=True):
        if re.search(rf"[.\-_]{re.escape(q)}\.gguf$", low):
            return q
    return None


def export_unsloth(
    model_dir: Path,
    staging: Path,
    quantizations: list[str],
    tools_dir: Path,
    *,
    pre_env: str | None = None,
    stem: str = "model",
    progress=None,
) -> dict[str, Path]:
    """Run Unsloth's ``save_pretrained_gguf`` into ``staging``; return ``{quant: staged file}`` (f16 always)."""
    quants = list(quantizations) + ([] if "f16" in quantizations else ["f16"])  # f16 is the verification reference
    work = staging / "unsloth"
    result = staging / "unsloth-result.json"
    cmd = [sys.executable, "-m", "sql2nl_gguf.unsloth_runner", str(model_dir), str(work), ",".join(quants), str(result)]
    if progress:
        progress("running Unsloth's save_pretrained_gguf (child process)...")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=unsloth_env(tools_dir, pre_env), cwd=staging)
    if proc.returncode != 0 or not result.is_file():
        tail = (proc.stderr.strip() + "\n" + proc.stdout.strip())[-4000:]
        raise ExportError(f"Unsloth's GGUF export failed (exit {proc.returncode}):\n{tail}")
    files = [Path(f) for f in json.loads(result.read_text(encoding="utf-8")).get("gguf_files") or []]
    out: dict[str, Path] = {}
    for f in files:
        q = _quant_of(f.name, quants)
        if q and f.is_file():
            target = staging / f"{stem}.{q}.gguf"
            os.replace(f, target)
            out[q] = target
    missing = [q for q in quants if q not in out]
    if missing:
        raise ExportError(f"Unsloth's export did not produce {', '.join(missing)} (got {[f.name for f in files]}).")
    return out
