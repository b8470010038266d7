"""Small Llama models built from a config, with a byte-level BPE tokenizer trained on the data.

``--base scratch:<size>`` uses this: the offline way to train a real model end to end (tests,
air-gapped users). The result is an ordinary Hugging Face model directory, loaded later by the
same code that loads a hub model.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sql2nl.prompt import PLAIN_CHAT_TEMPLATE

# name -> LlamaConfig fields. "tiny" is for tests (seconds on a CPU); "small" for a real short run.
SIZES = {
    "tiny": dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=512,
    ),
    "mini": dict(
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=2048,
    ),
    "small": dict(
        hidden_size=512,
        intermediate_size=1376,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=4,
        vocab_size=8192,
    ),
    "base": dict(
        hidden_size=1024,
        intermediate_size=2816,
        num_hidden_layers=12,
        num_attention_heads=16,
        num_key_value_heads=8,
        vocab_size=16384,
    ),
}

BOS, EOS, PAD = "<|begin_of_text|>", "<|end_of_text|>", "<|pad|>"


def train_tokenizer(texts: Iterable[str], vocab_size: int = 512):
    """A byte-level BPE tokenizer (GPT-2/Llama-3 style) trained on ``texts``, with the plain chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS, EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD, clean_up_tokenization_spaces=False
    )
    fast.chat_template = PLAIN_CHAT_TEMPLATE
    return fast


def build(
    size: str, texts: Iterable[str], out_dir: str | Path, *, seed: int = 0, max_positions: int = 2048, **overrides
) -> Path:
    """Build a random-weight ``LlamaForCausalLM`` of ``size`` and a tokenizer trained on ``texts``; save both."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if size not in SIZES:
        raise ValueError(f"Unknown scratch size {size!r}; choose one of {', '.join(SIZES)}.")
    spec = {**SIZES[size], **overrides}
    tok = train_tokenizer(texts, vocab_size=spec["vocab_size"])
    cfg = LlamaConfig(
        **{**spec, "vocab_size": len(tok)},
        max_position_embeddings=max_positions,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )  # RoPE base: the default 10000
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    model.generation_config.pad_token_id = tok.pad_token_id
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out
