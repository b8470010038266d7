"""GGUF export (gguf/, sql2nl_gguf): tiny scratch model -> GGUF by Unsloth's exporter and directly -> verified.

Offline except for one thing: the llama.cpp tool folder is prepared from the llama-cpp-python sdist
(``pip download``, PyPI) once and cached under ``$SQL2NL_LLAMA_CPP_CACHE`` (default
``~/.cache/sql2nl/llama.cpp``); CI can keep that directory between runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from skips import require

require("llama_cpp")
require("sql2nl_gguf")
require("sql2nl_training")

import tinymodels  # noqa: E402

from sql2nl.errors import Sql2NLError  # noqa: E402
from sql2nl.prompt import PROMPT_VERSION, SYSTEM, build_messages, render_prompt  # noqa: E402
from sql2nl_gguf import (  # noqa: E402  # noqa: E402
    ExportError,
    TokenizerError,
    VerificationError,
    convert,
    export,
    export_run,
    modelfile,
    pretokenizer,
)
from sql2nl_gguf.tools import prepare_llama_cpp_tools, tools_info  # noqa: E402

QUANTS = ("f16", "q8_0")
# Numbers and mixed scripts in the tokenizer's training text, so that a wrong pre-tokenizer shows.
EXTRA = [
    "Concerts in 2014 and 2015: 1,000,000 fans, 333 songs.",
    "统计每个体育场的音乐会数量。",
    "  two  spaces\n\nnewlines",
]


@pytest.fixture(scope="module")
def tools() -> Path:
    """The prepared llama.cpp tool folder (sdist fetched once per cache, then reused)."""
    return prepare_llama_cpp_tools()


@pytest.fixture(scope="module")
def hf_model(tmp_path_factory) -> Path:
    """A random-weight scratch Llama whose byte-level BPE tokenizer llama.cpp's converter has never seen."""
    from sql2nl_training.scratch import build

    return build("tiny", tinymodels.corpus(extra=EXTRA), tmp_path_factory.mktemp("gguf-hf") / "tiny")


@pytest.fixture(scope="module")
def run_export(tools, hf_model, tmp_path_factory):
    """The direct path, driven the way users do: ``sql2nl export --run RUN --method direct`` on a run that has
    only a LoRA adapter, so the training package's ``merge_run`` makes ``RUN/merged`` first."""
    from click.testing import CliRunner
    from transformers import AutoTokenizer

    from sql2nl.cli import cli

    run = tinymodels.write_run_dir(
        tmp_path_factory.mktemp("gguf-run") / "run", base_model=str(hf_model), adapter="adapter", languages=("en", "zh")
    )
    tinymodels.make_lora_adapter(hf_model, run / "adapter")
    AutoTokenizer.from_pretrained(hf_model).save_pretrained(run / "adapter")
    before = json.loads((run / "manifest.json").read_text())
    res = CliRunner().invoke(
        cli, ["export", "--run", str(run), "--gguf", ",".join(QUANTS), "--method", "direct", "--tools", str(tools)]
    )
    assert res.exit_code == 0, res.output
    return run, before, res.output


@pytest.fixture(scope="module")
def unsloth_export(tools, run_export, tmp_path_factory):
    """Unsloth's exporter on the same merged model (so both paths can be compared weight for weight)."""
    require("unsloth")
    out = tmp_path_factory.mktemp("gguf-unsloth")
    return out, export(run_export[0] / "merged", out, QUANTS, method="unsloth", tools=tools)


def check_export(out: Path, manifest: dict, hf_model: Path) -> None:
    """What every export must satisfy: files under final names, honest manifest, verified, loadable."""
    import hashlib

    from transformers import AutoTokenizer

    from sql2nl_llamacpp.cpu import open_llama

    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["format"] == "sql2nl-gguf/1" and manifest["prompt_version"] == PROMPT_VERSION
    assert list(manifest["quantizations"]) == list(QUANTS)
    ver = manifest["verification"]
    assert ver["tokenizer_parity"]["ok"] and ver["tokenizer_parity"]["mismatches"] == 0
    assert ver["greedy"]["f16"]["teacher_forced"] >= 0.9
    for entry in manifest["quantizations"].values():
        path = out / entry["file"]
        assert path.stat().st_size == entry["bytes"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert 0.0 <= entry["greedy_agreement"]["token_agreement"] <= 1.0
        llm = open_llama(str(path), n_ctx=256, verbose=False)
        try:
            assert llm.metadata["tokenizer.ggml.pre"] == manifest["pre_tokenizer"]["mapped_to"] == "gpt-2"
            tok = AutoTokenizer.from_pretrained(hf_model)
            prompt = render_prompt(build_messages("SELECT 1"), tok)
            assert llm.tokenize(prompt.encode(), add_bos=False, special=True) == tok.encode(
                prompt, add_special_tokens=False
            )
            assert len(list(zip(range(4), llm.generate(tok.encode(prompt), top_k=1, temp=0.0)))) == 4
        finally:
            llm.close()
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp")], "staging left behind"
    assert (out / "Modelfile").read_text().startswith("# sql2nl export")


def test_tool_folder_is_unsloth_compatible(tools):
    info = tools_info(tools)
    assert info["pre_tokenizer_patch"] and info["chktxt"]
    for rel in ("convert_hf_to_gguf.py", "gguf-py/gguf/__init__.py", "src", "ggml", "common"):
        assert (tools / rel).exists(), rel
    # What unsloth_zoo.llama_cpp.check_llama_cpp runs to accept a quantizer.
    proc = subprocess.run([str(tools / "llama-quantize"), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "usage" in proc.stdout.lower()
    assert prepare_llama_cpp_tools() == tools  # cached: the second call reuses the folder


@pytest.mark.slow
def test_direct_export_of_a_run(run_export, hf_model):
    run, before, output = run_export
    out = run / "gguf"
    manifest = json.loads((out / "manifest.json").read_text())
    check_export(out, manifest, hf_model)
    assert manifest["method"] == "direct" and manifest["model_dir"] == str(run / "merged")
    assert manifest["base_model"] == str(hf_model) and manifest["languages"] == ["en", "zh"]
    after = json.loads((run / "manifest.json").read_text())
    assert after["artifacts"]["merged"] == "merged" and after["artifacts"]["adapter"] == "adapter"
    assert after["artifacts"]["gguf"] == {q: f"gguf/model.{q}.gguf" for q in QUANTS}
    assert after["artifacts"]["gguf_manifest"] == "gguf/manifest.json"
    for key in ("format", "base_model", "prompt_version", "languages", "config", "metrics"):
        assert after[key] == before[key]
    assert "greedy agreement" in output


@pytest.mark.slow
def test_unsloth_export(unsloth_export, hf_model):
    out, manifest = unsloth_export
    check_export(out, manifest, hf_model)
    assert manifest["method"] == "unsloth"


@pytest.mark.slow
def test_both_paths_write_the_same_f16_weights(unsloth_export, run_export):
    import sys

    import numpy as np

    sys.path.insert(0, str(prepare_llama_cpp_tools() / "gguf-py"))
    import gguf

    a = gguf.GGUFReader(str(unsloth_export[0] / "model.f16.gguf"))
    b = gguf.GGUFReader(str(run_export[0] / "gguf" / "model.f16.gguf"))
    ta, tb = {t.name: t for t in a.tensors}, {t.name: t for t in b.tensors}
    assert ta.keys() == tb.keys()
    for name in ta:
        assert np.array_equal(np.asarray(ta[name].data), np.asarray(tb[name].data)), name


LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
DEEPSEEK_R1_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(system='') %}{% for m in messages %}{% if m['role'] == 'system' %}"
    "{% set ns.system = m['content'] %}{% endif %}{% endfor %}{{ ns.system }}"
    "{% for m in messages %}{% if m['role'] == 'user' %}<｜User｜>{{ m['content'] }}"
    "{% elif m['role'] == 'assistant' %}<｜Assistant｜>{{ m['content'] }}<｜end▁of▁sentence｜>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<｜Assistant｜><think>\n{% endif %}"
)


@pytest.mark.parametrize(
    "kind,template,specials,stops",
    [
        ("plain", None, [], ["<|end_of_text|>", "### User"]),
        ("llama3", LLAMA3_TEMPLATE, ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"], ["<|eot_id|>"]),
        (
            "deepseek-r1",
            DEEPSEEK_R1_TEMPLATE,
            ["<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>"],
            ["<｜User｜>"],
        ),
    ],
)
def test_modelfile_renders_the_sql2nl_prompt(hf_model, kind, template, specials, stops):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(hf_model)
    if template:
        tok.add_special_tokens({"additional_special_tokens": specials})
        tok.chat_template = template
    text = modelfile.modelfile(tok, "./model.q8_0.gguf")
    assert f"# sql2nl export ({PROMPT_VERSION}, chat format: {kind})" in text
    tmpl = text.split('TEMPLATE """', 1)[1].split('"""', 1)[0]
    assert text.split('SYSTEM """', 1)[1].split('"""', 1)[0] == SYSTEM["en"]
    for lang, sql in [("en", "SELECT name FROM singer WHERE age > 30"), ("zh", "SELECT count(*) FROM concert")]:
        msgs = build_messages(sql, language=lang)
        expected = render_prompt(msgs, tok)
        if tok.bos_token and expected.startswith(tok.bos_token):
            expected = expected[len(tok.bos_token) :]  # llama.cpp/Ollama add BOS from the GGUF's metadata
        got = modelfile.render_modelfile_template(tmpl, msgs[0]["content"], msgs[1]["content"])
        assert got == expected
    if kind == "deepseek-r1":
        assert tmpl.endswith("<think>\n\n</think>\n\n{{ .Response }}")  # the reasoning block is closed, as in training
    for s in stops:
        assert f'PARAMETER stop "{s}"' in text


def test_unknown_tokenizer_that_is_not_byte_level_fails_clearly(tools, hf_model, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(hf_model, bad)
    spec = json.loads((bad / "tokenizer.json").read_text())
    spec["normalizer"] = {"type": "Lowercase"}
    (bad / "tokenizer.json").write_text(json.dumps(spec))
    with pytest.raises(TokenizerError, match="not plain byte-level BPE.*Lowercase normalizer") as err:
        pretokenizer.plan(bad, tools)
    assert isinstance(err.value, Sql2NLError)
    with pytest.raises(TokenizerError):
        export(bad, tmp_path / "out", QUANTS, method="direct", tools=tools)
    assert not (tmp_path / "out" / "model.f16.gguf").exists()


def test_byte_level_pre_tokenizer_types():
    bl = {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}
    base = {"normalizer": None, "decoder": {"type": "ByteLevel"}}
    assert pretokenizer.byte_level_type({**base, "pre_tokenizer": bl})[0] == "gpt-2"
    split = {"type": "Split", "pattern": {"Regex": pretokenizer.LLAMA3_REGEX}, "behavior": "Isolated", "invert": False}
    seq = {"type": "Sequence", "pretokenizers": [split, {**bl, "use_regex": False}]}
    assert pretokenizer.byte_level_type({**base, "pre_tokenizer": seq})[0] == "llama-bpe"
    assert pretokenizer.byte_level_type({**base, "pre_tokenizer": {**bl, "add_prefix_space": True}})[0] is None
    assert pretokenizer.byte_level_type({**base, "pre_tokenizer": {"type": "Whitespace"}})[0] is None
    assert pretokenizer.byte_level_type({**base, "decoder": {"type": "Metaspace"}, "pre_tokenizer": bl})[0] is None


def test_parity_check_catches_a_wrong_pre_tokenizer(tools, hf_model, tmp_path, monkeypatch):
    """The mapping is only trusted because parity proves it: map to Qwen2's digit-by-digit split and the export
    must fail, publishing nothing."""
    monkeypatch.setattr(pretokenizer, "byte_level_type", lambda spec: ("qwen2", "forced wrong for the test"))
    with pytest.raises(VerificationError, match="tokenizer parity failed") as err:
        export(hf_model, tmp_path, ("f16",), method="direct", tools=tools)
    assert isinstance(err.value, Sql2NLError)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_export_leaves_no_file_under_a_final_name(tools, hf_model, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.q8_0.gguf").write_bytes(b"an earlier, complete export")

    def dies_halfway(src, dst, quant, tools_dir, **kw):
        Path(dst).write_bytes(b"GGUF" + b"\0" * 100)  # a partial file...
        raise KeyboardInterrupt  # ...then the user presses Ctrl-C

    monkeypatch.setattr(convert, "run_quantizer", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        export(hf_model, out, QUANTS, method="direct", tools=tools)
    assert sorted(p.name for p in out.iterdir()) == ["model.q8_0.gguf"]
    assert (out / "model.q8_0.gguf").read_bytes() == b"an earlier, complete export"


@pytest.mark.slow
def test_killed_export_leaves_no_file_under_a_final_name(tools, hf_model, tmp_path):
    """SIGKILL (no cleanup code runs) in the middle of an export: only a hidden staging folder may remain."""
    import os
    import signal
    import sys
    import time

    out = tmp_path / "out"
    code = (
        "import sys; from sql2nl_gguf import export; "
        "export(sys.argv[1], sys.argv[2], ('f16', 'q8_0', 'q4_k_m'), method='direct', tools=sys.argv[3])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(hf_model), str(out), str(tools)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if out.is_dir() and any(out.glob(".tmp-sql2nl-export-*/*.gguf")):  # the converter is writing
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the export finished before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert [p.name for p in out.iterdir() if not p.name.startswith(".tmp-")] == []


def test_bad_inputs_are_clear_errors(tmp_path, hf_model):
    with pytest.raises(ExportError, match="does not exist"):
        export(tmp_path / "nope", tmp_path / "out")
    with pytest.raises(ExportError, match="no config.json"):
        export(tmp_path, tmp_path / "out")
    with pytest.raises(ExportError, match="Unknown quantization type 'q9_9'"):
        export(hf_model, tmp_path / "out", ("f16", "q9_9"))
    with pytest.raises(ExportError, match="Unknown export method"):
        export(hf_model, tmp_path / "out", method="magic")
    with pytest.raises(ExportError, match="not a sql2nl run directory"):
        export_run(tmp_path)


def test_run_without_merged_model_needs_training(tmp_path, monkeypatch):
    import sys

    run = tinymodels.write_run_dir(tmp_path / "run", base_model="scratch:tiny")
    monkeypatch.setitem(sys.modules, "sql2nl_training.export", None)  # training package without merge_run
    with pytest.raises(ExportError, match="no merged model.*pip install"):
        export_run(run)


def test_export_command_is_registered_through_the_hook():
    from click.testing import CliRunner

    from sql2nl.cli import cli

    res = CliRunner().invoke(cli, ["export", "--help"])
    assert res.exit_code == 0 and "--prepare-tools" in res.output and "--method" in res.output
    res = CliRunner().invoke(cli, ["export", "--gguf", "f16"])
    assert res.exit_code != 0 and "exactly one of --model" in res.output
