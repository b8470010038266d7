"""The backend's own decode loop (gpt-fast style), used instead of HF ``generate`` on the CUDA fast path.

Why: at batch 32 HF ``generate`` with a compiled forward spends most of each decode step outside the
GPU math — its Python loop, logits processors, stopping criteria, building the 4D mask, a
full-vocabulary float32 logits copy, and a host sync per token. Here:

* the prompt is prefilled with one plain forward into a transformers ``StaticCache``;
* each decode step — forward, last-position logits, argmax, done-mask update — is ONE function,
  compiled with ``torch.compile(mode="reduce-overhead", fullgraph=True)`` so that CUDA graphs replay
  it with a single launch; every tensor stays on the GPU with a static shape;
* the host looks at the done-mask only every :data:`EOS_CHECK_EVERY` steps (the only syncs);
* decode attention shares each K/V head with its group of query heads (:func:`grouped_sdpa`) instead
  of copying K/V ``num_key_value_groups`` times (``repeat_kv``), which at batch 32 moved more bytes
  than the weights themselves.

The contract with transformers 5.x (checked against 5.17): the static cache keeps its own fill
level (``cumulative_length``, a tensor it advances in place), so a forward needs ``position_ids``
(per row, accounting for left padding: ``attention_mask.cumsum(-1) - 1`` as HF ``generate`` does)
and a 2D padding mask; the mask of a decode step spans the whole cache (``max_cache_len``), zero
only at the left padding — causality (query at the cache's fill level) hides the unwritten slots.
Results are those of HF greedy ``generate`` (the tests compare them token for token).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("sql2nl.transformers")

#: Decode steps between two looks at the done-mask (each look is a host<->GPU sync).
EOS_CHECK_EVERY = 8
#: The attention implementation name registered for :func:`grouped_sdpa` (masks as for "sdpa").
GROUPED_SDPA = "sql2nl_grouped_sdpa"

# Generation options the loop does not implement: with any of them set (to other than its neutral
# value) the backend uses HF ``generate``, which does.
_UNSUPPORTED = {
    "repetition_penalty": (None, 1.0),
    "encoder_repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0),
    "encoder_no_repeat_ngram_size": (None, 0),
    "bad_words_ids": (None,),
    "sequence_bias": (None,),
    "suppress_tokens": (None,),
    "begin_suppress_tokens": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "min_length": (None, 0),
    "min_new_tokens": (None, 0),
    "typical_p": (None, 1.0),
    "epsilon_cutoff": (None, 0.0),
    "eta_cutoff": (None, 0.0),
    "min_p": (None,),
    "exponential_decay_length_penalty": (None,),
    "renormalize_logits": (None, False),
    "guidance_scale": (None, 1.0),
    "num_beams": (None, 1),
    "stop_strings": (None,),
    "watermarking_config": (None,),
    "remove_invalid_values": (None, False),
}


def unsupported_reason(model: Any, generation_config: Any) -> str | None:
    """Why the own loop cannot run this model/config (None when it can)."""
    for name, neutral in _UNSUPPORTED.items():
        value = getattr(generation_config, name, None)
        if value not in neutral:
            return f"generation option {name}={value!r}"
    config = getattr(model, "config", None)
    if getattr(config, "is_encoder_decoder", False):
        return "an encoder-decoder model"
    if "position_ids" not in _forward_params(model):
        return "the model's forward takes no position_ids"
    return None


def _base_model(model: Any) -> Any:
    get = getattr(model, "get_base_model", None)  # a PEFT wrapper forwards **kwargs to the base model
    return get() if callable(get) else model


def _forward_params(model: Any) -> set[str]:
    try:
        return set(inspect.signature(_base_model(model).forward).parameters)
    except (TypeError, ValueError):
        return set()


# -- attention ----------------------------------------------------------------------------------
def grouped_sdpa(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """SDPA for one query token under grouped-query attention, without copying K/V per query head.

    With a mask, transformers' SDPA path expands K/V to every query head (``repeat_kv``); for a
    single query token the query heads of a group can instead be laid out as that K/V head's
    "query positions": ``q [B, H, 1, D] -> [B, H_kv, G, D]``, one attention over the shared K/V.
    Anything else (prefill, no grouping, extra attention biases) goes to transformers' own SDPA.
    """
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    simple = not any(kwargs.get(k) is not None for k in ("position_bias", "s_aux", "sliding_window"))
    if (
        query.shape[2] != 1
        or groups <= 1
        or not simple
        or attention_mask is None
        or attention_mask.dim() != 4
        or key.shape[1] * groups != query.shape[1]
    ):
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    b, h, _, d = query.shape
    hkv = key.shape[1]
    # repeat_kv's order: query head j*G + g reads K/V head j, so [B, H, 1, D] -> [B, H_kv, G, D] pairs them up.
    q = query.reshape(b, hkv, groups, d)
    out = torch.nn.functional.scaled_dot_product_attention(
        q, key, value, attn_mask=attention_mask, dropout_p=0.0, scale=scaling
    )
    return out.reshape(b, 1, h, out.shape[-1]), None  # [B, q_len=1, H, D], as sdpa_attention_forward returns


_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(GROUPED_SDPA, grouped_sdpa)
    AttentionMaskInterface.register(GROUPED_SDPA, sdpa_mask)
    _registered = True


@contextmanager
def grouped_attention(model: Any):
    """Within the block, a model that uses "sdpa" uses :func:`grouped_sdpa` (same masks, same prefill)."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "_attn_implementation", None) != "sdpa":
        yield
        return
    _register()
    config._attn_implementation = GROUPED_SDPA
    try:
        yield
    finally:
        config._attn_implementation = "sdpa"


# -- token choice ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sampling:
    """Sampling settings with HF's semantics (temperature, then top-k, then top-p); ``None`` means greedy."""

    temperature: float
    top_k: int = 0
    top_p: float = 1.0


def sample_probs(logits, temperature, top_k: int, top_p):
    """The distribution HF's Temperature/TopK/TopP warpers leave (float32, ``[B, V]``).

    ``temperature`` and ``top_p`` may be 0-d tensors (no recompiles when they change); ``top_k`` is an int.
    """
    import torch

    scores = logits.float() / temperature
    if top_k > 0:
        k = min(top_k, scores.shape[-1])
        kth = torch.topk(scores, k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    sorted_scores, order = torch.sort(scores, descending=False, dim=-1)
    cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= (1 - top_p)
    remove[..., -1:] = False  # keep at least one token
    scores = scores.masked_fill(remove.scatter(1, order, remove), float("-inf"))
    return scores.softmax(dim=-1)


def draw(probs):
    """One token per row from ``probs`` without a host sync (argmax of p / Exp(1) noise == a categorical draw)."""
    import torch

    noise = torch.empty_like(probs).exponential_(1)
    return (probs / noise).argmax(dim=-1)


# -- the step -----------------------------------------------------------------------------------
class Steps:
    """The per-token functions of one model: plain, or compiled into CUDA graphs.

    ``greedy(cache, ids, pos, mask, done, stop) -> (next [B], done [B])`` does forward, last-position
    logits, argmax, padding of finished rows and the done-mask update in one graph.
    ``probs(cache, ids, pos, mask, temperature, top_p, top_k) -> [B, V]`` is the sampling
    distribution; the random draw runs outside the graph (plain CUDA RNG, seeded by ``torch.manual_seed``).
    """

    def __init__(self, model: Any, pad_id: int, *, compile: bool, fullgraph: bool = True, backend: str = "inductor"):
        self.model = model
        self.pad_id = int(pad_id)
        self.compiled = compile
        self.fullgraph = fullgraph
        self.logits_to_keep = "logits_to_keep" in _forward_params(model)
        greedy, probs = self._greedy, self._probs
        if compile:
            import torch

            # Every (batch, cache length) shape is one more compiled entry of the same code; the
            # default limit (8) would silently send later shapes to eager.
            cfg = torch._dynamo.config
            if getattr(cfg, "recompile_limit", 64) < 64:
                cfg.recompile_limit = 64
            # backend="eager" (tests) traces the same graph without code generation.
            opts: dict[str, Any] = dict(fullgraph=fullgraph, dynamic=False, backend=backend)
            if backend == "inductor":
                opts["mode"] = "reduce-overhead"
            greedy = torch.compile(greedy, **opts)
            probs = torch.compile(probs, **opts)
        self.greedy: Callable = greedy
        self.probs: Callable = probs

    def _logits(self, cache, ids, pos, mask):
        kwargs = {"logits_to_keep": 1} if self.logits_to_keep else {}
        out = self.model(
            input_ids=ids, position_ids=pos, attention_mask=mask, past_key_values=cache, use_cache=True, **kwargs
        )
        return out.logits[:, -1, :]

    def _greedy(self, cache, ids, pos, mask, done, stop):
        import torch

        nxt = self._logits(cache, ids, pos, mask).argmax(dim=-1)
        nxt = torch.where(done, self.pad_id, nxt)
        return nxt, done | torch.isin(nxt, stop)

    def _probs(self, cache, ids, pos, mask, temperature, top_p, top_k: int):
        return sample_probs(self._logits(cache, ids, pos, mask), temperature, top_k, top_p)


def generate(
    steps: Steps,
    cache: Any,
    input_ids,
    attention_mask,
    *,
    max_new_tokens: int,
    stop_ids,
    sampling: Sampling | None = None,
    check_every: int = EOS_CHECK_EVERY,
):
    """New tokens ``[B, n]`` (n <= max_new_tokens) for a left-padded batch; rows that stopped are padded.

    ``cache`` is an empty (or reset) ``StaticCache`` long enough for prompt + new tokens. Stops after
    ``max_new_tokens`` or once every row has produced one of ``stop_ids`` (looked at every
    ``check_every`` steps, so up to ``check_every - 1`` steps may run past the end: those only
    write padding). Must run under ``torch.no_grad()``.
    """
    import torch

    dev = input_ids.device
    batch, width = input_ids.shape
    length = cache.get_max_length() if hasattr(cache, "get_max_length") else cache.max_cache_len
    if width + max_new_tokens - 1 > length:
        raise ValueError(f"static cache of {length} positions is too short for {width} + {max_new_tokens} tokens")
    attention_mask = attention_mask.to(dev)
    stop = torch.as_tensor(sorted(stop_ids), dtype=torch.long, device=dev)
    # HF generate's positions: count of real tokens before each one; pads get 0 (they are masked anyway).
    pos = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
    # The decode mask spans the whole cache: 0 at the left padding, 1 elsewhere. Slots not yet written
    # are hidden by causality (the query sits at the cache's fill level), so it never changes.
    mask = torch.ones(batch, length, dtype=attention_mask.dtype, device=dev)
    mask[:, :width] = attention_mask
    out = torch.full((batch, max_new_tokens), steps.pad_id, dtype=torch.long, device=dev)
    if sampling is not None:
        temperature = torch.tensor(float(sampling.temperature), device=dev)
        top_p = torch.tensor(float(sampling.top_p), device=dev)

    def choose(logits):
        if sampling is None:
            return logits.argmax(dim=-1)
        return draw(sample_probs(logits, temperature, sampling.top_k, top_p))

    with grouped_attention(steps.model):
        # Prefill: a plain forward (its width varies per call; compiling it would recompile per width).
        # The 2D mask of the prompt alone lets an unpadded batch use SDPA's causal fast path, as HF does.
        kwargs = {"logits_to_keep": 1} if steps.logits_to_keep else {}
        logits = steps.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=pos,
            past_key_values=cache,
            use_cache=True,
            **kwargs,
        ).logits[:, -1, :]
        nxt = choose(logits)
        done = torch.isin(nxt, stop)
        out[:, 0] = nxt
        ids = nxt[:, None].clone()
        pos = pos[:, -1:].clone() + 1
        n = 1
        for i in range(1, max_new_tokens):
            if i % check_every == 0 and not bool(done.logical_not().any()):
                break  # the only host sync: every row has stopped
            if steps.compiled and dev.type == "cuda":
                torch.compiler.cudagraph_mark_step_begin()  # the previous step's outputs are consumed
            if sampling is None:
                nxt, new_done = steps.greedy(cache, ids, pos, mask, done, stop)
            else:
                probs = steps.probs(cache, ids, pos, mask, temperature, top_p, sampling.top_k)
                nxt = torch.where(done, steps.pad_id, draw(probs))
                new_done = done | torch.isin(nxt, stop)
            # Copy out of the graph's output buffers (the next replay overwrites them).
            out[:, i].copy_(nxt)
            ids.copy_(nxt[:, None])
            done.copy_(new_done)
            pos.add_(1)
            n = i + 1
    return out[:, :n]
