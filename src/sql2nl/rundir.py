"""Run and export directories: their manifest and atomic writes, in one place.

A **training run** (written by ``sql2nl_training``) is a folder with ``RUN/manifest.json``::

    {"format": "sql2nl-run/1", "base_model": ..., "prompt_version": ..., "languages": [...],
     "config": {...}, "metrics": {...}, "engine": "unsloth"|"peft",
     "engine_choice": {"requested": "auto"|"unsloth"|"peft", "used": ..., "why": ...},
     "artifacts": {"adapter": "adapter", "merged": "merged", "gguf": {"q8_0": "gguf/model.q8_0.gguf"},
                   "gguf_manifest": "gguf/manifest.json", "modelfile": "gguf/Modelfile"},
     "stages": [...]}

plus ``RUN/config.json``, ``RUN/adapter/``, ``RUN/merged/``, ``RUN/checkpoints/``, ``RUN/loss.png``,
``RUN/report.md``. A **GGUF export** (written by ``sql2nl_gguf``, also ``RUN/gguf/``) has a manifest
of format ``sql2nl-gguf/1`` with ``quantizations = {quant: {"file": ..., "bytes": ..., "sha256": ...}}``.

The ``format`` field is the manifest's kind and version (``KIND/VERSION``). :func:`read_manifest`
reads every version up to the current one, and a manifest without the field (written before it
existed, or by hand) as version 1 of the kind the caller asked for; a newer version is refused
with a message that says to upgrade.

The core only reads and writes these files; it never imports training or gguf (they import it).
Every write goes to a temporary name in the same folder first and is renamed into place, so a
killed process never leaves a half-written file where a reader expects a whole one. Written
files get the mode a plain ``open()`` would give them (``0o666`` minus the umask, usually
``0o644``): runs and exports are read by other programs and users (Ollama, llama.cpp servers),
and an atomic write must not make a file more private than a plain one would be.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import ModelError

__all__ = [
    "MANIFEST",
    "RUN_KIND",
    "EXPORT_KIND",
    "RUN_FORMAT",
    "EXPORT_FORMAT",
    "VERSIONS",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_dir",
    "is_run",
    "manifest_version",
    "read_manifest",
    "update_manifest",
    "artifact",
]

#: The manifest's file name, in a run directory and in an export directory.
MANIFEST = "manifest.json"
RUN_KIND = "sql2nl-run"
EXPORT_KIND = "sql2nl-gguf"
#: The newest manifest version of each kind this sql2nl reads (and the one it writes).
VERSIONS = {RUN_KIND: 1, EXPORT_KIND: 1}
RUN_FORMAT = f"{RUN_KIND}/{VERSIONS[RUN_KIND]}"
EXPORT_FORMAT = f"{EXPORT_KIND}/{VERSIONS[EXPORT_KIND]}"

PathLike = str | os.PathLike[str]


def _file_mode() -> int:
    """The mode ``open(path, "w")`` would create a file with: 0o666 minus the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically: a temporary sibling, fsynced, then renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}-")  # a leftover is a hidden .tmp-*
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode())  # mkstemp makes 0600; see the module docstring
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: PathLike, data: Any) -> Path:
    """Write ``data`` as indented UTF-8 JSON to ``path`` atomically (non-JSON values as ``str``)."""
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


@contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success it replaces ``path`` in one rename, on error it goes."""
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


def is_run(path: PathLike) -> bool:
    """Whether ``path`` is a directory with a manifest (a run or an export)."""
    return (Path(path) / MANIFEST).is_file()


def manifest_version(data: dict[str, Any], default_kind: str = RUN_KIND) -> tuple[str, int]:
    """``(kind, version)`` from a manifest's ``format`` field; no field reads as version 1 of ``default_kind``."""
    fmt = data.get("format")
    if fmt is None:
        return default_kind, 1
    kind, sep, version = str(fmt).rpartition("/")
    if not sep or not version.isdigit():
        return str(fmt), 0
    return kind, int(version)


def read_manifest(directory: PathLike, kinds: tuple[str, ...] = (RUN_KIND,)) -> dict[str, Any]:
    """The manifest of a run (or, with ``kinds``, an export) directory, checked; raises :class:`ModelError`.

    Refused, each with a message saying what to do: no manifest, unreadable or non-object JSON, a
    kind not in ``kinds``, a version newer than this sql2nl reads.
    """
    p = Path(directory) / MANIFEST
    what = " or ".join({RUN_KIND: "run", EXPORT_KIND: "GGUF export"}.get(k, k) for k in kinds)
    if not p.is_file():
        hint = "; create one with `sql2nl train`" if RUN_KIND in kinds else ""
        raise ModelError(f"{directory} is not a sql2nl {what} directory (no {MANIFEST}){hint}.")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(
            f"{p} could not be read ({e}); the {what} did not finish writing it: "
            "run it again (`sql2nl train --resume` for a training run)."
        ) from None
    if not isinstance(data, dict):
        raise ModelError(f"{p} is not a sql2nl {what} manifest (not a JSON object).")
    kind, version = manifest_version(data, kinds[0])
    if kind not in kinds or version < 1:
        raise ModelError(
            f"{p} has format {data.get('format')!r}; a sql2nl {what} manifest has format "
            f"{' or '.join(f'{k}/N' for k in kinds)}. Point at a {what} directory."
        )
    if version > VERSIONS[kind]:
        raise ModelError(
            f"{p} has format {kind}/{version}, newer than this sql2nl reads ({kind}/{VERSIONS[kind]}); "
            "upgrade sql2nl and its plugins."
        )
    return data


def update_manifest(run_dir: PathLike, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into a run's manifest (dicts one level deep), write it atomically, return it."""
    data = read_manifest(run_dir)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k] = {**data[k], **v}
        else:
            data[k] = v
    atomic_write_json(Path(run_dir) / MANIFEST, data)
    return data


def artifact(run_dir: PathLike, name: str) -> Path | None:
    """The absolute path of artifact ``name`` ("adapter", "merged") if the run has it."""
    rel = (read_manifest(run_dir).get("artifacts") or {}).get(name)
    if not rel or not isinstance(rel, str):
        return None
    p = Path(run_dir) / rel
    return p if p.exists() else None
