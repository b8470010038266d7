"""Packed (padding-free) batches and the description-only loss (sql2nl_training.packing).

The claims: a packed row trains exactly like the examples one by one (attention never crosses from
one example into the next, positions restart), the LM head runs on description positions only,
and the PEFT path keeps activations in half precision on CUDA. CPU, tiny random Llama, seconds.
"""

from __future__ import annotations

import pytest
from skips import require

torch = require("torch")
require("transformers")
require("sql2nl_training")

import torch.nn.functional as F  # noqa: E402

from sql2nl_training.packing import (  # noqa: E402
    IGNORE,
    PackedCollator,
    compile_layers,
    completion_loss,
    register_varlen_attention,
)

SHAPES = [(10, 4), (7, 3), (15, 6), (4, 9)]  # (prompt, description) token counts


def _rows(seed: int = 0, shapes=SHAPES):
    g = torch.Generator().manual_seed(seed)
    rows = []
    for p, d in shapes:
        ids = torch.randint(5, 300, (p + d,), generator=g).tolist()
        rows.append({"input_ids": ids, "completion_mask": [0] * p + [1] * d})
    return rows


def _model(attn: str | None = None, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=300,
    )
    m = LlamaForCausalLM(cfg).eval()
    m.set_attn_implementation(attn or register_varlen_attention())
    return m


def _one_by_one(model, rows) -> float:
    """Mean cross-entropy over description tokens, each example in its own forward pass."""
    total, n = 0.0, 0
    for r in rows:
        ids = torch.tensor([r["input_ids"]])
        labels = torch.tensor([[t if m else IGNORE for t, m in zip(r["input_ids"], r["completion_mask"])]])
        with torch.no_grad():
            logits = model(ids).logits[0, :-1].float()
        y = labels[0, 1:]
        total += F.cross_entropy(logits, y, ignore_index=IGNORE, reduction="sum").item()
        n += int((y != IGNORE).sum())
    return total / n


def test_collator_packs_without_padding():
    rows = _rows()
    b = PackedCollator()(rows)
    lens = [p + d for p, d in SHAPES]
    assert b["input_ids"].shape == (1, sum(lens))  # one row, not one token of padding
    assert b["cu_seq_lens_q"].tolist() == [0, 14, 24, 45, 58]
    assert b["max_length_q"] == max(lens)
    starts = b["cu_seq_lens_q"][:-1].tolist()
    assert all(b["position_ids"][0, s] == 0 for s in starts)  # positions restart per example
    assert b["position_ids"][0].tolist()[:14] == list(range(14))
    assert int((b["labels"] != IGNORE).sum()) == sum(d for _, d in SHAPES)
    assert all(b["labels"][0, s] == IGNORE for s in starts)  # an example's first token is never a target


def test_collator_takes_trl_labels_as_they_are():
    """TRL's dataset preparation turns completion_mask into labels; those win over any mask."""
    rows = [
        {"input_ids": [5, 6, 7, 8], "labels": [IGNORE, IGNORE, 7, 8]},
        {"input_ids": [9, 10], "labels": [IGNORE, 10]},
    ]
    b = PackedCollator()(rows)
    assert b["labels"].tolist() == [[IGNORE, IGNORE, 7, 8, IGNORE, 10]]


def test_packed_loss_equals_examples_one_by_one():
    model = _model()
    rows = _rows()
    loss, n = completion_loss(model, PackedCollator()(rows))
    assert n == sum(d for _, d in SHAPES)  # every description token is a target (its first one too)
    assert loss.item() == pytest.approx(_one_by_one(model, rows), rel=1e-5)


def test_without_boundaries_the_examples_would_leak_into_each_other():
    """The control for the test above: the same row as one long sequence gives another loss."""
    model = _model()
    rows = _rows()
    b = PackedCollator()(rows)
    leaky = {
        k: v
        for k, v in b.items()
        if k not in ("cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k", "position_ids")
    }
    loss, _ = completion_loss(model, leaky)
    assert abs(loss.item() - _one_by_one(model, rows)) > 1e-3


def test_lm_head_runs_on_description_positions_only():
    model = _model()
    rows = _rows()
    seen = []
    model.lm_head.register_forward_hook(lambda mod, args, out: seen.append(args[0].shape))
    completion_loss(model, PackedCollator()(rows))
    assert seen == [torch.Size([1, sum(d for _, d in SHAPES), 64])]


def test_loss_divisor_follows_the_trainers_token_count():
    model = _model()
    b = PackedCollator()(_rows())
    mean, n = completion_loss(model, b)
    total, _ = completion_loss(model, b, num_items=torch.tensor(2 * n))  # e.g. two accumulation steps
    assert total.item() == pytest.approx(mean.item() / 2, rel=1e-6)


def test_gradients_match_examples_one_by_one():
    model = _model()
    model.train()
    rows = _rows(seed=3)
    loss, _ = completion_loss(model, PackedCollator()(rows))
    loss.backward()
    packed = model.model.layers[0].self_attn.q_proj.weight.grad.clone()
    model.zero_grad()
    n = sum(d for _, d in SHAPES)
    for r in rows:
        part, k = completion_loss(model, PackedCollator()([r]))
        (part * k / n).backward()
    assert torch.allclose(packed, model.model.layers[0].self_attn.q_proj.weight.grad, atol=1e-6)


def test_unpacked_calls_fall_back_to_sdpa():
    """Generation and padded batches go through the same attention function as plain SDPA."""
    varlen = _model()
    sdpa = _model("sdpa")
    ids = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    with torch.no_grad():
        a = varlen(ids, attention_mask=mask).logits
        b = sdpa(ids, attention_mask=mask).logits
    real = mask.bool()  # what padding positions hold is nobody's business
    assert torch.allclose(a[real], b[real], atol=1e-5) and not a.isnan().any()


def test_compiled_layers_give_the_same_loss():
    model = _model()
    rows = _rows(seed=5)
    eager, _ = completion_loss(model, PackedCollator()(rows))
    assert compile_layers(model) == 2
    try:
        with torch.no_grad():
            compiled, _ = completion_loss(model, PackedCollator()(rows))
        assert compiled.item() == pytest.approx(eager.item(), rel=1e-4)
    finally:
        torch._dynamo.reset()  # leave no compiled code behind for other tests


def test_trainer_packs_and_learns(tmp_path):
    """The pipeline's trainer with the packed collator: the loss on a few pairs goes down."""
    require("trl")
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from trl import SFTConfig, SFTTrainer

    from sql2nl_training.packing import packed_trainer_class

    model = get_peft_model(_model(), LoraConfig(r=16, target_modules=["q_proj", "v_proj", "up_proj", "down_proj"]))
    rows = _rows() * 4
    args = SFTConfig(
        output_dir=str(tmp_path),
        max_length=None,
        per_device_train_batch_size=4,
        max_steps=40,
        learning_rate=3e-2,
        logging_steps=5,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
        completion_only_loss=True,
    )
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({f"t{i}": i for i in range(300)}, unk_token="t0")),
        pad_token="t0",
        eos_token="t1",
    )
    trainer = packed_trainer_class(SFTTrainer)(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
        data_collator=PackedCollator(),
    )
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses[-1] < losses[0] - 0.5  # a random frozen LM head limits how far LoRA alone gets
