"""Which llama.cpp pre-tokenizer a Hugging Face tokenizer needs, including ones the converter does not know.

llama.cpp's converter recognises a BPE tokenizer by hashing how it tokenizes a fixed text
(``get_vocab_base_pre``) and refuses unknown hashes — every tokenizer trained locally has one.
When such a tokenizer is *plain byte-level BPE* (BPE model, no normalizer, a ByteLevel
pre-tokenizer with a regex llama.cpp implements, ByteLevel decoder), its pre-tokenization is one
llama.cpp already has, so we map the hash to that type. The mapping is then proven by the
tokenizer parity check after conversion; anything else fails with :class:`TokenizerError`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import TokenizerError

# Split regexes HF tokenizers use in front of ByteLevel(use_regex=False) -> llama.cpp pre type.
LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPLIT_REGEX_TYPES = {LLAMA3_REGEX: "llama-bpe", QWEN2_REGEX: "qwen2"}


@dataclass(frozen=True)
class PreTokenizerPlan:
    """What the converter needs to hear: ``env`` is ``"<hash>:<type>"`` or ``None`` when it knows the hash."""

    chkhsh: str | None
    known: bool
    pre: str | None
    reason: str

    @property
    def env(self) -> str | None:
        return None if self.known or not self.pre else f"{self.chkhsh}:{self.pre}"


def plan(model_dir: str | Path, tools_dir: str | Path, tokenizer=None) -> PreTokenizerPlan:
    """Decide how the converter will handle ``model_dir``'s tokenizer (raises :class:`TokenizerError` if it can't)."""
    model_dir, tools_dir = Path(model_dir), Path(tools_dir)
    tj = model_dir / "tokenizer.json"
    if not tj.is_file():  # SentencePiece / tiktoken tokenizers: the converter handles them without a hash
        return PreTokenizerPlan(None, True, None, "no tokenizer.json; left to the converter")
    info = json.loads((tools_dir / "SQL2NL_TOOLS.json").read_text(encoding="utf-8"))
    spec = json.loads(tj.read_text(encoding="utf-8"))
    if (spec.get("model") or {}).get("type") != "BPE":
        return PreTokenizerPlan(None, True, None, "not a BPE tokenizer; left to the converter")
    if tokenizer is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    chktxt = info.get("chktxt")
    if not chktxt:
        return PreTokenizerPlan(None, True, None, "converter has no pre-tokenizer hash check")
    chkhsh = hashlib.sha256(str(tokenizer.encode(chktxt)).encode()).hexdigest()
    if _converter_knows(tools_dir, chkhsh):
        return PreTokenizerPlan(chkhsh, True, None, "hash known to llama.cpp's converter")
    pre, why = byte_level_type(spec)
    if pre is None:
        raise TokenizerError(
            f"The tokenizer in {model_dir} is unknown to llama.cpp's converter (hash {chkhsh[:12]}...) and is not "
            f"plain byte-level BPE ({why}), so it cannot be exported to GGUF faithfully. Use a tokenizer "
            "llama.cpp supports, or a byte-level BPE tokenizer with a standard pre-tokenizer."
        )
    if not info.get("pre_tokenizer_patch"):
        raise TokenizerError(
            f"The tokenizer in {model_dir} needs the pre-tokenizer mapping, but the llama.cpp tool "
            "folder's converter could not be patched for it; prepare the tools again."
        )
    return PreTokenizerPlan(chkhsh, False, pre, f"unknown hash; plain byte-level BPE mapped to {pre!r}")


def _converter_knows(tools_dir: Path, chkhsh: str) -> bool:
    for src in (tools_dir / "conversion" / "base.py", tools_dir / "convert_hf_to_gguf.py"):
        if src.is_file() and f'"{chkhsh}"' in src.read_text(encoding="utf-8"):
            return True
    return False


def byte_level_type(spec: dict) -> tuple[str | None, str]:
    """The llama.cpp pre type for a plain byte-level BPE ``tokenizer.json``, or ``(None, why not)``."""
    if spec.get("normalizer"):
        return None, f"it has a {spec['normalizer'].get('type')} normalizer"
    dec = spec.get("decoder") or {}
    if dec.get("type") != "ByteLevel":
        return None, f"its decoder is {dec.get('type')!r}, not ByteLevel"
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    if len(steps) == 1 and steps[0].get("type") == "ByteLevel":
        bl = steps[0]
        if bl.get("add_prefix_space"):
            return None, "its ByteLevel pre-tokenizer adds a prefix space"
        if bl.get("use_regex", True):
            return "gpt-2", "ByteLevel with the GPT-2 regex"
        return None, "its ByteLevel pre-tokenizer splits nothing"
    if (
        len(steps) == 2
        and steps[0].get("type") == "Split"
        and steps[1].get("type") == "ByteLevel"
        and not steps[1].get("use_regex", True)
        and not steps[1].get("add_prefix_space")
        and steps[0].get("behavior") == "Isolated"
        and not steps[0].get("invert")
    ):
        regex = (steps[0].get("pattern") or {}).get("Regex")
        if regex in SPLIT_REGEX_TYPES:
            return SPLIT_REGEX_TYPES[regex], "Split regex + ByteLevel"
        return None, "its Split regex is not one llama.cpp implements"
    return None, f"its pre-tokenizer ({pre.get('type')}) is not a standard byte-level one"


# The other direction (llama.cpp's pre type -> a Hugging Face pre-tokenizer, for training on a GGUF
# file) lives with the GGUF training base: sql2nl_training.gguf_base.match_llama_cpp.
