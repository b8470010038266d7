"""Padding-free batches and a loss computed on the description tokens only.

A batch of examples becomes one row: the examples are concatenated, ``position_ids`` restart at 0 for
each one, and ``cu_seq_lens`` mark where each starts, so attention never crosses from one example
into the next. No token is padding.

The loss needs logits only where a description token is predicted (about a fifth of the tokens for
SQL→description pairs), so the LM head, a 4096×128k matrix for Llama-3, runs on those positions
alone (``logits_to_keep`` as a tensor of positions, a transformers feature) instead of on every
token. That is where plain fine-tuning spends much of its time and memory on short examples.

Attention for packed rows (:func:`register_varlen_attention`): PyTorch's variable-length flash
kernel on CUDA (``torch.nn.attention.varlen``), one causal SDPA call per example elsewhere.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

IGNORE = -100
ATTENTION = "sql2nl_varlen"


class PackedCollator:
    """Tokenized rows → one packed row.

    A row has ``input_ids`` and either ``labels`` (-100 on prompt tokens; what TRL's dataset
    preparation writes) or ``completion_mask`` (1 on description tokens). The first token of an
    example is a prompt token, so it is never the target of the example before it.
    """

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        cu = [0]
        for f in features:
            x = list(f["input_ids"])
            if f.get("labels") is not None:
                labels += list(f["labels"])
            else:
                mask = f.get("completion_mask") or f.get("assistant_masks") or [1] * len(x)
                labels += [t if m else IGNORE for t, m in zip(x, mask)]
            ids += x
            positions += range(len(x))
            cu.append(cu[-1] + len(x))
        lens = [b - a for a, b in zip(cu, cu[1:])]
        cu_t = torch.tensor(cu, dtype=torch.int32)
        longest = max(lens) if lens else 0
        return {
            "input_ids": torch.tensor([ids]),
            "labels": torch.tensor([labels]),
            "position_ids": torch.tensor([positions]),
            "cu_seq_lens_q": cu_t,
            "cu_seq_lens_k": cu_t,
            "max_length_q": longest,
            "max_length_k": longest,
        }


def completion_loss(model, batch: dict[str, Any], num_items: int | None = None):
    """Mean cross-entropy over the description tokens of a packed batch; logits only where needed.

    Returns ``(loss, n_targets)``. ``num_items`` (tokens over all accumulation steps and processes,
    as the HF Trainer counts them) replaces the local count as the divisor when given.
    """
    import torch
    import torch.nn.functional as F

    labels = batch["labels"]
    targets = labels[:, 1:]  # position t predicts token t + 1
    keep = (targets[0] != IGNORE).nonzero().squeeze(1)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    out = model(**inputs, logits_to_keep=keep, use_cache=False)
    logits = out.logits[0]
    if logits.shape[0] != keep.shape[0]:  # a model that ignores logits_to_keep returned every position
        logits = logits[keep]
    y = targets[0, keep]
    loss = F.cross_entropy(logits.float(), y, reduction="sum")
    denom = num_items if num_items is not None else max(int(keep.numel()), 1)
    if isinstance(denom, torch.Tensor):
        denom = denom.to(loss.device).clamp(min=1)
    return loss / denom, int(keep.numel())


# --- attention for packed rows ---------------------------------------------------------------------


class Varlen(NamedTuple):
    """PyTorch's varlen flash attention as this version spells it."""

    attn: Callable
    causal: dict  # the causal keyword: window_size=(-1, 0) (torch >= 2.11) or is_causal=True
    gqa: bool  # takes enable_gqa (torch >= 2.12)
    scale: bool  # takes scale


_VARLEN: list = []  # filled once; a plain list, not lru_cache, so torch.compile can read it without a break


def _torch_varlen() -> Varlen | None:
    """PyTorch's varlen flash attention and how to call it causally, or None where it is missing."""
    if not _VARLEN:
        _VARLEN.append(_find_torch_varlen())
    return _VARLEN[0]


def _find_torch_varlen():
    try:
        from torch.nn.attention.varlen import varlen_attn
    except Exception:
        return None
    params = inspect.signature(varlen_attn).parameters
    if "window_size" in params:
        causal = {"window_size": (-1, 0)}
    elif "is_causal" in params:
        causal = {"is_causal": True}
    else:
        return None
    return Varlen(varlen_attn, causal, "enable_gqa" in params, "scale" in params)


def _segments_sdpa(q, k, v, cu, scaling):
    """One causal SDPA call per example: the portable path (CPU, other GPUs, old PyTorch)."""
    import torch
    import torch.nn.functional as F

    gqa = q.shape[1] != k.shape[1]
    out = torch.empty_like(q)
    bounds = cu.tolist()
    for a, b in zip(bounds, bounds[1:]):
        qs, ks, vs = (t[a:b].transpose(0, 1) for t in (q, k, v))  # [H, n, D]
        out[a:b] = F.scaled_dot_product_attention(qs, ks, vs, is_causal=True, scale=scaling, enable_gqa=gqa).transpose(
            0, 1
        )
    return out


def varlen_attention_forward(
    module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None, **kwargs
):
    """A transformers attention function: packed rows by ``cu_seq_lens_q``; anything else as SDPA."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    cu = kwargs.get("cu_seq_lens_q")
    if cu is None or query.shape[0] != 1 or attention_mask is not None or key.shape[2] != query.shape[2]:
        if attention_mask is not None and attention_mask.dim() == 2:
            attention_mask = _sdpa_mask(attention_mask, query.shape[2], key.shape[2])
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    q, k, v = (t[0].transpose(0, 1) for t in (query, key, value))  # [T, heads, D]
    cu = cu.to(q.device, dtype=torch.int32)
    fast = _torch_varlen() if q.is_cuda and q.dtype != torch.float32 else None
    if fast is None:
        out = _segments_sdpa(q, k, v, cu, scaling)
    else:
        groups = q.shape[1] // k.shape[1]
        extra = dict(fast.causal)
        if groups > 1:
            if fast.gqa:
                extra["enable_gqa"] = True
            else:  # older PyTorch: repeat the key/value heads (small next to the rest of the step)
                k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
        if fast.scale and scaling is not None:
            extra["scale"] = scaling
        m = kwargs.get("max_length_q") or int((cu[1:] - cu[:-1]).max())
        out = fast.attn(q, k, v, cu, cu, m, m, **extra)
    return out.unsqueeze(0), None


def _sdpa_mask(padding, q_len: int, kv_len: int):
    """The flash-style padding mask ``[batch, kv_len]`` (what the mask function registered below
    hands over for padded batches) as the 4-D boolean causal mask SDPA takes. Every query also sees
    itself, so a padding position never gets an all-masked row (NaN)."""
    import torch

    q_pos = torch.arange(kv_len - q_len, kv_len, device=padding.device)[:, None]
    k_pos = torch.arange(kv_len, device=padding.device)[None, :]
    mask = (k_pos <= q_pos)[None, None] & padding.bool()[:, None, None, :]
    return mask | (k_pos == q_pos)[None, None]


def register_varlen_attention() -> str:
    """Make ``attn_implementation="sql2nl_varlen"`` known to transformers; returns the name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, flash_attention_mask

    _torch_varlen()  # look the kernel up now, outside any compiled region
    AttentionInterface.register(ATTENTION, varlen_attention_forward)
    # like flash attention: no 4-D mask is built for packed rows (the kernel takes cu_seq_lens)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, flash_attention_mask)
    return ATTENTION


def packed_trainer_class(base):
    """``base`` (TRL's SFT trainer) with packed batches and :func:`completion_loss`.

    TRL's own loss would build logits for every token to report entropy and accuracy as well; this
    one reports the loss only, and is the same on CPU and GPU, with Unsloth or plain PEFT.
    """

    class PackedSFTTrainer(base):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            import contextlib

            import torch

            # half-precision weights on CUDA: autocast runs the fp32 adapters in bf16/fp16 too (the
            # finetune module turns off PEFT's fp32 copies of the activations, which need it)
            w = self.accelerator.unwrap_model(model).get_input_embeddings().weight
            half = w.is_cuda and w.dtype in (torch.bfloat16, torch.float16)
            with torch.autocast("cuda", dtype=w.dtype) if half else contextlib.nullcontext():
                # evaluation counts per batch; in training the Trainer's count spans accumulation steps
                loss, _ = completion_loss(model, inputs, num_items_in_batch if model.training else None)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None and model.training:
                loss = loss * self.accelerator.num_processes  # DDP averages; the divisor counted every rank
            return (loss, {"loss": loss}) if return_outputs else loss

    return PackedSFTTrainer


def compile_layers(model) -> int:
    """``torch.compile`` each decoder layer (regional compilation; shapes dynamic, since every packed
    batch has another length). Fuses the norms, rotary embedding, activation and the adapters'
    scale-and-add around the matmuls. Returns how many layers were compiled.

    Under DDP, dynamo would split each compiled graph at gradient-bucket boundaries (its DDP
    optimizer) when the graph is traced inside DDP's forward; a layer is already a small graph
    whose adapter gradients (a few MB) fit in one bucket, so that is turned off: every process
    compiles exactly what one GPU compiles, and the compiled-graph cache serves both."""
    import torch._dynamo

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    layers = getattr(getattr(base, "model", None), "layers", None)
    if layers is None:
        return 0
    torch._dynamo.config.optimize_ddp = False
    for layer in layers:
        layer.compile(dynamic=True)
    return len(layers)
