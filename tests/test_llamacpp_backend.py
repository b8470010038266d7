"""The llamacpp backend on a real tiny GGUF (scratch Llama exported by sql2nl_gguf), on the CPU."""

from __future__ import annotations

import json
import shutil
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from skips import require

require("llama_cpp")

import ggufmodels  # noqa: E402
import tinymodels  # noqa: E402

from sql2nl import describe, describe_many  # noqa: E402
from sql2nl.api import describe_stream  # noqa: E402
from sql2nl.backends import Request, available_backends, get_backend  # noqa: E402
from sql2nl.errors import InvalidInputError, ModelError, Sql2NLError  # noqa: E402
from sql2nl.facts import statement_facts  # noqa: E402
from sql2nl.parsing import parse  # noqa: E402
from sql2nl.prompt import build_messages, render_prompt, strip_thinking  # noqa: E402

SQL = "SELECT name FROM singer WHERE age > 30"
FAST = dict(max_new_tokens=12)  # random weights: short generations keep the tests quick


@pytest.fixture(scope="session")
def gguf(tmp_path_factory):
    return ggufmodels.tiny_gguf(tmp_path_factory.mktemp("tiny-gguf"))


@pytest.fixture(scope="session")
def q8(gguf):
    return str(gguf.file("q8_0"))


def request_for(sql: str) -> Request:
    return Request(sql, tuple(statement_facts(t) for t in parse(sql)))


# -- registration and model resolution ---------------------------------------------------------------


def test_registered_through_the_entry_point_hook():
    info = available_backends()["llamacpp"]
    assert info.plugin == "llamacpp"
    with pytest.raises(InvalidInputError, match="needs a model"):
        get_backend("llamacpp")


def test_describes_with_a_gguf_file(q8):
    d = describe(SQL, backend="llamacpp", model=q8, **FAST)
    assert d.backend == "llamacpp"
    assert d.text  # random weights: some text, whatever it says
    assert 0.0 <= d.faithfulness <= 1.0
    # The guard (mode "warn") lists what a random model's text leaves out.
    assert d.faithfulness < 1.0 and any("singer" in w for w in d.warnings)


def test_export_directory_picks_q8_0_and_quant_selects(gguf):
    be = get_backend("llamacpp", model=str(gguf.export_dir), **FAST)
    assert be.path.name == "model.q8_0.gguf"
    be16 = get_backend("llamacpp", model=str(gguf.export_dir), quant="f16", **FAST)
    assert be16.path.name == "model.f16.gguf"
    with pytest.raises(ModelError, match="no 'q4_k_m' GGUF; it has: f16, q8_0"):
        get_backend("llamacpp", model=str(gguf.export_dir), quant="q4_k_m")


@pytest.mark.parametrize("layout", ["flat", "files"])
def test_training_run_directory(gguf, tmp_path, layout):
    run = tmp_path / "run"
    (run / "gguf").mkdir(parents=True)
    for q in ("f16", "q8_0"):
        shutil.copy(gguf.file(q), run / "gguf" / f"model-{q}.gguf")
    table = {q: f"gguf/model-{q}.gguf" for q in ("f16", "q8_0")}
    tinymodels.write_run_dir(run, base_model="scratch:tiny", adapter=None)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["artifacts"]["gguf"] = table if layout == "flat" else {"dir": "gguf", "files": table}
    (run / "manifest.json").write_text(json.dumps(manifest))
    d = describe(SQL, backend="llamacpp", model=str(run), **FAST)
    assert d.backend == "llamacpp"
    assert get_backend("llamacpp", model=str(run), **FAST).path.name == "model-q8_0.gguf"


def test_hf_directory_points_to_export(gguf):
    with pytest.raises(ModelError, match="sql2nl export"):
        describe(SQL, backend="llamacpp", model=str(gguf.hf_dir))


# -- prompt, output and guard ---------------------------------------------------------------------------


def test_prompt_is_rendered_by_the_gguf_template_exactly_as_training_renders_it(gguf, q8):
    from transformers import AutoTokenizer

    be = get_backend("llamacpp", model=q8, **FAST)
    assert be.chat_template  # the exporter stored the tokenizer's template in the GGUF
    tok = AutoTokenizer.from_pretrained(gguf.hf_dir)
    for lang in ("en", "zh"):
        req = Request(SQL, request_for(SQL).facts, language=lang)
        assert be.prompt_for(req) == render_prompt(build_messages(SQL, language=lang), tok)


def test_same_text_as_raw_llama_cpp(q8):
    from sql2nl_llamacpp.cpu import open_llama

    be = get_backend("llamacpp", model=q8, max_new_tokens=24)
    prompt = render_prompt(build_messages(SQL), chat_template=be.chat_template)
    raw = open_llama(str(q8), n_ctx=512, verbose=False, n_threads=1)
    out = raw.create_completion(prompt, max_tokens=24, temperature=0.0, stop=["\n### "])["choices"][0]["text"]
    assert describe(SQL, backend="llamacpp", model=q8, max_new_tokens=24).text == strip_thinking(out, prompt)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_stream_yields_the_described_text(q8, language):
    # Byte-level BPE splits Chinese characters over tokens: the stream must not lose them.
    opts = dict(model=q8, max_new_tokens=32, language=language)
    pieces = list(describe_stream(SQL, backend="llamacpp", **opts))
    assert len(pieces) > 1  # really streamed, token by token
    assert "".join(pieces) == describe(SQL, backend="llamacpp", cache=False, **opts).text


def test_describe_many_matches_describe_and_keeps_order(q8):
    sqls = [SQL, "SELECT count(*) FROM concert WHERE year = 2014", "SELECT title FROM song LIMIT 3"]
    many = describe_many(sqls, backend="llamacpp", model=q8, batch_size=2, cache=False, **FAST)
    assert [d.sql for d in many] == sqls
    assert [d.text for d in many] == [describe(s, backend="llamacpp", model=q8, cache=False, **FAST).text for s in sqls]


def test_describe_many_in_worker_processes_matches_describe(q8):
    # A model backend gets workers from a few statements on (pool_min), started without forking this
    # process (whose llama.cpp threads have run), each with its share of the cores (1 of 2 here).
    sqls = [f"SELECT name FROM singer WHERE age > {n}" for n in range(10)]
    many = describe_many(sqls, backend="llamacpp", model=q8, cache=False, workers=2, **FAST)
    assert [d.text for d in many] == [describe(s, backend="llamacpp", model=q8, cache=False, **FAST).text for s in sqls]


def test_in_a_pool_worker_llama_cpp_gets_its_share_of_the_cores(q8, monkeypatch):
    from sql2nl import pool
    from sql2nl.backends import clear_backend_instances

    clear_backend_instances()
    monkeypatch.setattr(pool, "_share", 3)  # what _init_worker sets in each of 2 workers on 6 cores
    assert get_backend("llamacpp", model=q8, **FAST).model.llm.n_threads == 3
    assert get_backend("llamacpp", model=q8, n_threads=2, **FAST).model.llm.n_threads == 2  # asked for: kept
    clear_backend_instances()


def test_guard_fallback_answers_with_the_rules_describer(q8):
    d = describe(SQL, backend="llamacpp", model=q8, on_unfaithful="fallback", **FAST)
    assert d.backend == "rules"
    assert d.text == describe(SQL).text
    assert any("llamacpp" in w for w in d.warnings)


def test_template_that_opens_a_think_block_is_closed_before_generation(q8):
    from sql2nl.prompt import PLAIN_CHAT_TEMPLATE

    be = get_backend(
        "llamacpp",
        model=q8,
        chat_template=PLAIN_CHAT_TEMPLATE.replace("### Assistant\n{% endif %}", "### Assistant\n<think>{% endif %}"),
        **FAST,
    )
    prompt = be.prompt_for(request_for(SQL))
    assert prompt.endswith("<think>\n\n</think>\n\n")
    assert "<think>" not in describe(SQL, backend=be).text


@pytest.mark.slow
def test_overfitted_model_recites_its_descriptions_with_thinking_stripped(tmp_path_factory):
    # The model learnt these answers from prompts rendered with its HF tokenizer; the GGUF path must
    # give it the very same prompt text to get them back, and hide the <think> blocks it was taught.
    fit = ggufmodels.overfit_gguf(tmp_path_factory.mktemp("overfit-gguf"))
    model = str(fit.file("f16"))
    for sql, taught in tinymodels.PAIRS + tinymodels.THINK_PAIRS:
        want = strip_thinking(taught)
        d = describe(sql, backend="llamacpp", model=model)
        assert d.text == want
        assert "".join(describe_stream(sql, backend="llamacpp", model=model)) == want
    assert any("<think>" in t for _, t in tinymodels.THINK_PAIRS)


# -- one model per process, shared safely ---------------------------------------------------------------


def test_model_loaded_once_and_shared(q8):
    a = get_backend("llamacpp", model=q8, max_new_tokens=5)
    b = get_backend("llamacpp", model=q8, max_new_tokens=6, seed=7, on_unfaithful="fallback")
    assert a is not b and a.model.llm is b.model.llm
    assert get_backend("llamacpp", model=q8, max_new_tokens=5) is a


def test_concurrent_describes_match_sequential(q8):
    sqls = [f"SELECT name FROM singer WHERE age > {n}" for n in range(6)]
    opts = dict(backend="llamacpp", model=q8, cache=False, **FAST)
    expected = [describe(s, **opts).text for s in sqls]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda s: describe(s, **opts).text, sqls))
    assert got == expected


def test_abandoned_stream_releases_the_model(q8):
    stream = describe_stream(SQL, backend="llamacpp", model=q8, max_new_tokens=30)
    next(stream)
    stream.close()
    done = threading.Event()
    threading.Thread(
        target=lambda: (describe(SQL, backend="llamacpp", model=q8, cache=False, **FAST), done.set()), daemon=True
    ).start()
    assert done.wait(60), "a closed stream kept the model locked"


# -- bad files and settings: clear errors, never a crash -------------------------------------------------


def _arch_renamed(data: bytes) -> bytes:
    key = b"general.architecture"
    i = data.index(key) + len(key)
    vtype, n = struct.unpack_from("<IQ", data, i)
    assert vtype == 8 and data[i + 12 : i + 12 + n] == b"llama"
    return data[: i + 12] + b"llamX" + data[i + 17 :]


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing", "No such model file"),
        ("empty", "is empty"),
        ("text", "not a GGUF file"),
        ("safetensors", "Hugging Face model file, not a GGUF file"),
        ("truncated", "is truncated"),
        ("header_cut", "not a valid GGUF file"),
        ("bad_version", "unsupported GGUF version 99"),
        ("garbage_counts", "implausible counts"),
        ("unknown_arch", r"not a loadable model: llamX.block_count"),
        ("no_vocab", r"not a loadable model: it has no vocabulary"),
        ("no_layers", r"not a loadable model: llama.block_count"),
        ("empty_dir", "holds no GGUF file"),
    ],
)
def test_bad_model_files_raise_model_error(q8, tmp_path, case, match):
    data = open(q8, "rb").read()
    path = tmp_path / "model.gguf"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("SELECT 1; -- not a model\n")
    elif case == "safetensors":
        path = tmp_path / "model.safetensors"
        path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    elif case == "truncated":
        path.write_bytes(data[: len(data) * 2 // 3])
    elif case == "header_cut":
        path.write_bytes(data[:200])
    elif case == "bad_version":
        path.write_bytes(data[:4] + struct.pack("<I", 99) + data[8:])
    elif case == "garbage_counts":
        path.write_bytes(data[:8] + b"\xff" * 16 + data[24:])
    elif case == "unknown_arch":
        path.write_bytes(_arch_renamed(data))
    elif case in ("no_vocab", "no_layers"):  # the key renamed in place (same length): checked before llama.cpp
        key = b"tokenizer.ggml.tokens" if case == "no_vocab" else b"llama.block_count"
        path.write_bytes(data.replace(key, key[:-1] + b"Z", 1))
    elif case == "empty_dir":
        path = tmp_path / "nothing-here"
        path.mkdir()
    with pytest.raises(ModelError, match=match):
        describe(SQL, backend="llamacpp", model=str(path))


def test_context_too_small_is_a_model_error(q8):
    with pytest.raises(ModelError, match=r"context window is n_ctx=64 tokens.*n_ctx="):
        describe(SQL, backend="llamacpp", model=q8, n_ctx=64)


@pytest.mark.parametrize(
    "opts, match",
    [
        (dict(n_ctx=0), "n_ctx must be at least 1"),
        (dict(n_threads="many"), "n_threads must be integer / null, got 'many'"),
        (dict(n_gpu_layers="all"), "n_gpu_layers must be integer"),
        (dict(temperatur=0.5), "no option 'temperatur' \\(did you mean 'temperature'\\?\\)"),
        (dict(on_unfaithful="ignore"), 'on_unfaithful must be "warn" / "fallback" / "retry"'),
    ],
)
def test_bad_options(q8, opts, match):
    with pytest.raises(InvalidInputError, match=match):
        get_backend("llamacpp", model=q8, **opts)


def test_cli(q8, tmp_path):
    from click.testing import CliRunner

    from sql2nl.cli import cli

    ok = CliRunner().invoke(cli, ["describe", "-b", "llamacpp", "-m", q8, "-o", "max_new_tokens=8", SQL])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip()
    bad = CliRunner().invoke(cli, ["describe", "-b", "llamacpp", "-m", str(tmp_path / "none.gguf"), SQL])
    assert bad.exit_code == 1
    assert "No such model file" in bad.output and "Traceback" not in bad.output


def test_errors_are_sql2nl_errors():
    assert issubclass(ModelError, Sql2NLError)
