"""The base GGUF with the LoRA merged in, written once into the user's cache and loaded without ``lora_path``.

Why: for a 135M model, llama.cpp's runtime LoRA (two extra matmuls, a scale and an add for each
of the 210 adapted linears, at every token) is a large share of the work: on the 2-core dev VM the
merged Q8_0 model describes 1.8x as many statements a second as the Q4_1 base with the adapter
attached (benchmarks/RESULTS.md, "Runtime LoRA vs a merged model"). Merging ``W' = W + alpha/r * B @ A`` once removes those nodes. It is done entirely in GGUF space
(the converter already wrote ``lora_a``/``lora_b`` in the base's layout, Q/K permutation included)
with the ``gguf`` package: the adapted tensors are dequantized from Q4_1, merged in float32, and
written as Q8_0 (default; fast on CPUs with 8-bit dot products) or F16/F32 (closer to the float32
arithmetic the adapter was trained in, slower on CPUs without native f16), or Q4_0 (llama.cpp
repacks it for fast CPU kernels: about 1.2x the statements a second of Q8_0 on the dev VM, but quantizing the
merged weights a second time at 4 bits costs the descriptions about 3 BLEU points: benchmarks/RESULTS.md).
Everything else (norms, the Q8_0 embedding, the metadata) is copied as it is.

The file is keyed by the base's and the adapter's sha256 and the output type, written to a
temporary file beside it and renamed into place (an interrupted merge leaves no file that could be
mistaken for a finished one), and reused by every later process.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sql2nl.errors import ModelError

log = logging.getLogger("sql2nl.smollm2")

#: Output types for the merged linears: name -> ggml type name (gguf.GGMLQuantizationType).
OUTTYPES = {"q8_0": "Q8_0", "q4_0": "Q4_0", "f16": "F16", "f32": "F32"}
DEFAULT_OUTTYPE = "q8_0"
#: Environment variable: the merged file's type, or ``off`` to apply the LoRA at run time instead.
ENV = "SQL2NL_SMOLLM2_MERGE"
#: Environment variable: where merged models are cached (default: the platform's user cache dir).
CACHE_ENV = "SQL2NL_MODEL_CACHE"
#: Bumped when the merge's output changes for the same inputs, so older cache files are not reused.
MERGE_VERSION = 2


class MergeError(ModelError):
    """The LoRA could not be merged into the base (unreadable file, mismatched tensors, disk full...)."""


def cache_dir() -> Path:
    """Where merged models live: ``$SQL2NL_MODEL_CACHE``, else ``<user cache dir>/sql2nl/models``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return platformdirs.user_cache_path("sql2nl", appauthor=False) / "models"


def setting() -> str:
    """The merge setting from ``$SQL2NL_SMOLLM2_MERGE``: ``q8_0`` (default), ``q4_0``, ``f16``, ``f32`` or ``off``."""
    raw = (os.environ.get(ENV) or DEFAULT_OUTTYPE).strip().lower()
    if raw in ("off", "0", "false", "no", "runtime"):
        return "off"
    if raw not in OUTTYPES:
        raise MergeError(f"{ENV}={raw!r} is not one of {', '.join(OUTTYPES)} or off; unset it for the default.")
    return raw


def merged_name(base_sha256: str, adapter_sha256: str, outtype: str) -> str:
    """The cache file's name: which base, which adapter, which output type, which merge."""
    return f"smollm2-{base_sha256[:16]}-lora-{adapter_sha256[:16]}-{outtype}-m{MERGE_VERSION}.gguf"


def merged_model(
    base: Path,
    adapter: Path,
    *,
    base_sha256: str,
    adapter_sha256: str,
    outtype: str = DEFAULT_OUTTYPE,
    directory: Path | None = None,
) -> Path:
    """The cached merged GGUF for ``base`` + ``adapter``, built on first use (a few seconds)."""
    directory = directory if directory is not None else cache_dir()
    path = directory / merged_name(base_sha256, adapter_sha256, outtype)
    if path.is_file():
        return path
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MergeError(
            f"Cannot create the model cache {directory} ({e}); set {CACHE_ENV} to a writable folder."
        ) from None
    print(f"sql2nl: merging the smollm2 adapter into its base once ({outtype}) -> {path}", file=sys.stderr)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=path.name + ".", suffix=".part")
    os.close(fd)
    try:
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the cache from the user's other accounts' tools
        merge_lora(base, adapter, Path(tmp), outtype=outtype, progress=_progress_bar())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, MergeError) or not isinstance(e, Exception):
            raise
        raise MergeError(f"Merging {adapter.name} into {base.name} failed: {e}") from e
    return path


def _progress_bar() -> Callable[[int, int], None]:
    from tqdm import tqdm

    bar = tqdm(total=0, desc="merging smollm2 LoRA", unit="tensor", file=sys.stderr, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def _lora_pairs(reader: Any) -> tuple[dict[str, dict[str, Any]], float]:
    """``{base tensor name: {"a": tensor, "b": tensor}}`` and ``alpha`` from a GGUF LoRA."""
    fields = reader.fields
    kind = fields.get("general.type")
    if kind is None or kind.contents() != "adapter" or "adapter.lora.alpha" not in fields:
        raise MergeError("the adapter is not a GGUF LoRA (general.type=adapter with adapter.lora.alpha)")
    pairs: dict[str, dict[str, Any]] = {}
    for t in reader.tensors:
        name, sep, which = t.name.rpartition(".lora_")
        if not sep or which not in ("a", "b"):
            raise MergeError(f"unexpected tensor {t.name!r} in the LoRA")
        pairs.setdefault(name, {})[which] = t
    for name, p in pairs.items():
        if set(p) != {"a", "b"}:
            raise MergeError(f"the LoRA has only one of {name}.lora_a / lora_b")
    return pairs, float(fields["adapter.lora.alpha"].contents())


def merge_lora(
    base: Path,
    adapter: Path,
    out: Path,
    *,
    outtype: str = DEFAULT_OUTTYPE,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Write ``base`` with ``adapter`` merged in (``W + alpha/r * B @ A``) to ``out``.

    Adapted tensors are stored as ``outtype`` (:data:`OUTTYPES`); the others are copied unchanged.
    """
    import numpy as np
    from gguf.quants import dequantize, quant_shape_to_byte_shape, quantize

    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter

    if outtype not in OUTTYPES:
        raise MergeError(f"outtype must be one of {', '.join(OUTTYPES)}, got {outtype!r}")
    qtype = GGMLQuantizationType[OUTTYPES[outtype]]
    try:
        b, lora = GGUFReader(base), GGUFReader(adapter)
    except (OSError, ValueError) as e:
        raise MergeError(f"cannot read {base.name} or {adapter.name} as GGUF ({e})") from None
    pairs, alpha = _lora_pairs(lora)
    arch = b.fields["general.architecture"].contents()
    tensors = {t.name: t for t in b.tensors}
    missing = sorted(set(pairs) - set(tensors))
    if missing:
        raise MergeError(f"the LoRA adapts tensors the base does not have: {', '.join(missing[:5])}")

    def merged(t: Any) -> Any:
        w = dequantize(t.data, t.tensor_type).astype(np.float32)
        a = pairs[t.name]["a"].data.astype(np.float32)  # (r, in)
        bm = pairs[t.name]["b"].data.astype(np.float32)  # (out, r)
        if bm.shape[1] != a.shape[0] or (bm.shape[0], a.shape[1]) != w.shape:
            raise MergeError(f"{t.name}: LoRA shapes {bm.shape} @ {a.shape} do not fit the weight's {w.shape}")
        w += (alpha / a.shape[0]) * (bm @ a)
        if qtype == GGMLQuantizationType.F16:
            return w.astype(np.float16)
        return w if qtype == GGMLQuantizationType.F32 else quantize(w, qtype)

    writer = GGUFWriter(out, arch)
    for field in b.fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue  # written by GGUFWriter itself
        vtype = field.types[0]
        writer.add_key_value(
            field.name, field.contents(), vtype, sub_type=field.types[-1] if vtype == GGUFValueType.ARRAY else None
        )
    writer.add_string("sql2nl.merged_lora", adapter.name)
    # With tied embeddings the output projection reuses token_embd (Q8_0 here), and llama.cpp then
    # quantizes the final activations to 8 bits too; for f16/f32 an untied copy in that type keeps
    # the logits as close to the float32 run as the rest of the model (a quantized merge keeps the tie).
    untie = (
        qtype in (GGMLQuantizationType.F16, GGMLQuantizationType.F32)
        and "output.weight" not in tensors
        and "token_embd.weight" in tensors
    )
    head = tensors.get("token_embd.weight") if untie else None
    for t in b.tensors:
        if t.name not in pairs:
            writer.add_tensor_info(t.name, t.data.shape, t.data.dtype, t.data.nbytes, t.tensor_type)
            continue
        shape = tuple(int(x) for x in reversed(t.shape))  # numpy order: (out, in)
        if qtype in (GGMLQuantizationType.F16, GGMLQuantizationType.F32):
            dtype = np.float16 if qtype == GGMLQuantizationType.F16 else np.float32
            writer.add_tensor_info(t.name, shape, np.dtype(dtype), int(np.prod(shape)) * np.dtype(dtype).itemsize)
        else:
            raw = quant_shape_to_byte_shape(shape, qtype)
            writer.add_tensor_info(t.name, raw, np.dtype(np.uint8), int(np.prod(raw)), qtype)
    if head is not None:
        shape = tuple(int(x) for x in reversed(head.shape))
        dtype = np.dtype(np.float16 if qtype == GGMLQuantizationType.F16 else np.float32)
        writer.add_tensor_info("output.weight", shape, dtype, int(np.prod(shape)) * dtype.itemsize)
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for i, t in enumerate(b.tensors, 1):
            writer.write_tensor_data(merged(t) if t.name in pairs else t.data)
            if progress is not None:
                progress(i, len(b.tensors))
        if head is not None:
            w = dequantize(head.data, head.tensor_type).astype(np.float32)
            writer.write_tensor_data(w.astype(np.float16) if qtype == GGMLQuantizationType.F16 else w)
        writer.close()
    except OSError as e:
        raise MergeError(f"cannot write {out} ({e}); free some disk space or set {CACHE_ENV}") from None
    finally:
        for fh in writer.fout or ():  # still open when a tensor failed half-way
            fh.close()
