"""Finding and loading a model: hub id, model directory, merged model, run directory, LoRA adapter.

Everything goes through ``from_pretrained`` on a path or hub id, so a local directory and a hub
model are loaded by the same code. Loaded models are kept per process (one copy however many
backend instances use them); all generation on one model runs on that model's own worker thread,
which serializes it (thread safety) and keeps torch.compile's CUDA graphs, which are recorded per
thread, in one place however many threads call the backend.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sql2nl.errors import InvalidInputError, ModelError
from sql2nl.prompt import PROMPT_VERSION
from sql2nl.rundir import MANIFEST, read_manifest

log = logging.getLogger("sql2nl.transformers")

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


@dataclass(frozen=True)
class ModelSpec:
    """What to load: ``model`` (a path or hub id for ``from_pretrained``) and an optional LoRA ``adapter`` dir."""

    model: str
    adapter: str | None = None
    run_dir: str | None = None
    prompt_version: str | None = None

    @property
    def label(self) -> str:
        return self.model + (f" + {self.adapter}" if self.adapter else "")


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(
            f"The {what} {path} could not be read ({e}); re-create it or point at another directory."
        ) from None
    if not isinstance(data, dict):
        raise ModelError(f"The {what} {path} is not a JSON object; re-create it.")
    return data


def _looks_like_path(model: str) -> bool:
    return (
        model.startswith((".", "/", "~"))
        or "\\" in model
        or model.count("/") > 1
        or not _HUB_ID.match(model)
        or Path(model.split("/")[0]).is_dir()
    )


def _check_adapter_dir(adapter: str | Path) -> str:
    p = Path(adapter).expanduser()
    if not p.exists():
        raise ModelError(f"No LoRA adapter at {p}: the directory does not exist.")
    if not (p / "adapter_config.json").is_file():
        raise ModelError(
            f"{p} is not a PEFT adapter directory (it has no adapter_config.json). "
            "Pass the directory a LoRA training run saved its adapter to."
        )
    return str(p)


def _from_run_dir(run: Path, adapter: str | None) -> ModelSpec:
    manifest = read_manifest(run)
    version = manifest.get("prompt_version")
    if version != PROMPT_VERSION:
        warnings.warn(
            f"The model in {run} was trained with prompt format {version!r}, but this sql2nl uses "
            f"{PROMPT_VERSION!r}; its answers may be worse. Retrain, or use the sql2nl version it was "
            "trained with.",
            UserWarning,
            stacklevel=4,
        )
    artifacts = manifest.get("artifacts") or {}
    merged = artifacts.get("merged")
    if adapter is None and merged and (run / merged / "config.json").is_file():
        return ModelSpec(str(run / merged), None, str(run), version)
    base = manifest.get("base_model")
    if not base:
        raise ModelError(f"{run}/manifest.json names no base_model; the run directory is incomplete.")
    if (run / base).exists():  # a base given relative to the run directory
        base = str(run / base)
    if adapter is None:
        rel = artifacts.get("adapter")
        if not rel or not (run / rel).is_dir():
            raise ModelError(
                f"The run directory {run} has neither a merged model nor a LoRA adapter "
                "(did training finish?). Run `sql2nl train` again or pass model= and adapter=."
            )
        adapter = str(run / rel)
    return ModelSpec(base, _check_adapter_dir(adapter), str(run), version)


def resolve(model: str | None, adapter: str | None = None) -> ModelSpec:
    """Work out what ``model=`` (and ``adapter=``) point at, without loading anything heavy."""
    if not model or not isinstance(model, str):
        raise InvalidInputError(
            "The transformers backend needs model=...: a hub id, a model directory or a "
            "training run directory (CLI: -m)."
        )
    if adapter is not None:
        adapter = _check_adapter_dir(adapter)
    p = Path(model).expanduser()
    if p.is_dir():
        if (p / MANIFEST).is_file():
            return _from_run_dir(p, adapter)
        if (p / "config.json").is_file():
            return ModelSpec(str(p), adapter)
        if (p / "adapter_config.json").is_file() and adapter is None:
            # A bare adapter directory: its config names the base it was trained on.
            base = _read_json(p / "adapter_config.json", "adapter config").get("base_model_name_or_path")
            if not base:
                raise ModelError(
                    f"{p} is a LoRA adapter that does not name its base model; pass model=BASE adapter={p}."
                )
            return ModelSpec(str(base), str(p))
        raise ModelError(
            f"{p} is not a model directory: it has no config.json (nor a sql2nl manifest.json or "
            "adapter_config.json). Point at a Hugging Face model directory, a merged model or a run directory."
        )
    if p.exists():
        hint = " Use the llamacpp backend for GGUF files." if p.suffix.lower() == ".gguf" else ""
        raise ModelError(f"{p} is a file, not a model directory.{hint}")
    if _looks_like_path(model):
        raise ModelError(f"No model at {p}: the directory does not exist.")
    return ModelSpec(model, adapter)


@dataclass
class LoadedModel:
    """A model and tokenizer in memory, and the single worker thread that generates with them."""

    model: Any
    tokenizer: Any
    device: Any
    spec: ModelSpec
    #: Static KV caches by (batch, length), reused across calls (reset in place) so that the compiled
    #: decode step's CUDA graphs see the same addresses every time and are never re-recorded.
    caches: dict = field(default_factory=dict)
    #: The fast decode loop's per-token step functions by (compiled, fullgraph): one compiled set
    #: per model, shared by every backend instance on it (see :class:`.decoding.Steps`).
    steps: dict = field(default_factory=dict)
    _worker: Any = field(default=None, repr=False)
    _worker_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def submit(self, fn, *args):
        """Run ``fn(*args)`` on this model's worker thread; returns a Future."""
        from concurrent.futures import ThreadPoolExecutor

        with self._worker_lock:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sql2nl-transformers")
        return self._worker.submit(fn, *args)

    def run(self, fn, *args):
        """Run ``fn(*args)`` on the worker thread and wait for it (directly when already on it)."""
        if threading.current_thread().name.startswith("sql2nl-transformers"):
            return fn(*args)
        return self.submit(fn, *args).result()


_loaded: dict[tuple, LoadedModel] = {}
_loaded_lock = threading.Lock()


def pick_device(device: str = "auto"):
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        log.warning("sql2nl transformers backend: no CUDA GPU found, running on the CPU (slow for large models).")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidInputError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError("device='cuda' was asked for, but torch sees no CUDA GPU; use device='auto' or 'cpu'.")
    return dev


def pick_dtype(dtype: Any, device):
    import torch

    if dtype in (None, "auto"):
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {
        "bf16": torch.bfloat16,
        "bfloat16": torch.bfloat16,
        "fp16": torch.float16,
        "float16": torch.float16,
        "half": torch.float16,
        "fp32": torch.float32,
        "float32": torch.float32,
        "float": torch.float32,
    }
    if dtype not in names:
        raise InvalidInputError(f"dtype must be 'auto' or one of {', '.join(names)}, got {dtype!r}.")
    return names[dtype]


def oom_error(what: str, advice: str) -> ModelError:
    return ModelError(f"Out of GPU memory {what}. {advice}")


def _is_corrupt_weights(e: BaseException) -> bool:
    name = type(e).__name__
    text = str(e)
    return (
        name == "SafetensorError"
        or "safetensors" in type(e).__module__
        or any(
            s in text
            for s in (
                "deserializing header",
                "HeaderTooLarge",
                "header too large",
                "incomplete metadata",
                "MetadataIncompleteBuffer",
                "InvalidHeader",
            )
        )
    )


def _load_error(e: BaseException, spec: ModelSpec) -> ModelError:
    local = Path(spec.model).is_dir()
    if _is_corrupt_weights(e):
        return ModelError(
            f"A weights file of {spec.model} is corrupt or truncated ({e}). Re-download the model or "
            "re-export the merged model."
        )
    if isinstance(e, OSError) and not local:
        return ModelError(
            f"{spec.model!r} is neither a local directory nor a model the Hugging Face Hub could give "
            f"({e}). Check the name, your connection or HF_TOKEN, or pass a local directory."
        )
    if local and not any((Path(spec.model) / f).exists() for f in _WEIGHT_FILES):
        return ModelError(
            f"{spec.model} has a config.json but no weights (model.safetensors); the directory is "
            "incomplete. Re-export or re-download it."
        )
    return ModelError(f"Could not load the model {spec.model}: {type(e).__name__}: {e}")


def _load_tokenizer(spec: ModelSpec):
    from transformers import AutoTokenizer

    # An adapter saved with its own tokenizer (e.g. a pad token added in training) wins over the base's.
    src = spec.adapter if spec.adapter and (Path(spec.adapter) / "tokenizer_config.json").is_file() else spec.model
    try:
        tok = AutoTokenizer.from_pretrained(src)
    except Exception as e:
        raise _load_error(e, ModelSpec(src)) from e
    tok.padding_side = "left"  # decoder-only batches pad on the left so every row ends at the prompt's end
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _attach_adapter(model, spec: ModelSpec, merge: bool):
    from peft import PeftModel

    assert spec.adapter is not None  # called only for a spec with an adapter
    try:
        model = PeftModel.from_pretrained(model, spec.adapter)
    except Exception as e:
        raise ModelError(
            f"The LoRA adapter {spec.adapter} does not fit the model {spec.model} ({type(e).__name__}: "
            f"{str(e).strip()[:400]}). Pass the base model the adapter was trained on."
        ) from e
    # Folding LoRA into the base weights makes generation as fast as the base model (and compilable).
    return model.merge_and_unload() if merge else model


def load(spec: ModelSpec, *, device: str = "auto", dtype: Any = "auto", merge_adapter: bool = True) -> LoadedModel:
    """Load (once per process) the model and tokenizer for ``spec``."""
    dev = pick_device(device)
    torch_dtype = pick_dtype(dtype, dev)
    key = (spec.model, spec.adapter, str(dev), str(torch_dtype), bool(merge_adapter))
    with _loaded_lock:
        hit = _loaded.get(key)
        if hit is not None:
            return hit
        hit = _loaded[key] = _load(spec, dev, torch_dtype, merge_adapter)
        return hit


def _load(spec: ModelSpec, dev, torch_dtype, merge_adapter: bool) -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM

    tok = _load_tokenizer(spec)
    log.info("loading %s on %s (%s)", spec.label, dev, torch_dtype)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            spec.model,
            dtype=torch_dtype,
            attn_implementation="sdpa",
            device_map=str(dev) if dev.type == "cuda" else None,
        )
    except torch.cuda.OutOfMemoryError as e:
        raise oom_error(f"loading {spec.model}", "Use a smaller model, dtype='bf16'/'fp16', or device='cpu'.") from e
    except Exception as e:
        raise _load_error(e, spec) from e
    if dev.type != "cuda":
        model.to(dev)
    if spec.adapter:
        try:
            model = _attach_adapter(model, spec, merge_adapter)
        except torch.cuda.OutOfMemoryError as e:
            raise oom_error(f"loading the adapter {spec.adapter}", "Use a smaller model or device='cpu'.") from e
    model.eval()
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tok.pad_token_id
    return LoadedModel(model, tok, dev, spec)


def from_objects(model, tokenizer, *, label: str = "in-memory model") -> LoadedModel:
    """Wrap an already loaded model and tokenizer (benchmarks, notebooks that built their own)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return LoadedModel(model, tokenizer, model.device, ModelSpec(label))


def unload_all() -> None:
    """Forget every loaded model (memory is freed once no backend holds them)."""
    with _loaded_lock:
        _loaded.clear()
