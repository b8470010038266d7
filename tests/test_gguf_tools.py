"""The llama.cpp tool folder's home and lock (sql2nl_gguf.tools), with a small hand-made sdist.

The folder lives in the platform's user cache dir (``platformdirs``) unless
``SQL2NL_LLAMA_CPP_CACHE`` says otherwise; two processes preparing it at once build it once
(``filelock``, which also locks on Windows, where the old ``fcntl`` lock did nothing).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
from skips import require

require("sql2nl_gguf")

from sql2nl_gguf import tools  # noqa: E402

CONVERTER = textwrap.dedent("""\
    chktxt = "Hello, 123"

    def get_vocab_base_pre(chkhsh):
        res = None
        if res is None:
            raise NotImplementedError("BPE pre-tokenizer was not recognized")
        return res
    """)


def fake_sdist(where: Path, version: str = "0.0.1") -> Path:
    """A llama-cpp-python source archive holding just what the tool folder takes from it."""
    path = where / f"llama_cpp_python-{version}.tar.gz"
    files = {
        "convert_hf_to_gguf.py": CONVERTER,
        "gguf-py/gguf/__init__.py": "",
        "LICENSE": "MIT\n",
        "README.md": "not wanted\n",
    }
    with tarfile.open(path, "w:gz") as tar:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"llama_cpp_python-{version}/vendor/llama.cpp/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_the_cache_root_is_the_user_cache_dir_unless_the_env_says(monkeypatch, tmp_path):
    monkeypatch.setenv(tools.CACHE_ENV, str(tmp_path / "mine"))
    assert tools.cache_root() == tmp_path / "mine"
    monkeypatch.delenv(tools.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):  # the same place as before platformdirs
        assert tools.cache_root() == tmp_path / "xdg" / "sql2nl" / "llama.cpp"


def test_a_prepared_folder_is_complete_patched_and_reused(tmp_path):
    dest = tools.prepare_llama_cpp_tools(tmp_path / "tools", version="0.0.1", sdist=fake_sdist(tmp_path))
    info = tools.tools_info(dest)
    assert info["format"] == tools.TOOLS_FORMAT and info["pre_tokenizer_patch"] and info["chktxt"] == "Hello, 123"
    assert not (dest / "README.md").exists()  # only what the converter needs
    assert tools.prepare_llama_cpp_tools(dest, version="0.0.1") == dest  # cached: no sdist needed now


PREPARE = """\
import sys, time
from sql2nl_gguf import tools
extract = tools._extract_llama_cpp
def slow_extract(archive, stage):  # counts builds, and holds the lock long enough for the other to wait
    with open(sys.argv[3], "a") as log:
        log.write("built\\n")
    time.sleep(3)
    extract(archive, stage)
tools._extract_llama_cpp = slow_extract
print(tools.prepare_llama_cpp_tools(sys.argv[1], version="0.0.1", sdist=sys.argv[2]))
"""


@pytest.mark.slow
def test_two_processes_preparing_one_folder_build_it_once(tmp_path):
    sdist, dest, log = fake_sdist(tmp_path), tmp_path / "tools", tmp_path / "builds.log"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PREPARE, str(dest), str(sdist), str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    assert {out.strip() for out, _ in outs} == {str(dest.resolve())}
    assert log.read_text() == "built\n"  # the second waited for the lock, then reused the folder
    tools.tools_info(dest)


def test_a_folder_in_the_old_location_is_still_used(monkeypatch, tmp_path):
    # Off Linux the platform's cache dir is not ~/.cache, where every OS cached the folder before.
    require("llama_cpp")
    version = tools.installed_version()
    monkeypatch.delenv(tools.CACHE_ENV, raising=False)
    monkeypatch.delenv(tools.TOOLS_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "old"))
    monkeypatch.setattr("platformdirs.user_cache_path", lambda *a, **k: tmp_path / "new" / "sql2nl")
    old = tools.prepare_llama_cpp_tools(
        tmp_path / "old" / "sql2nl" / "llama.cpp" / version, version=version, sdist=fake_sdist(tmp_path, version)
    )
    assert tools.resolve_tools(prepare=False) == old
    with pytest.raises(tools.ToolsError, match="No prepared llama.cpp tools"):
        monkeypatch.setenv(tools.CACHE_ENV, str(tmp_path / "elsewhere"))  # an explicit cache: only there
        tools.resolve_tools(prepare=False)
