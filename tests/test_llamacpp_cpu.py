"""Loading GGUFs safely on every CPU (issue: segfaults on CPUs with AMX).

llama.cpp's extra CPU buffer types (AMX tiles, repacked quantized weights) crash llama-cpp-python 0.3.36
when decoding Q4_1/Q8_0 files on CPUs with AMX. Every load goes through ``sql2nl_llamacpp.cpu.open_llama``,
which turns them off where they crash; verification runs llama.cpp in a child so a crash is an error.
"""

from __future__ import annotations

import os
import stat
import sys

import pytest
from skips import require

require("llama_cpp")
require("sql2nl_gguf")

import ggufmodels  # noqa: E402

from sql2nl.errors import InvalidInputError  # noqa: E402
from sql2nl_llamacpp import cpu  # noqa: E402

AMX = frozenset({"fpu", "avx512f", "amx_tile", "amx_int8", "amx_bf16"})
NO_AMX = frozenset({"fpu", "avx2", "avx512f"})


@pytest.fixture(scope="module")
def gguf(tmp_path_factory):
    return ggufmodels.tiny_gguf(tmp_path_factory.mktemp("gguf"))


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, "auto"),
        ("auto", "auto"),
        ("", "auto"),
        (True, "on"),
        ("ON", "on"),
        ("1", "on"),
        ("yes", "on"),
        (False, "off"),
        ("off", "off"),
        ("0", "off"),
        ("false", "off"),
    ],
)
def test_settings_are_normalized(value, expected):
    assert cpu.normalize_setting(value) == expected


def test_a_bad_setting_is_an_input_error():
    with pytest.raises(InvalidInputError, match="auto, on, off"):
        cpu.normalize_setting("sometimes")


@pytest.mark.parametrize(
    "flags, setting, env, enabled",
    [
        (AMX, None, None, False),  # auto on an AMX CPU: off, the crashing kernels are avoided
        (NO_AMX, None, None, True),  # auto elsewhere: on (faster, and safe there)
        (AMX, "on", None, True),  # forced either way
        (NO_AMX, "off", None, False),
        (AMX, None, "on", True),  # the environment sets the process default
        (NO_AMX, None, "off", False),
        (NO_AMX, "on", "off", True),  # an explicit setting beats the environment
    ],
)
def test_auto_follows_the_cpu_and_can_be_forced(monkeypatch, flags, setting, env, enabled):
    monkeypatch.setattr(cpu, "cpu_flags", lambda: flags)
    if env is None:
        monkeypatch.delenv(cpu.ENV, raising=False)
    else:
        monkeypatch.setenv(cpu.ENV, env)
    assert cpu.extra_buffers_enabled(setting) is enabled


def test_this_machines_flags_are_read():
    flags = cpu.cpu_flags()
    if sys.platform.startswith("linux"):
        assert "fpu" in flags or "fp" in flags or "neon" in flags  # something every CPU reports
    assert cpu.describe_setting().startswith("llama.cpp extra CPU buffers")


@pytest.mark.parametrize("setting", ["off", "auto"])
def test_open_llama_loads_and_decodes_without_touching_later_loads(gguf, setting):
    import llama_cpp.llama_cpp as lib

    before = lib.llama_model_default_params
    llm = cpu.open_llama(str(gguf.file("q8_0")), extra_buffers=setting, n_ctx=128, verbose=False)
    try:
        assert llm.model_params.use_extra_bufts is cpu.extra_buffers_enabled(setting)
        toks = llm.tokenize(b"SELECT name FROM users", add_bos=True)
        assert len(list(zip(range(4), llm.generate(toks, top_k=1, temp=0.0)))) == 4  # decodes the q8_0 file
    finally:
        llm.close()
    assert lib.llama_model_default_params is before  # the wrapper is gone after construction
    assert lib.llama_model_default_params().use_extra_bufts  # llama.cpp's own default is untouched


def test_backend_option_reaches_the_loaded_model(gguf):
    from sql2nl.backends import get_backend

    be = get_backend("llamacpp", model=str(gguf.file("q8_0")), extra_buffers="off", max_new_tokens=4)
    assert be.model.llm.model_params.use_extra_bufts is False
    with pytest.raises(InvalidInputError, match="extra_buffers"):
        get_backend("llamacpp", model=str(gguf.file("q8_0")), extra_buffers="maybe")


def test_a_crash_in_verification_is_an_export_error_naming_the_file(tmp_path, monkeypatch):
    from sql2nl_gguf import ExportError, llama_child

    # A stand-in interpreter that dies of SIGSEGV, as llama.cpp does on AMX CPUs: the parent must survive it.
    crasher = tmp_path / "python-that-segfaults"
    crasher.write_text("#!/bin/sh\nkill -SEGV $$\n")
    crasher.chmod(crasher.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(llama_child.sys, "executable", str(crasher))
    with pytest.raises(ExportError, match=r"crashed \(SIGSEGV\) while verifying the q8_0 GGUF \(.*model.q8_0.gguf\)"):
        llama_child.run(
            "greedy", tmp_path / "model.q8_0.gguf", "the q8_0 GGUF", prompts=[], refs=[], n_tokens=1, eos=None, n_ctx=8
        )


def test_child_tokenizes_from_the_vocabulary_alone(gguf):
    from sql2nl_gguf import llama_child

    out = llama_child.run("tokenize", gguf.file("q8_0"), "the tokenizer", texts=["SELECT 1", "统计"])
    llm = cpu.open_llama(str(gguf.file("q8_0")), n_ctx=64, verbose=False)
    try:
        assert out["ids"] == [llm.tokenize(t.encode(), add_bos=False, special=True) for t in ("SELECT 1", "统计")]
    finally:
        llm.close()


def test_apply_to_process_covers_every_later_load():
    import subprocess

    code = (
        "import llama_cpp.llama_cpp as lib; from sql2nl_llamacpp import cpu; "
        "print(cpu.apply_to_process(), lib.llama_model_default_params().use_extra_bufts)"
    )
    env = dict(os.environ, SQL2NL_LLAMA_EXTRA_BUFFERS="off")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr
