"""The run directory contract, read by the transformers and llama.cpp backends and the GGUF export.

``RUN/manifest.json``::

    {"format": "sql2nl-run/1", "base_model": ..., "prompt_version": ..., "languages": [...],
     "config": {...}, "metrics": {...}, "engine": "unsloth"|"peft",
     "engine_choice": {"requested": "auto"|"unsloth"|"peft", "used": ..., "why": ...},
     "artifacts": {"adapter": "adapter", "merged": "merged", "gguf": {"q8_0": "gguf/model-q8_0.gguf"}},
     "stages": [...]}

plus ``RUN/config.json``, ``RUN/adapter/``, ``RUN/checkpoints/``, ``RUN/loss.png``, ``RUN/report.md``.
Every write goes to a temporary name first and is renamed into place, so a killed process never
leaves a half-written file where a reader expects a whole one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sql2nl.errors import ModelError

FORMAT = "sql2nl-run/1"
MANIFEST = "manifest.json"


def atomic_write_text(path: str | Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save a matplotlib figure as PNG atomically (a reader never sees half a file) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.tight_layout()
        fig.savefig(tmp)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success it replaces ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def is_run(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    p = Path(run_dir) / MANIFEST
    if not p.is_file():
        raise ModelError(f"{run_dir} is not a sql2nl run directory (no {MANIFEST}); "
                         "create one with `sql2nl train`.")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelError(f"{p} is corrupt ({e}); re-run `sql2nl train --resume`.") from None
    if data.get("format") != FORMAT:
        raise ModelError(f"{p} has format {data.get('format')!r}; this sql2nl reads {FORMAT!r}.")
    return data


def update_manifest(run_dir: str | Path, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into the manifest (dicts one level deep) and write it atomically."""
    data = read_manifest(run_dir)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k] = {**data[k], **v}
        else:
            data[k] = v
    atomic_write_json(Path(run_dir) / MANIFEST, data)
    return data


def artifact(run_dir: str | Path, name: str) -> Path | None:
    """The absolute path of artifact ``name`` ("adapter", "merged") if the run has it."""
    rel = read_manifest(run_dir).get("artifacts", {}).get(name)
    if not rel:
        return None
    p = Path(run_dir) / rel
    return p if p.exists() else None
