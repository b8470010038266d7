"""A PEFT LoRA adapter -> a GGUF LoRA adapter that llama.cpp applies to its base model at load.

>>> export_lora("runs/smollm2", "model.gguf", "adapter.gguf")   # doctest: +SKIP
{'file': 'adapter.gguf', 'bytes': 4934144, 'sha256': '...', 'rank': 8, 'alpha': 16.0, ...}

The conversion is llama.cpp's ``convert_lora_to_gguf.py`` from the prepared tool folder
(:mod:`sql2nl_gguf.tools`), i.e. from the very llama.cpp that will apply the adapter. It needs the
base model's ``config.json`` only; a GGUF base (e.g. the Q4_1 file a model plugin ships against)
has its config derived by transformers' GGUF reader. What a GGUF LoRA cannot carry is refused
up front with a message, not left to a converter traceback: fully trained layers
(``modules_to_save``, e.g. ``train_embeddings``), DoRA, and per-module ranks or alphas.
llama.cpp scales every adapter by alpha / rank, so an rsLoRA adapter (alpha / sqrt(rank)) is
written with the alpha that gives the same scale.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .convert import child_env
from .errors import ExportError
from .export import staging_dir
from .tools import resolve_tools

OUTTYPES = ("f32", "f16", "bf16", "q8_0")


def adapter_dir(path: str | os.PathLike) -> Path:
    """The PEFT adapter directory ``path`` names: itself, or a training run's ``adapter/``."""
    p = Path(path).expanduser()
    for cand in (p, p / "adapter"):
        if (cand / "adapter_config.json").is_file():
            return cand
    raise ExportError(
        f"{p} is neither a PEFT adapter directory (adapter_config.json) nor a training run with "
        "adapter/; give the directory `sql2nl train` or PEFT's save_pretrained wrote."
    )


def check_adapter_config(cfg: dict[str, Any], where: Path) -> float:
    """Refuse what a GGUF LoRA cannot hold; return the alpha that makes llama.cpp's scale PEFT's."""
    if str(cfg.get("peft_type", "LORA")).upper() != "LORA":
        raise ExportError(f"{where} is a {cfg.get('peft_type')} adapter; only LoRA adapters convert to GGUF.")
    if cfg.get("modules_to_save"):
        raise ExportError(
            f"{where} trains {', '.join(cfg['modules_to_save'])} fully (modules_to_save, e.g. "
            "train_embeddings=true); a GGUF LoRA holds low-rank updates only. Train with "
            "--train-embeddings false, or export the merged model with `sql2nl export --run`."
        )
    if cfg.get("use_dora"):
        raise ExportError(f"{where} is a DoRA adapter, which llama.cpp cannot apply; train plain LoRA.")
    if cfg.get("rank_pattern") or cfg.get("alpha_pattern"):
        raise ExportError(
            f"{where} uses per-module ranks or alphas (rank_pattern/alpha_pattern); llama.cpp "
            "scales every layer by one alpha / rank. Train with a single rank and alpha."
        )
    r, alpha = int(cfg["r"]), float(cfg["lora_alpha"])
    return alpha * math.sqrt(r) if cfg.get("use_rslora") else alpha


def base_config_dir(base: Path, into: Path) -> Path:
    """A directory with the base model's ``config.json``: ``base`` itself, or derived from a GGUF file."""
    if base.is_dir():
        if not (base / "config.json").is_file():
            raise ExportError(f"{base} has no config.json; give the base model's Hugging Face directory or GGUF file.")
        return base
    if not base.is_file():
        raise ExportError(f"No such base model: {base}.")
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(base.parent, gguf_file=base.name)
    except Exception as e:  # transformers says what it cannot read; keep its words
        raise ExportError(f"Could not read the model config from {base}: {type(e).__name__}: {e}") from None
    if not getattr(config, "architectures", None):  # the converter picks its model class by this name
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

        config.architectures = [MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[config.model_type]]
    config.save_pretrained(into)
    return into


def export_lora(
    adapter: str | os.PathLike,
    base: str | os.PathLike,
    out: str | os.PathLike,
    *,
    outtype: str = "f16",
    tools: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Convert the PEFT adapter ``adapter`` (or a run's) for ``base`` (HF directory or GGUF) to ``out``.

    Returns what a manifest records: file, bytes, sha256, rank, alpha, target modules, outtype.
    ``out`` appears only once it is complete.
    """
    from .export import _sha256

    if outtype not in OUTTYPES:
        raise ExportError(f"outtype must be one of {', '.join(OUTTYPES)}, not {outtype!r}.")
    src = adapter_dir(adapter)
    try:
        cfg = json.loads((src / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ExportError(f"{src / 'adapter_config.json'} is not readable JSON: {e}") from None
    alpha = check_adapter_config(cfg, src)
    out = Path(out).expanduser()
    tools_dir = resolve_tools(tools)
    with staging_dir(out.parent) as staging:
        lora_in = src
        if alpha != float(cfg["lora_alpha"]):  # rsLoRA: the converter reads alpha from the config
            lora_in = staging / "adapter"
            shutil.copytree(src, lora_in)
            (lora_in / "adapter_config.json").write_text(json.dumps({**cfg, "lora_alpha": alpha}), encoding="utf-8")
        cfg_dir = base_config_dir(Path(base).expanduser(), staging / "base")
        staged = staging / out.name
        cmd = [
            sys.executable,
            str(tools_dir / "convert_lora_to_gguf.py"),
            str(lora_in),
            "--base",
            str(cfg_dir),
            "--outfile",
            str(staged),
            "--outtype",
            outtype,
        ]
        with tempfile.TemporaryDirectory() as home:  # the converter must not reach for a hub cache or login
            env = {**child_env(tools_dir, None), "HF_HUB_OFFLINE": "1", "HF_HOME": home}
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tools_dir)
        if proc.returncode != 0 or not staged.is_file():
            tail = (proc.stderr or proc.stdout).strip()[-3000:]
            raise ExportError(f"llama.cpp's LoRA converter failed on {src} (exit {proc.returncode}):\n{tail}")
        header = _header(staged)
        if header.get("general.type") != "adapter" or header.get("adapter.type") != "lora":
            raise ExportError(f"llama.cpp's LoRA converter wrote {staged.name} without the LoRA adapter header.")
        info = {
            "file": out.name,
            "bytes": staged.stat().st_size,
            "sha256": _sha256(staged),
            "outtype": outtype,
            "rank": int(cfg["r"]),
            "alpha": alpha,
            "target_modules": sorted(cfg.get("target_modules") or []),
            "architecture": header.get("general.architecture"),
        }
        os.replace(staged, out)  # same filesystem: one atomic step
    return info


def _header(path: Path) -> dict[str, Any]:
    """The string fields of a GGUF file's metadata (read with the ``gguf`` package)."""
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(path)
    return {k: f.contents() for k, f in reader.fields.items() if f.types[:1] == [GGUFValueType.STRING]}
