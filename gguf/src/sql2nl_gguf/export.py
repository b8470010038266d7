"""``export()``: a Hugging Face model directory -> GGUF files, an Ollama Modelfile and a manifest, all verified.

Two ways to produce the GGUFs, same outputs:

* ``method="unsloth"``: Unsloth's ``save_pretrained_gguf`` (the product's exporter), pointed at the
  offline llama.cpp tool folder (:mod:`sql2nl_gguf.tools`).
* ``method="direct"``: llama.cpp's converter + ``llama-quantize`` from the same folder.
* ``method="auto"`` (default): Unsloth when it is installed, else direct.

Everything is produced in a hidden staging directory inside ``out_dir`` and moved to its final
name only once complete (GGUFs first, then the Modelfile, the manifest last), so an interrupted
export never leaves a half-written file under a final name.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sql2nl.errors import ModelError
from sql2nl.rundir import EXPORT_FORMAT, MANIFEST, atomic_write_json, atomic_write_text, read_manifest, update_manifest

from .errors import ExportError, VerificationError

#: The format (kind/version) of an export's manifest.json; defined with the run's in sql2nl.rundir.
MANIFEST_FORMAT = EXPORT_FORMAT
METHODS = ("auto", "unsloth", "direct")


@contextmanager
def staging_dir(parent: Path) -> Iterator[Path]:
    """A hidden scratch directory inside ``parent`` (same filesystem, so ``os.replace`` is atomic), removed after."""
    parent.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix=".tmp-sql2nl-export-", dir=parent))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _normalize_quants(quantizations: Iterable[str] | str) -> list[str]:
    if isinstance(quantizations, str):
        quantizations = quantizations.split(",")
    out = []
    for q in quantizations:
        q = q.strip().lower()
        if q and q not in out:
            out.append(q)
    if not out:
        raise ExportError("No quantization requested; pass e.g. quantizations=('f16', 'q8_0').")
    from .quantize import QuantizeError, ftype_of

    for q in out:
        try:
            ftype_of(q)
        except QuantizeError as e:
            raise ExportError(str(e)) from None
    return out


def unsloth_available() -> bool:
    """Whether Unsloth is installed (without importing it: importing it patches transformers)."""
    return importlib.util.find_spec("unsloth") is not None and importlib.util.find_spec("unsloth_zoo") is not None


def _check_model_dir(model_dir: Path) -> dict:
    if not model_dir.is_dir():
        raise ExportError(f"Model directory {model_dir} does not exist.")
    cfg = model_dir / "config.json"
    if not cfg.is_file():
        raise ExportError(
            f"{model_dir} is not a Hugging Face model directory (no config.json). "
            "Pass a merged model directory (for a LoRA adapter, merge it first or use --run)."
        )
    if not any(model_dir.glob("*.safetensors")) and not any(model_dir.glob("*.bin")):
        raise ExportError(f"{model_dir} has no weights (*.safetensors or *.bin).")
    if not (model_dir / "tokenizer.json").is_file() and not (model_dir / "tokenizer.model").is_file():
        raise ExportError(f"{model_dir} has no tokenizer (tokenizer.json or tokenizer.model).")
    try:
        config = json.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # unreadable, not UTF-8, not JSON
        raise ExportError(
            f"{cfg} cannot be read as JSON ({e}); is this a complete Hugging Face model directory?"
        ) from None
    if not isinstance(config, dict):
        raise ExportError(f"{cfg} is not a JSON object; is this a Hugging Face model directory?")
    return config


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export(
    model_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    quantizations: Iterable[str] | str = ("f16", "q8_0"),
    *,
    method: str = "auto",
    verify: bool = True,
    tools: str | os.PathLike | None = None,
    stem: str = "model",
    base_model: str | None = None,
    languages: Iterable[str] | None = None,
    min_f16_agreement: float = 0.9,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Export ``model_dir`` to GGUF in ``out_dir``; return the manifest (also written to ``out_dir/manifest.json``).

    Files: ``{stem}.{quant}.gguf`` per quantization, ``Modelfile`` (Ollama, built on the first of
    ``quantizations``) and ``manifest.json`` (base model, prompt version, languages, per-quant
    file/size/sha256/greedy agreement, tokenizer parity). ``verify=True`` checks tokenizer parity
    (must be exact) and greedy agreement of the f16 GGUF with the HF model (teacher-forced top-1
    agreement at least ``min_f16_agreement``), raising :class:`VerificationError` — before anything is published —
    when either fails. ``tools`` is a prepared llama.cpp folder (default: cached, prepared on demand).
    """
    from sql2nl.prompt import LANGUAGES, PROMPT_VERSION

    from . import convert, modelfile, pretokenizer
    from .tools import resolve_tools, tools_info

    say = progress or (lambda msg: None)
    model_dir, out_dir = Path(model_dir).resolve(), Path(out_dir).resolve()
    if method not in METHODS:
        raise ExportError(f"Unknown export method {method!r}; choose one of {', '.join(METHODS)}.")
    quants = _normalize_quants(quantizations)
    config = _check_model_dir(model_dir)
    if method == "auto":
        method = "unsloth" if unsloth_available() else "direct"
    elif method == "unsloth" and not unsloth_available():
        raise ExportError(
            "method='unsloth' needs Unsloth: pip install 'sql2nl-gguf[unsloth]' (or use method='direct')."
        )
    tools_dir = resolve_tools(tools)
    say(f"llama.cpp tools: {tools_dir}")

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pre = pretokenizer.plan(model_dir, tools_dir, tokenizer)
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    with staging_dir(out_dir) as staging:
        if method == "unsloth":
            from .unsloth_export import export_unsloth

            staged = export_unsloth(model_dir, staging, quants, tools_dir, pre_env=pre.env, stem=stem, progress=say)
        else:
            staged = convert.export_direct(
                model_dir, staging, quants, tools_dir, pre_env=pre.env, stem=stem, progress=lambda q: say(f"wrote {q}")
            )
        convert_s = time.perf_counter() - started
        report = None
        if verify:
            from .verify import greedy_agreement, tokenizer_parity

            say("verifying tokenizer parity...")
            parity = tokenizer_parity(staged["f16"], tokenizer)
            if not parity["ok"]:
                raise VerificationError(
                    f"The GGUF export of {model_dir} is not faithful: tokenizer parity failed on "
                    f"{parity['mismatches']} of {parity['samples']} samples (first: {parity['examples'][:1]}). "
                    f"Pre-tokenizer: {pre.reason}. Nothing was written."
                )
            say("verifying greedy agreement with the HF model...")
            greedy = greedy_agreement(model_dir, staged, tokenizer)
            f16 = greedy["f16"]["teacher_forced"]
            if f16 < min_f16_agreement:
                raise VerificationError(
                    f"The GGUF export of {model_dir} is not faithful: the f16 GGUF picks the HF model's greedy token "
                    f"at only {f16:.0%} of positions (need {min_f16_agreement:.0%}). Nothing was written."
                )
            report = {"tokenizer_parity": parity, "greedy": greedy}
        total_s = time.perf_counter() - started
        entries: dict[str, dict[str, Any]] = {}
        for q in quants:
            src = staged[q]
            entries[q] = {"file": f"{stem}.{q}.gguf", "bytes": src.stat().st_size, "sha256": _sha256(src)}
            if report:
                entries[q]["greedy_agreement"] = report["greedy"].get(q)
        mf_text = modelfile.modelfile(tokenizer, f"./{stem}.{quants[0]}.gguf")
        manifest = {
            "format": MANIFEST_FORMAT,
            "base_model": base_model or config.get("_name_or_path") or model_dir.name,
            "model_dir": str(model_dir),
            "architecture": (config.get("architectures") or [None])[0],
            "prompt_version": PROMPT_VERSION,
            "languages": list(languages or LANGUAGES),
            "quantizations": entries,
            "method": method,
            "modelfile": "Modelfile",
            "chat_template": modelfile.template_kind(tokenizer),
            "pre_tokenizer": {"chkhsh": pre.chkhsh, "mapped_to": pre.pre, "reason": pre.reason},
            "verification": report,
            "llama_cpp_tools": tools_info(tools_dir).get("llama_cpp_python"),
            "seconds": {"convert": round(convert_s, 3), "total": round(total_s, 3)},
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        for q in quants:
            os.replace(staged[q], out_dir / entries[q]["file"])  # same filesystem: one atomic step
        atomic_write_text(out_dir / "Modelfile", mf_text)
        atomic_write_json(out_dir / MANIFEST, manifest)
    say(f"exported {', '.join(quants)} to {out_dir} in {total_s:.1f}s ({method})")
    return manifest


def export_run(run_dir: str | os.PathLike, quantizations: Iterable[str] | str = ("f16", "q8_0"), **kw: Any) -> dict:
    """Export a training run: ``RUN/merged`` (merged on demand) -> ``RUN/gguf/``; updates ``RUN/manifest.json``.

    The one way to export a run (``sql2nl export --run``). ``kw`` are :func:`export`'s options;
    returns the export's manifest. The run manifest (format in :mod:`sql2nl.rundir`) gets
    ``artifacts.gguf`` = ``{quant: "gguf/model.<quant>.gguf"}`` (merged with earlier exports whose
    files still exist), ``artifacts.gguf_manifest`` and ``artifacts.modelfile``. When the run has
    no merged model, the training package's ``merge_run`` makes one first (the export package
    imports training, never the other way round).
    """
    run_dir = Path(run_dir).resolve()
    try:
        run = read_manifest(run_dir)
    except ExportError:
        raise
    except ModelError as e:
        raise ExportError(str(e)) from None
    merged = run_dir / ((run.get("artifacts") or {}).get("merged") or "merged")
    if not (merged / "config.json").is_file():
        try:
            from sql2nl_training.export import merge_run
        except ImportError:
            raise ExportError(
                f"{run_dir} has no merged model and merging the adapter needs the training package: "
                "pip install -e training (sql2nl-training)."
            ) from None
        merged = Path(merge_run(run_dir))
    kw.setdefault("base_model", run.get("base_model"))
    kw.setdefault("languages", run.get("languages"))
    manifest = export(merged, run_dir / "gguf", quantizations, **kw)
    # Re-read: training may have touched the manifest meanwhile; only the GGUF entries are ours.
    arts = read_manifest(run_dir).get("artifacts") or {}
    old = arts.get("gguf")
    if not isinstance(old, dict):
        old = {}
    table = {q: p for q, p in old.items() if isinstance(p, str) and (run_dir / p).is_file()}
    table.update({q: f"gguf/{e['file']}" for q, e in manifest["quantizations"].items()})
    update_manifest(
        run_dir, artifacts={"gguf": table, "gguf_manifest": f"gguf/{MANIFEST}", "modelfile": "gguf/Modelfile"}
    )
    return manifest
