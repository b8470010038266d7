"""PEFT LoRA adapter -> GGUF LoRA (``sql2nl export --lora-gguf``), applied by llama.cpp on its base (``lora=``).

A tiny scratch Llama exported to f16 GGUF is the base; adapters with random non-zero weights change
its logits a lot, so "llama.cpp with the GGUF LoRA" agreeing with "transformers with the PEFT
adapter" (and disagreeing with the base alone) shows the conversion, the scale and the load are right.
"""

from __future__ import annotations

import json
import math
import shutil

import ggufmodels
import pytest
import tinymodels
from click.testing import CliRunner

from sql2nl.cli import cli
from sql2nl.errors import ModelError
from sql2nl.prompt import build_messages, encode_prompt, render_prompt
from sql2nl_gguf import ExportError
from sql2nl_gguf.lora import export_lora
from sql2nl_llamacpp.models import load

SQL = "SELECT name FROM singer WHERE age > 30"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ggufmodels.tiny_gguf(tmp_path_factory.mktemp("lora-base"))


def _adapter(tiny, out, **lora):
    """A PEFT adapter on every linear layer with random weights (``lora`` overrides LoraConfig fields)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(tiny.hf_dir, dtype=torch.float32)
    cfg = dict(
        r=4,
        lora_alpha=8,
        init_lora_weights=False,
        task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    get_peft_model(model, LoraConfig(**{**cfg, **lora})).save_pretrained(out)
    return out


def _hf_logits(tiny, adapter, ids):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny.hf_dir, dtype=torch.float32)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter))
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0, -1].numpy()


def _cpp_logits(gguf, lora, ids):
    import numpy as np

    llm = load(
        gguf, n_ctx=256, n_threads=1, n_gpu_layers=0, n_batch=256, **({"lora_path": str(lora)} if lora else {})
    ).llm
    llm.reset()
    llm.eval(ids)  # one batch: llama.cpp keeps the logits of its last token
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()


@pytest.mark.parametrize("rslora", [False, True], ids=["lora", "rslora"])
def test_llama_cpp_with_the_gguf_lora_matches_transformers_with_the_peft_adapter(tiny, tmp_path, rslora):
    import numpy as np
    from transformers import AutoTokenizer

    adapter = _adapter(tiny, tmp_path / "adapter", use_rslora=rslora)
    info = export_lora(adapter, tiny.hf_dir, tmp_path / "lora.gguf")
    assert (tmp_path / "lora.gguf").stat().st_size == info["bytes"] and info["rank"] == 4
    # llama.cpp scales by alpha / r; rsLoRA's alpha / sqrt(r) is kept by writing alpha * sqrt(r)
    assert info["alpha"] == (8 * math.sqrt(4) if rslora else 8)
    tok = AutoTokenizer.from_pretrained(tiny.hf_dir)
    ids = encode_prompt(tok, render_prompt(build_messages(SQL), tok))
    hf_base, hf_lora = _hf_logits(tiny, None, ids), _hf_logits(tiny, adapter, ids)
    cpp_lora = _cpp_logits(tiny.file("f16"), tmp_path / "lora.gguf", ids)
    effect = np.abs(hf_lora - hf_base).max()
    assert effect > 0.5  # the adapter changes the model a lot...
    assert np.abs(cpp_lora - hf_lora).max() < 0.05 * effect  # ...and llama.cpp applies exactly that change


def test_a_gguf_base_gives_the_same_adapter_as_its_hf_directory(tiny, tmp_path):
    from gguf import GGUFReader

    adapter = _adapter(tiny, tmp_path / "adapter")
    from_dir = export_lora(adapter, tiny.hf_dir, tmp_path / "a.gguf")
    from_gguf = export_lora(adapter, tiny.file("f16"), tmp_path / "b.gguf")
    assert from_dir["rank"] == from_gguf["rank"] and from_dir["bytes"] == from_gguf["bytes"]
    a, b = GGUFReader(tmp_path / "a.gguf"), GGUFReader(tmp_path / "b.gguf")
    assert [(t.name, t.data.tobytes()) for t in a.tensors] == [(t.name, t.data.tobytes()) for t in b.tensors]


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"modules_to_save": ["embed_tokens", "lm_head"]}, "modules_to_save"),
        ({"use_dora": True}, "DoRA"),
        ({"rank_pattern": {"q_proj": 8}}, "per-module ranks"),
        ({"peft_type": "IA3"}, "only LoRA adapters"),
    ],
)
def test_what_a_gguf_lora_cannot_hold_is_refused_with_the_reason(tiny, tmp_path, change, needle):
    adapter = _adapter(tiny, tmp_path / "adapter")
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**cfg, **change}))
    with pytest.raises(ExportError, match=needle):
        export_lora(adapter, tiny.hf_dir, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()


def test_export_lora_command_and_the_backend_option(tiny, tmp_path):
    from sql2nl import describe

    run = tinymodels.write_run_dir(tmp_path / "run", base_model=str(tiny.hf_dir))
    _adapter(tiny, run / "adapter")
    out = tmp_path / "lora.gguf"
    r = CliRunner().invoke(cli, ["export", "--lora-gguf", str(out), "--run", str(run), "--base", str(tiny.file("f16"))])
    assert r.exit_code == 0, r.output
    assert out.is_file() and "LoRA r=4" in r.output
    r = CliRunner().invoke(cli, ["export", "--lora-gguf", str(out), "--run", str(run)])
    assert r.exit_code == 2 and "needs --base" in r.output
    opts = dict(backend="llamacpp", model=str(tiny.file("f16")), max_new_tokens=12, cache=False)
    assert describe(SQL, lora=str(out), **opts).text != describe(SQL, **opts).text
    with pytest.raises(ModelError, match="not a GGUF LoRA adapter"):
        describe(SQL, lora=str(tiny.file("q8_0")), **opts)
    with pytest.raises(ModelError, match="No such GGUF file"):
        describe(SQL, lora=str(tmp_path / "missing.gguf"), **opts)


def test_identity_names_the_adapter(tiny, tmp_path):
    from sql2nl.backends import get_backend

    adapter = _adapter(tiny, tmp_path / "adapter")
    export_lora(adapter, tiny.hf_dir, tmp_path / "lora.gguf")
    shutil.copyfile(tmp_path / "lora.gguf", tmp_path / "other.gguf")
    base = str(tiny.file("f16"))
    ids = {
        get_backend("llamacpp", model=base, lora=str(tmp_path / n), max_new_tokens=8).identity
        for n in ("lora.gguf", "other.gguf")
    }
    assert len(ids | {get_backend("llamacpp", model=base, max_new_tokens=8).identity}) == 3
