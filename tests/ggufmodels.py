"""Tiny GGUF models for tests: a scratch Llama (tests/tinymodels.py) exported by ``sql2nl_gguf.export``.

One source of truth for GGUF files in tests: the project's own exporter, never a hand-made file.
Built once per test process (per xdist worker) and shared by the llama.cpp and OpenAI-backend tests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import tinymodels


@dataclass(frozen=True)
class TinyGGUF:
    hf_dir: Path  # the Hugging Face model the GGUFs were exported from
    export_dir: Path  # sql2nl_gguf's output: model.f16.gguf, model.q8_0.gguf, Modelfile, manifest.json

    def file(self, quant: str = "q8_0") -> Path:
        return self.export_dir / f"model.{quant}.gguf"


_built: dict[str, TinyGGUF] = {}
_lock = threading.Lock()


def tiny_gguf(root: Path, *, quantizations: tuple[str, ...] = ("f16", "q8_0")) -> TinyGGUF:
    """A random-weight tiny model exported to GGUF under ``root`` (the first call builds it, later calls reuse it)."""
    key = ",".join(quantizations)
    with _lock:
        if key not in _built:
            from sql2nl_gguf import export

            root = Path(root)
            hf = tinymodels.build_tiny(root / "hf")
            # Parity of the export itself is sql2nl_gguf's own test; these tests check the backends.
            export(hf, root / "gguf", quantizations, method="direct", verify=False)
            _built[key] = TinyGGUF(hf, root / "gguf")
        return _built[key]


def overfit_gguf(root: Path) -> TinyGGUF:
    """A tiny model overfitted on tinymodels.PAIRS + THINK_PAIRS (some answers open with a ``<think>`` block),
    exported to f16: it recites those descriptions, so a backend's prompt must match training's exactly."""
    with _lock:
        if "overfit" not in _built:
            from sql2nl_gguf import export

            root = Path(root)
            pairs = tinymodels.PAIRS + tinymodels.THINK_PAIRS
            hf = tinymodels.build_tiny(root / "hf", pairs=pairs)
            tinymodels.overfit(hf, pairs)
            export(hf, root / "gguf", ("f16",), method="direct", verify=False)
            _built["overfit"] = TinyGGUF(hf, root / "gguf")
        return _built["overfit"]
