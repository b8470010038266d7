"""Atomic file writes: a temporary file in the same directory, then ``os.replace``.

An export that is interrupted (an exception, Ctrl-C, a killed process) never leaves a
half-written file under a final name; at worst a hidden ``.tmp-*`` leftover.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (fsynced before the rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode())  # mkstemp makes 0600; a published file gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    return write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def staging_dir(parent: str | os.PathLike) -> Iterator[Path]:
    """A hidden scratch directory inside ``parent`` (same filesystem, so ``os.replace`` is atomic), removed after."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix=".tmp-sql2nl-export-", dir=parent))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def publish(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Move a finished file from the staging directory to its final name in one atomic step."""
    os.replace(src, dst)
    return Path(dst)
