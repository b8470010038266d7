"""Checks a GGUF file's header and reads its metadata *before* llama.cpp sees it.

llama.cpp validates most of a file itself, but a wrong file can still cost a confusing C-level
message (or, for a header with absurd sizes, a huge allocation). Reading the header in Python first
turns a missing, empty, truncated, corrupt or non-GGUF file into a :class:`~sql2nl.errors.ModelError`
that says what is wrong, and gives the chat template and context length without loading weights.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sql2nl.errors import ModelError

MAGIC = b"GGUF"
VERSIONS = (2, 3)  # v1 files (2023) are no longer loaded by llama.cpp
DEFAULT_ALIGNMENT = 32
# Bounds that no real file comes near; a corrupt header with bigger numbers is rejected before reading.
MAX_TENSORS = 1_000_000
MAX_KV = 1_000_000
MAX_DIMS = 4

# value type -> struct format (GGUFValueType in gguf-py); 8 = string, 9 = array
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9

# ggml tensor type -> (elements per block, bytes per block), as GGML_QUANT_SIZES in gguf-py.
_QK_K = 256
TYPE_SIZES = {
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    9: (32, 36),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    15: (256, 292),
    16: (256, 66),
    17: (256, 74),
    18: (256, 98),
    19: (256, 50),
    20: (32, 18),
    21: (256, 110),
    22: (256, 82),
    23: (256, 136),
    24: (1, 1),
    25: (1, 2),
    26: (1, 4),
    27: (1, 8),
    28: (1, 8),
    29: (256, 56),
    30: (1, 2),
    34: (256, 54),
    35: (256, 66),
    39: (32, 17),
    40: (64, 36),
    41: (128, 18),
    42: (64, 18),
}


@dataclass
class GGUFInfo:
    """What the header of a GGUF file says: its metadata (arrays left out, their lengths kept) and size."""

    path: Path
    version: int
    n_tensors: int
    metadata: dict[str, Any] = field(default_factory=dict)
    array_lengths: dict[str, int] = field(default_factory=dict)
    data_bytes: int = 0

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "?"))

    @property
    def chat_template(self) -> str | None:
        return self.metadata.get("tokenizer.chat_template") or None

    @property
    def context_length(self) -> int | None:
        v = self.metadata.get(f"{self.architecture}.context_length")
        return int(v) if v else None


class _Reader:
    def __init__(self, f: BinaryIO, size: int, path: Path):
        self.f, self.size, self.path = f, size, path

    def bad(self, what: str) -> ModelError:
        return ModelError(
            f"{self.path} is not a valid GGUF file: {what}. The file is corrupt or was cut short "
            "(an interrupted download or copy?); export or download it again."
        )

    def read(self, n: int) -> bytes:
        if n < 0 or self.f.tell() + n > self.size:
            raise self.bad(f"the header runs past the end of the file at byte {self.f.tell()}")
        return self.f.read(n)

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.unpack("<Q")
        raw = self.read(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.bad(f"a string at byte {self.f.tell() - n} is not UTF-8") from None

    def value(self, vtype: int) -> Any:
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        raise self.bad(f"unknown metadata value type {vtype}")

    def skip_array(self) -> int:
        etype, n = self.unpack("<I"), self.unpack("<Q")
        if etype in _SCALARS:
            self.read(n * struct.calcsize(_SCALARS[etype]))  # bounds-checked skip
        elif etype == _STRING:
            for _ in range(n):
                self.read(self.unpack("<Q"))
        elif etype == _ARRAY:  # nested arrays exist in the format but not in models; walk them
            for _ in range(n):
                self.skip_array()
        else:
            raise self.bad(f"unknown array element type {etype}")
        return n


def read_gguf(path: str | os.PathLike) -> GGUFInfo:
    """Validate ``path`` as a complete GGUF file and return its header.

    Raises :class:`~sql2nl.errors.ModelError` for a missing, empty, non-GGUF, corrupt or
    truncated file (tensor data that would end past the end of the file).
    """
    p = Path(path)
    if not p.exists():
        raise ModelError(
            f"No such GGUF file: {p}. Give the path of a .gguf file (e.g. one written by "
            "`sql2nl export`) or a training run directory."
        )
    if p.is_dir():
        raise ModelError(f"{p} is a directory, not a GGUF file.")
    size = p.stat().st_size
    try:
        f = open(p, "rb")
    except OSError as e:
        raise ModelError(f"Cannot read the GGUF file {p}: {e.strerror or e}.") from None
    with f:
        head = f.read(4)
        if head != MAGIC:
            raise ModelError(_not_gguf_message(p, head))
        r = _Reader(f, size, p)
        version = r.unpack("<I")
        if version not in VERSIONS:
            raise r.bad(f"unsupported GGUF version {version} (llama.cpp reads versions {VERSIONS})")
        n_tensors, n_kv = r.unpack("<Q"), r.unpack("<Q")
        if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
            raise r.bad(f"implausible counts ({n_tensors} tensors, {n_kv} metadata keys)")
        info = GGUFInfo(p, version, n_tensors)
        for _ in range(n_kv):
            key = r.string()
            vtype = r.unpack("<I")
            if vtype == _ARRAY:
                info.array_lengths[key] = r.skip_array()
            else:
                info.metadata[key] = r.value(vtype)
        align = int(info.metadata.get("general.alignment", DEFAULT_ALIGNMENT) or DEFAULT_ALIGNMENT)
        end = 0
        for _ in range(n_tensors):
            name = r.string()
            n_dims = r.unpack("<I")
            if n_dims > MAX_DIMS:
                raise r.bad(f"tensor {name!r} has {n_dims} dimensions")
            dims = [r.unpack("<Q") for _ in range(n_dims)]
            ttype, offset = r.unpack("<I"), r.unpack("<Q")
            n_el = 1
            for d in dims:
                n_el *= d
            block, nbytes = TYPE_SIZES.get(ttype, (1, 0))  # unknown (newer) types: check the offset only
            end = max(end, offset + n_el // block * nbytes)
        data_start = -(-f.tell() // align) * align
        info.data_bytes = size - data_start
        if n_tensors and end > info.data_bytes:
            raise ModelError(
                f"{p} is truncated: its tensors need {data_start + end:,} bytes but the file has "
                f"{size:,}. The export or download was interrupted; write or fetch it again."
            )
        if n_tensors == 0:
            raise r.bad("it holds no tensors")
    return info


def check_model(info: GGUFInfo) -> GGUFInfo:
    """Reject a well-formed GGUF that is not a model llama.cpp can run: no architecture, no layers, no
    context length, no vocabulary, or a LoRA adapter given where a model is expected."""

    def bad(what: str, hint: str = "export the model again with `sql2nl export`") -> ModelError:
        return ModelError(f"{info.path} is a GGUF file but not a loadable model: {what}; {hint}.")

    if str(info.metadata.get("general.type", "model")) == "adapter":
        raise bad(
            "it is a LoRA adapter",
            "load it on top of its base model (the model plugin does this), not as the model itself",
        )
    arch = info.metadata.get("general.architecture")
    if not arch:
        raise bad("general.architecture is missing")
    if not info.metadata.get(f"{arch}.block_count"):
        raise bad(f"{arch}.block_count (its number of layers) is missing or 0")
    ctx = info.metadata.get(f"{arch}.context_length")
    if ctx is not None and int(ctx) <= 0:
        raise bad(f"{arch}.context_length is {ctx}")
    if not info.array_lengths.get("tokenizer.ggml.tokens"):
        raise bad("it has no vocabulary (tokenizer.ggml.tokens)")
    return info


def _not_gguf_message(p: Path, head: bytes) -> str:
    if not head:
        return f"{p} is empty, not a GGUF model file; export or download it again."
    if p.suffix == ".safetensors" or p.name in ("config.json", "pytorch_model.bin"):
        kind = "a Hugging Face model file"
    elif head[:2] == b"PK":
        kind = "a zip archive"
    elif head[:1] in (b"{", b"["):
        kind = "a JSON/text file"
    else:
        kind = "not a GGUF file"
    what = kind if kind.startswith("not") else f"{kind}, not a GGUF file"
    return (
        f"{p} is {what} (a GGUF file starts with the bytes 'GGUF'). The llamacpp backend needs a GGUF "
        "model: convert a Hugging Face model directory with `sql2nl export --model DIR --gguf q8_0 --out OUT`, "
        "or use the transformers backend for it."
    )


def check_lora(lora: str | os.PathLike, base: str | os.PathLike) -> Path:
    """Check that ``lora`` is a GGUF LoRA adapter for ``base``'s architecture; return its path.

    llama.cpp's own message for a wrong adapter is a bare "failed to initialize LoRA adapter".
    """
    p = Path(lora).expanduser()
    info = read_gguf(p)
    kind = (info.metadata.get("general.type"), info.metadata.get("adapter.type"))
    if kind != ("adapter", "lora"):
        raise ModelError(
            f"{p} is not a GGUF LoRA adapter (general.type={kind[0]!r}). Convert a PEFT adapter "
            "with `sql2nl export --lora-gguf OUT.gguf --adapter ADAPTER_DIR --base BASE`."
        )
    base_arch = read_gguf(base).architecture
    if info.architecture != base_arch:
        raise ModelError(
            f"{p} is a LoRA adapter for a {info.architecture} model, but {base} is a {base_arch} "
            "model; use the base model the adapter was trained on."
        )
    return p
