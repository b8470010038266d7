"""Finding the GGUF file for ``model=`` and loading it once per process.

``model`` is a ``.gguf`` file, a training run directory (``RUN/manifest.json`` lists
``artifacts.gguf = {quant: relative path}``) or an export directory (its manifest, else its
``*.gguf`` files). Loaded models are shared by every backend instance that asks for the same file
with the same load settings, so changing a sampling option never loads the weights twice.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sql2nl.errors import BackendUnavailableError, ModelError
from sql2nl.prompt import PROMPT_VERSION
from sql2nl.rundir import EXPORT_KIND, MANIFEST, RUN_KIND, read_manifest

from .cpu import extra_buffers_enabled, open_llama
from .gguf_file import GGUFInfo, check_model, read_gguf

log = logging.getLogger("sql2nl.llamacpp")

#: Which quantization a directory answers with when ``quant=`` is not given: the first one present.
QUANT_PREFERENCE = ("q8_0", "q4_k_m", "f16", "bf16", "f32")
INSTALL = "pip install sql2nl-llamacpp  (it needs llama-cpp-python; see the README for GPU builds)"


def _manifest_ggufs(directory: Path) -> tuple[dict[str, Path], dict[str, Any]]:
    """``{quant: path}`` from a run or export manifest, and the manifest itself.

    Understands a training run (``artifacts.gguf`` = ``{quant: path}`` or ``{"files": {quant: path}}``,
    or the name of a directory holding an export) and an export (``quantizations`` =
    ``{quant: {"file": name}}``, as ``sql2nl_gguf.export`` writes).
    """
    if not (directory / MANIFEST).is_file():
        return {}, {}
    manifest = read_manifest(directory, (RUN_KIND, EXPORT_KIND))
    table: Any = (manifest.get("artifacts") or {}).get("gguf") or manifest.get("quantizations") or {}
    if isinstance(table, str):  # a directory with its own export manifest
        sub = directory / table
        return (_manifest_ggufs(sub)[0] if sub.is_dir() else {}), manifest
    if isinstance(table, dict) and isinstance(table.get("files"), dict):
        table = table["files"]
    found = {}
    for quant, rel in table.items() if isinstance(table, dict) else ():
        if isinstance(rel, dict):
            rel = rel.get("file") or rel.get("path")
        if isinstance(rel, str) and rel.endswith(".gguf"):
            found[str(quant).lower()] = directory / rel
    return found, manifest


def _quant_of(p: Path) -> str:
    m = re.search(r"[.\-_]((?:[qQ]\d\w*)|(?:[bB]?[fF]\d+)|(?:[iI][qQ]\w+))\.gguf$", p.name)
    return m.group(1).lower() if m else p.stem.lower()


def resolve_gguf(model: str | os.PathLike, quant: str | None = None) -> Path:
    """The GGUF file that ``model`` (a file, a run directory or an export directory) names."""
    p = Path(model).expanduser()
    if not p.exists():
        raise ModelError(
            f"No such model file or directory: {p}. The llamacpp backend takes a .gguf file "
            "(e.g. from `sql2nl export`) or a training run directory."
        )
    if p.is_file():
        if quant is not None and _quant_of(p) != quant.lower():
            log.warning("quant=%r ignored: model names the file %s directly", quant, p)
        return p
    files, manifest = _manifest_ggufs(p)
    if not files:
        for sub in (p, p / "gguf"):
            files.update({_quant_of(f): f for f in sorted(sub.glob("*.gguf"))} if sub.is_dir() else {})
    if not files:
        hint = (
            " It looks like a Hugging Face model directory: convert it with "
            f"`sql2nl export --model {p} --gguf q8_0 --out OUT`, or use the transformers backend."
            if (p / "config.json").is_file()
            else ""
        )
        raise ModelError(f"{p} holds no GGUF file (no manifest.json listing one and no *.gguf).{hint}")
    pv = manifest.get("prompt_version") or manifest.get("prompt_format_version")
    if pv and pv != PROMPT_VERSION:
        log.warning(
            "%s was trained with prompt format %s but this sql2nl uses %s; answers may degrade", p, pv, PROMPT_VERSION
        )
    if quant is not None:
        q = quant.lower()
        if q not in files:
            raise ModelError(
                f"{p} has no {quant!r} GGUF; it has: {', '.join(sorted(files))}. Pass quant= one of those."
            )
        return files[q]
    for q in QUANT_PREFERENCE:
        if q in files:
            return files[q]
    return files[sorted(files)[0]]


@dataclass
class LoadedModel:
    """A llama.cpp model and the lock that serialises its use (one context is not re-entrant)."""

    llm: Any
    info: GGUFInfo
    n_ctx: int
    lock: threading.RLock


_loaded: dict[tuple, LoadedModel] = {}
_loaded_lock = threading.Lock()


def load(
    path: Path,
    *,
    n_ctx: int | None,
    n_threads: int | None,
    n_gpu_layers: int,
    n_batch: int,
    verbose: bool = False,
    extra_buffers: Any = None,
    **llama_kwargs: Any,
) -> LoadedModel:
    """The shared :class:`LoadedModel` for ``path`` with these settings, loading it on first use.

    ``extra_buffers`` (``"auto"``/``"on"``/``"off"``): llama.cpp's extra CPU buffer types, off by default on
    CPUs with AMX where they crash (:mod:`sql2nl_llamacpp.cpu`).
    """
    info = check_model(read_gguf(path))
    stat = path.stat()
    trained = info.context_length or 4096
    ctx = int(n_ctx) if n_ctx else min(4096, trained)
    extra = extra_buffers_enabled(extra_buffers)
    key = (
        str(path.resolve()),
        stat.st_size,
        stat.st_mtime_ns,
        ctx,
        n_threads,
        n_gpu_layers,
        n_batch,
        extra,
        tuple(sorted(llama_kwargs.items())),
    )
    with _loaded_lock:
        hit = _loaded.get(key)
        if hit is not None:
            return hit
        try:
            import llama_cpp
        except ImportError as e:
            raise BackendUnavailableError("llamacpp", INSTALL, f"llama_cpp cannot be imported: {e}") from None
        kw = dict(n_ctx=ctx, n_gpu_layers=n_gpu_layers, n_batch=n_batch, verbose=verbose, **llama_kwargs)
        if n_threads:
            kw.update(n_threads=int(n_threads), n_threads_batch=int(n_threads))
        try:
            llm = open_llama(str(path), extra_buffers=extra, **kw)
        except (ValueError, RuntimeError, OSError) as e:
            raise ModelError(
                f"llama.cpp could not load {path} ({info.architecture} model, GGUF v{info.version}): "
                f"{e}. The file may be for a newer llama.cpp than the installed llama-cpp-python "
                f"{getattr(llama_cpp, '__version__', '?')}, or damaged; upgrade llama-cpp-python "
                "or export it again."
            ) from None
        loaded = _loaded[key] = LoadedModel(llm, info, ctx, threading.RLock())
        return loaded


def unload_all() -> None:
    """Forget every loaded model (their memory is freed once no backend holds them)."""
    with _loaded_lock:
        _loaded.clear()
