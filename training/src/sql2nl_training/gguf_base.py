"""A GGUF file as a training base: ``--base gguf:PATH``.

>>> from sql2nl_training.gguf_base import prepare              # doctest: +SKIP
>>> base = prepare("gguf:.base/SmolLM2-135M-Instruct.Q4_1.gguf")
>>> base.model_dir, base.eos, base.sha256[:12]
(PosixPath('~/.cache/sql2nl/gguf-bases/b179c9523d0e6a0f-v1'), '<|im_end|>', 'b179c9523d0e')

Transformers reads the file (``from_pretrained(dir, gguf_file=...)``, through the ``gguf`` package)
and dequantizes every tensor to float32; the result is saved **once** as an ordinary Hugging Face
model directory in a cache keyed by the file's SHA-256 (``$SQL2NL_GGUF_BASE_CACHE``, default
``~/.cache/sql2nl/gguf-bases/<sha256[:16]>-v<N>``), so every run, tuning trial and later stage on the
same file shares it, and a changed file never reuses a stale copy. Training then treats that
directory like any other base (Unsloth or PEFT); the run's manifest records the file, its hash
and the special tokens chosen (``base_file``).

The special tokens are checked, not trusted: transformers' GGUF tokenizer conversion can name the
wrong EOS (for SmolLM2-135M-Instruct it gives ``<|im_start|>``, while the chat template ends every
turn with ``<|im_end|>`` and the file's own metadata says id 2). EOS is the token the chat template
writes right after an assistant message (without a template: the EOS the file declares), PAD the
file's declared padding token (else the unknown token, else EOS). Tokenizer, model config and
generation config are all set to those, so training (the completion ends with EOS) and generation
(stops at EOS) agree. A template whose turns end with something that is not one token, an EOS id
outside the vocabulary, or an architecture transformers cannot dequantize raises :class:`ModelError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sql2nl.errors import InvalidInputError, ModelError

PREFIX = "gguf:"
#: Bumped when the conversion below changes, so caches made by an older version are not reused.
CONVERSION = 2  # 2: the tokenizer splits text as llama.cpp does (tokenizer.ggml.pre)
INFO = "sql2nl-gguf-base.json"
_MARKER = "\u2063sql2nl-end-of-turn\u2063"  # an invisible separator no template writes itself


@dataclass
class GGUFBase:
    """A prepared GGUF base: where its Hugging Face copy lives and what was decided about it."""

    model_dir: Path
    file: str
    sha256: str
    architecture: str
    eos: str
    pad: str
    conversion: int = CONVERSION
    pre_tokenizer: str | None = None  # llama.cpp's pre type the saved tokenizer was given, if any

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model_dir"] = str(self.model_dir)
        return d


def is_gguf_base(base: str | None) -> bool:
    return bool(base) and str(base).startswith(PREFIX)


def gguf_file(base: str) -> Path:
    """The file a ``gguf:PATH`` base names (checked to exist)."""
    path = Path(str(base)[len(PREFIX) :] if is_gguf_base(base) else str(base)).expanduser()
    if not str(path) or not path.is_file():
        raise InvalidInputError(f"No GGUF file at {path}: --base gguf:PATH needs an existing .gguf file.")
    return path.resolve()


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def cache_root() -> Path:
    env = os.environ.get("SQL2NL_GGUF_BASE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sql2nl" / "gguf-bases"


def read_metadata(path: Path) -> dict[str, Any]:
    """The GGUF key/value metadata that matters here (architecture, special token ids, template)."""
    try:
        from gguf import GGUFReader
    except ImportError:
        from sql2nl.errors import BackendUnavailableError

        raise BackendUnavailableError(
            "gguf base", "pip install gguf (a dependency of sql2nl-training)", "the gguf package is not installed"
        ) from None
    try:
        reader = GGUFReader(str(path))
    except Exception as e:  # wrong magic, truncated file...
        raise ModelError(f"{path} is not a readable GGUF file ({type(e).__name__}: {e}).") from None
    keys = (
        "general.architecture",
        "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.padding_token_id",
        "tokenizer.ggml.unknown_token_id",
        "tokenizer.ggml.bos_token_id",
        "tokenizer.chat_template",
        "tokenizer.ggml.pre",
    )
    out: dict[str, Any] = {}
    for k in keys:
        f = reader.fields.get(k)
        if f is not None:
            out[k] = f.contents()
    return out


def _check_architecture(path: Path, meta: dict[str, Any]) -> str:
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    arch = meta.get("general.architecture")
    supported = sorted(a for a in GGUF_SUPPORTED_ARCHITECTURES if a not in ("general", "tokenizer"))
    if not arch or arch not in GGUF_SUPPORTED_ARCHITECTURES or arch in ("general", "tokenizer"):
        raise ModelError(
            f"{path.name} holds a {arch or 'unnamed'!s} model; transformers can load (dequantize) GGUF "
            f"files of these architectures only: {', '.join(supported)}. Use a Hugging Face model "
            "directory or hub id as --base instead."
        )
    return str(arch)


def end_of_turn(tokenizer, template: str, *, eos_token: str = "", bos_token: str = "") -> str:
    """The text the chat template writes right after an assistant message, up to the next newline."""
    from sql2nl.prompt import render_jinja_template

    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": _MARKER}]
    try:
        text = render_jinja_template(
            template, msgs, eos_token=eos_token, bos_token=bos_token, add_generation_prompt=False
        )
    except Exception as e:
        raise ModelError(f"The GGUF file's chat template does not render ({type(e).__name__}: {e}).") from None
    if _MARKER not in text:
        raise ModelError(
            "The GGUF file's chat template does not write the assistant's message; it cannot be used "
            "to train a describer."
        )
    return text.split(_MARKER, 1)[1].split("\n", 1)[0].strip(" ")


def _single_token(tokenizer, text: str) -> int | None:
    if not text:
        return None
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids[0] if len(ids) == 1 else None


def _ids(x) -> list[int]:
    if x is None:
        return []
    return [int(i) for i in x] if isinstance(x, (list, tuple)) else [int(x)]


def special_tokens(tokenizer, model_config, meta: dict[str, Any], path: Path) -> tuple[int, int]:
    """(EOS id, PAD id) as described in the module docstring; :class:`ModelError` when inconsistent."""
    vocab = len(tokenizer)
    declared_eos = _ids(meta.get("tokenizer.ggml.eos_token_id")) or _ids(model_config.eos_token_id)
    for i in declared_eos:
        if not 0 <= i < vocab:
            raise ModelError(
                f"{path.name} declares EOS token id {i}, outside its vocabulary of {vocab} tokens; "
                "the file is inconsistent and cannot be trained on."
            )
    template = meta.get("tokenizer.chat_template") or getattr(tokenizer, "chat_template", None)
    if template:
        eos_text = tokenizer.convert_ids_to_tokens(declared_eos[0]) if declared_eos else ""
        bos = _ids(meta.get("tokenizer.ggml.bos_token_id"))
        bos_text = tokenizer.convert_ids_to_tokens(bos[0]) if bos and 0 <= bos[0] < vocab else ""
        end = end_of_turn(tokenizer, template, eos_token=eos_text, bos_token=bos_text)
        eos = _single_token(tokenizer, end)
        if eos is None:
            raise ModelError(
                f"The chat template of {path.name} ends assistant turns with {end!r}, which is not a "
                "single token of its vocabulary, so a model trained on it could not stop cleanly. "
                "Fix the template in the file, or use a Hugging Face model directory as --base."
            )
    elif declared_eos:
        eos = declared_eos[0]
    else:
        raise ModelError(
            f"{path.name} has neither a chat template nor an EOS token; training needs one to know where a "
            "description ends."
        )
    pads = _ids(meta.get("tokenizer.ggml.padding_token_id")) or _ids(model_config.pad_token_id)
    pads += _ids(meta.get("tokenizer.ggml.unknown_token_id"))
    pad = next((i for i in pads if 0 <= i < vocab), eos)
    return eos, pad


# llama.cpp pre type (GGUF ``tokenizer.ggml.pre``) -> the Hugging Face pre-tokenizer that splits text as
# llama.cpp does (its llama-vocab.cpp regexes). transformers' GGUF reader gives every byte-level BPE
# vocabulary plain ByteLevel splitting, which is wrong for the types that split digits first.
DIGITS_FIRST = ("smollm", "codeshell", "exaone", "minerva")


def hf_pre_tokenizer(pre: str):
    """The ``tokenizers`` pre-tokenizer for llama.cpp pre type ``pre``, or ``None`` if it is not one we map."""
    from tokenizers import pre_tokenizers as pt

    byte_level = pt.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    if pre in DIGITS_FIRST:  # "\p{N}" first, then the GPT-2 regex: every digit is its own piece
        return pt.Sequence([pt.Digits(individual_digits=True), byte_level])
    if pre == "gpt-2":
        return byte_level
    return None


def match_llama_cpp(tokenizer, gguf: str | Path | dict[str, Any]) -> str | None:
    """Give ``tokenizer`` (read by transformers from the GGUF file ``gguf``, or from a file whose
    :func:`read_metadata` is given) the splitting llama.cpp uses for it.

    Returns the pre type applied, or ``None`` when the file names none we map (the tokenizer is left as
    it is). Training on a GGUF base needs this: SmolLM2's file says ``smollm`` (digits split first), and
    without it 17 % of Spider prompts tokenize differently in training than in llama.cpp.
    """
    meta = gguf if isinstance(gguf, dict) else read_metadata(Path(gguf))
    pre = meta.get("tokenizer.ggml.pre")
    new = hf_pre_tokenizer(pre) if isinstance(pre, str) else None
    if new is None:
        return None
    tokenizer.backend_tokenizer.pre_tokenizer = new
    return pre


def dequantize(
    path: Path, out: Path, meta: dict[str, Any], arch: str, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Load ``path`` through transformers (dequantized, float32), fix its special tokens, save it to ``out``."""
    log(f"dequantizing {path.name} ({arch}) into a Hugging Face model directory (once per file)")
    # transformers reads a GGUF file from a folder, and would also pick up any config.json or
    # tokenizer files lying beside it (in /tmp, say): give it a folder holding only the file
    with tempfile.TemporaryDirectory(prefix="sql2nl-gguf-") as alone:
        link = Path(alone) / path.name
        try:
            link.symlink_to(path)
        except OSError:  # no symlinks here (some Windows setups): a copy does as well
            shutil.copyfile(path, link)
        return _convert(link, out, meta)


def _convert(path: Path, out: Path, meta: dict[str, Any]) -> dict[str, Any]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    kw = {"gguf_file": path.name}
    try:  # tokenizer and config first: an inconsistent file fails before any tensor is read
        tok = AutoTokenizer.from_pretrained(str(path.parent), **kw)
        config = AutoConfig.from_pretrained(str(path.parent), **kw)
    except Exception as e:  # a malformed tokenizer surfaces as TypeError, KeyError, ValueError...
        raise ModelError(
            f"transformers could not read the tokenizer or configuration of {path.name} ({type(e).__name__}: {e})."
        ) from None
    eos, pad = special_tokens(tok, config, meta, path)
    # Training must see the token ids llama.cpp will see when it runs the GGUF with the adapter.
    pre = match_llama_cpp(tok, meta)
    try:
        # with output_loading_info=True this is a (model, info) pair; transformers types it as the model
        loaded: Any = AutoModelForCausalLM.from_pretrained(
            str(path.parent), dtype=torch.float32, output_loading_info=True, **kw
        )
        model, loading = loaded
    except (ValueError, KeyError, OSError, RuntimeError, NotImplementedError) as e:
        raise ModelError(
            f"transformers could not load {path.name} ({type(e).__name__}: {e}). Only decoder-only "
            "models of the supported GGUF architectures can be training bases."
        ) from None
    missing = sorted(loading.get("missing_keys") or [])
    if missing:  # transformers would fill them with random values and carry on
        raise ModelError(
            f"{path.name} lacks {len(missing)} of the model's weights (e.g. {missing[0]}); the file is "
            "incomplete or not a full model."
        )
    eos_t, pad_t = tok.convert_ids_to_tokens(eos), tok.convert_ids_to_tokens(pad)
    tok.eos_token, tok.pad_token = eos_t, pad_t
    tok.clean_up_tokenization_spaces = False  # the GGUF conversion turns it on; it would change BPE text on decode
    if meta.get("tokenizer.chat_template") and not getattr(tok, "chat_template", None):
        tok.chat_template = meta["tokenizer.chat_template"]
    model.config.eos_token_id, model.config.pad_token_id = eos, pad
    gen = model.generation_config
    # keep any other stop tokens the file declares, with the turn's end first
    stops = [eos] + [i for i in _ids(gen.eos_token_id) if i != eos]
    gen.eos_token_id = stops if len(stops) > 1 else eos
    gen.pad_token_id = pad
    # Every weight is dequantized already; the GGUF "quantizer" transformers attaches is only a marker,
    # and it refuses to save a model that carries it.
    model.hf_quantizer = None
    for attr in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(model.config, attr):
            delattr(model.config, attr)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return {"eos": eos_t, "pad": pad_t, "pre_tokenizer": pre}


def prepare(base: str, *, cache: str | Path | None = None, log: Callable[[str], None] = print) -> GGUFBase:
    """The Hugging Face copy of the GGUF file ``base`` names (``gguf:PATH`` or a path), made once and cached."""
    from sql2nl.rundir import atomic_dir, atomic_write_json

    path = gguf_file(base)
    meta = read_metadata(path)
    arch = _check_architecture(path, meta)
    digest = file_sha256(path)
    folder = Path(cache).expanduser() if cache else cache_root()
    target = folder / f"{digest[:16]}-v{CONVERSION}"
    info_file = target / INFO
    if info_file.is_file() and (target / "config.json").is_file():
        info = json.loads(info_file.read_text(encoding="utf-8"))
        if info.get("sha256") == digest:
            return GGUFBase(
                target, str(path), digest, arch, info["eos"], info["pad"], pre_tokenizer=info.get("pre_tokenizer")
            )
    with atomic_dir(target) as tmp:  # a concurrent or killed conversion never leaves half a directory
        tokens = dequantize(path, tmp, meta, arch, log)
        atomic_write_json(
            tmp / INFO,
            {"source": str(path), "sha256": digest, "architecture": arch, "conversion": CONVERSION, **tokens},
        )
    return GGUFBase(
        target, str(path), digest, arch, tokens["eos"], tokens["pad"], pre_tokenizer=tokens["pre_tokenizer"]
    )
