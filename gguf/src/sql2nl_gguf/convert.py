"""The direct path: llama.cpp's ``convert_hf_to_gguf.py`` (from the tool folder) + our ``llama-quantize``.

No Unsloth involved; used when Unsloth is not installed or ``method="direct"``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .errors import ExportError
from .tools import PRE_TOKENIZER_ENV


def child_env(tools_dir: Path, pre_env: str | None) -> dict[str, str]:
    """Environment for converter/quantizer subprocesses: the tool folder's gguf-py, our Python, the pre-tokenizer map."""
    env = dict(os.environ)
    env["SQL2NL_PYTHON"] = sys.executable
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tools_dir / "gguf-py")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env.pop(PRE_TOKENIZER_ENV, None)
    if pre_env:
        env[PRE_TOKENIZER_ENV] = pre_env
    return env


def run_converter(
    model_dir: Path, out_file: Path, tools_dir: Path, *, outtype: str = "f16", pre_env: str | None = None
) -> Path:
    """Convert ``model_dir`` to one GGUF at ``out_file`` (which should be in a staging directory)."""
    cmd = [
        sys.executable,
        str(tools_dir / "convert_hf_to_gguf.py"),
        str(model_dir),
        "--outfile",
        str(out_file),
        "--outtype",
        outtype,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(tools_dir, pre_env), cwd=tools_dir)
    if proc.returncode != 0 or not out_file.is_file():
        tail = (proc.stderr or proc.stdout).strip()[-3000:]
        raise ExportError(f"llama.cpp's converter failed on {model_dir} (exit {proc.returncode}):\n{tail}")
    return out_file


def run_quantizer(src: Path, dst: Path, quant: str, tools_dir: Path, *, n_threads: int | None = None) -> Path:
    """Quantize with the tool folder's ``llama-quantize`` (the same executable Unsloth calls)."""
    cmd = [str(tools_dir / "llama-quantize"), str(src), str(dst), quant] + ([str(n_threads)] if n_threads else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(tools_dir, None))
    if proc.returncode != 0 or not dst.is_file():
        raise ExportError(
            f"llama-quantize failed for {quant} (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
        )
    return dst


def export_direct(
    model_dir: Path,
    staging: Path,
    quantizations: list[str],
    tools_dir: Path,
    *,
    pre_env: str | None = None,
    stem: str = "model",
    progress=None,
) -> dict[str, Path]:
    """Convert to f16 once, then quantize each requested type. Returns ``{quant: staged file}``."""
    out: dict[str, Path] = {}
    base = staging / f"{stem}.f16.gguf"
    run_converter(model_dir, base, tools_dir, outtype="f16", pre_env=pre_env)
    if progress:
        progress("f16")
    for q in quantizations:
        if q == "f16":
            out[q] = base
            continue
        target = staging / f"{stem}.{q}.gguf"
        if q in ("f32", "bf16"):  # a float type is not a quantization of f16: convert from the HF weights
            run_converter(model_dir, target, tools_dir, outtype=q, pre_env=pre_env)
        else:
            run_quantizer(base, target, q, tools_dir)
        out[q] = target
        if progress:
            progress(q)
    if "f16" not in out:
        out["f16"] = base  # kept in staging for verification, published only if asked for
    return out
