"""The llama.cpp tool folder Unsloth (and the direct exporter) convert and quantize with.

Unsloth's ``save_pretrained_gguf`` wants, in the folder named by ``UNSLOTH_LLAMA_CPP_PATH``, a
working ``llama-quantize`` and llama.cpp's ``convert_hf_to_gguf.py`` (with its ``conversion/``
package and ``gguf-py/``); without them it clones and builds llama.cpp from GitHub, which fails
offline. We build that folder from the sdist of the *installed* llama-cpp-python — whose vendored
llama.cpp is exactly the one that will run the GGUF — and give it a ``llama-quantize`` backed by
``llama_cpp.llama_model_quantize``. It is cached per version under
``$SQL2NL_LLAMA_CPP_CACHE`` (default: ``llama.cpp`` in the user cache dir, ``~/.cache/sql2nl/llama.cpp``
on Linux; see :func:`cache_root`) and is relocatable: prepare
it where PyPI is reachable, copy it anywhere, and point ``SQL2NL_LLAMA_CPP_TOOLS`` (or
``sql2nl export --tools DIR``) at it.

>>> folder = prepare_llama_cpp_tools()          # doctest: +SKIP
>>> sorted(p.name for p in folder.iterdir())    # doctest: +SKIP
['SQL2NL_TOOLS.json', 'conversion', 'convert_hf_to_gguf.py', ..., 'llama-quantize', ...]
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib import metadata
from pathlib import Path

import platformdirs
from filelock import FileLock

from sql2nl.errors import ModelError

__all__ = [
    "prepare_llama_cpp_tools",
    "resolve_tools",
    "tools_info",
    "cache_root",
    "ToolsError",
    "TOOLS_ENV",
    "CACHE_ENV",
    "SDIST_ENV",
    "PRE_TOKENIZER_ENV",
]

TOOLS_ENV = "SQL2NL_LLAMA_CPP_TOOLS"  # an existing prepared folder (air-gapped machines)
CACHE_ENV = "SQL2NL_LLAMA_CPP_CACHE"  # where prepared folders are cached, one per version
SDIST_ENV = "SQL2NL_LLAMA_CPP_SDIST"  # a llama-cpp-python sdist already on disk (skips pip)
PRE_TOKENIZER_ENV = "SQL2NL_GGUF_PRE_TOKENIZER"  # "<chkhsh>:<pre>" read by the patched converter
INFO_FILE = "SQL2NL_TOOLS.json"
# Bumped when the folder's layout changes; a cached folder of another format is rebuilt.
TOOLS_FORMAT = "sql2nl-llama-cpp-tools/2"

# What we take from the sdist's vendor/llama.cpp/ (conversion/ only exists after the converter split).
WANTED = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion/", "gguf-py/", "LICENSE")

_PATCH_MARK = "# sql2nl: pre-tokenizer mapping"
_PATCH = """\
{indent}{mark} (a byte-level BPE tokenizer this converter does not know, vetted by sql2nl_gguf
{indent}# and proven by its tokenizer parity check; keyed by this tokenizer's own hash)
{indent}if res is None and os.environ.get("{env}", "").startswith(chkhsh + ":"):
{indent}    res = os.environ["{env}"].split(":", 1)[1]
"""


class ToolsError(ModelError):
    """The llama.cpp tool folder could not be prepared or is not usable."""


def cache_root() -> Path:
    """Where prepared tool folders are cached: ``$SQL2NL_LLAMA_CPP_CACHE``, else ``llama.cpp`` in the
    platform's user cache dir (``platformdirs``: ``$XDG_CACHE_HOME/sql2nl`` or ``~/.cache/sql2nl`` on
    Linux, ``~/Library/Caches/sql2nl`` on macOS, ``%LOCALAPPDATA%\\sql2nl\\Cache`` on Windows)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return platformdirs.user_cache_path("sql2nl", appauthor=False) / "llama.cpp"


def installed_version() -> str:
    """The installed llama-cpp-python version (the sdist we take the converter from)."""
    try:
        return metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        raise ToolsError("llama-cpp-python is not installed. Install it with: pip install llama-cpp-python") from None


def tools_info(folder: str | os.PathLike) -> dict:
    """Check that ``folder`` is a usable prepared tool folder and return its ``SQL2NL_TOOLS.json``."""
    folder = Path(folder)
    missing = [
        p
        for p in (
            "convert_hf_to_gguf.py",
            "gguf-py/gguf/__init__.py",
            "llama-quantize",
            "llama_quantize.py",
            INFO_FILE,
            "src",
            "ggml",
            "common",
        )
        if not (folder / p).exists()
    ]
    if missing:
        raise ToolsError(
            f"{folder} is not a prepared llama.cpp tool folder (missing {', '.join(missing)}). "
            "Prepare one with `sql2nl export --prepare-tools DIR` on a machine with PyPI access."
        )
    if not os.access(folder / "llama-quantize", os.X_OK):
        raise ToolsError(f"{folder / 'llama-quantize'} is not executable; run `chmod +x` on it.")
    return json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))


def resolve_tools(tools: str | os.PathLike | None = None, *, prepare: bool = True) -> Path:
    """The tool folder to use: ``tools``, else ``$SQL2NL_LLAMA_CPP_TOOLS``, else the cache (prepared on demand)."""
    explicit = tools or os.environ.get(TOOLS_ENV)
    if explicit:
        folder = Path(explicit).expanduser().resolve()
        tools_info(folder)
        return folder
    folder = cache_root() / installed_version()
    if _usable(folder):
        return folder.resolve()
    # Before the platform's cache dir was used, every OS cached under ~/.cache (differs off Linux).
    legacy = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sql2nl" / "llama.cpp" / folder.name
    if not os.environ.get(CACHE_ENV) and _usable(legacy):
        return legacy.resolve()
    if not prepare:
        raise ToolsError(f"No prepared llama.cpp tools at {folder}. Run `sql2nl export --prepare-tools` first.")
    return prepare_llama_cpp_tools()


def prepare_llama_cpp_tools(
    dest: str | os.PathLike | None = None,
    *,
    version: str | None = None,
    sdist: str | os.PathLike | None = None,
    force: bool = False,
) -> Path:
    """Build (or return the cached) llama.cpp tool folder for llama-cpp-python ``version``.

    ``dest`` defaults to ``cache_root()/<version>``; ``sdist`` (or ``$SQL2NL_LLAMA_CPP_SDIST``) is a
    llama-cpp-python source archive already on disk, otherwise it is fetched with
    ``pip download --no-binary :all: --no-deps llama-cpp-python==<version>``. The folder is built
    beside ``dest`` and renamed into place, so a half-prepared folder is never used.
    """
    version = version or installed_version()
    dest = Path(dest).expanduser() if dest else cache_root() / version
    if not force and _usable(dest):
        return dest.resolve()
    if dest.exists() and any(dest.iterdir()) and not (dest / INFO_FILE).is_file():
        raise ToolsError(f"{dest} exists and is not a sql2nl llama.cpp tool folder; choose an empty or new directory.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # One preparer at a time (parallel test workers, two exports at once, on every OS): the others
    # wait, then reuse it.
    with FileLock(dest.parent / f".lock-{dest.name}"):
        if not force and _usable(dest):
            return dest.resolve()
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name}-", dir=dest.parent))
        try:
            archive = Path(sdist or os.environ.get(SDIST_ENV) or _download_sdist(version, work))
            if not archive.is_file():
                raise ToolsError(f"llama-cpp-python sdist {archive} does not exist.")
            stage = work / "tools"
            _extract_llama_cpp(archive, stage)
            patched = _patch_pre_tokenizer(stage)
            _write_quantizer(stage)
            # Unsloth's install_llama_cpp treats a folder without src/, ggml/ and common/ as a corrupted
            # checkout and would try to wipe and re-clone it; empty placeholders make it a "source checkout".
            for d in ("src", "ggml", "common"):
                (stage / d).mkdir(exist_ok=True)
                (stage / d / "README.sql2nl").write_text(
                    "Placeholder: sql2nl's llama.cpp tool folder has no C++ sources.\n"
                )
            info = {
                "format": TOOLS_FORMAT,
                "llama_cpp_python": version,
                "sdist": archive.name,
                "pre_tokenizer_patch": patched,
                "chktxt": _chktxt(stage),
                "prepared_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            (stage / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
            if dest.exists():  # force=True or a stale format: replace the old folder as a whole
                os.replace(dest, work / "old")
            os.replace(stage, dest)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    tools_info(dest)
    return dest.resolve()


def _usable(folder: Path) -> bool:
    """A complete tool folder of the current format (older or half-made ones are rebuilt)."""
    if not folder.is_dir():
        return False
    try:
        return tools_info(folder).get("format") == TOOLS_FORMAT
    except (ToolsError, ValueError, OSError):
        return False


def _download_sdist(version: str, where: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-binary",
        ":all:",
        "--no-deps",
        "--no-input",
        "--disable-pip-version-check",
        "-d",
        str(where),
        f"llama-cpp-python=={version}",
    ]
    print(f"sql2nl: fetching the llama-cpp-python {version} sdist for llama.cpp's converter (once)...", file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(where.glob("llama_cpp_python-*.tar.gz"))
    if proc.returncode != 0 or not found:
        raise ToolsError(
            f"Could not download the llama-cpp-python {version} sdist with pip:\n{proc.stderr.strip()[-2000:]}\n"
            f"On a machine without PyPI, prepare the folder elsewhere (`sql2nl export --prepare-tools DIR`) and "
            f"set {TOOLS_ENV}=DIR, or set {SDIST_ENV} to a downloaded llama_cpp_python-{version}.tar.gz."
        )
    return found[0]


def _extract_llama_cpp(archive: Path, stage: Path) -> None:
    stage.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        members = []
        for m in tar.getmembers():
            parts = m.name.split("/", 3)  # llama_cpp_python-X/vendor/llama.cpp/<rel>
            if len(parts) < 4 or parts[1:3] != ["vendor", "llama.cpp"]:
                continue
            rel = parts[3]
            if not any(rel == w or (w.endswith("/") and rel.startswith(w)) for w in WANTED):
                continue
            if "__pycache__" in rel or not (m.isfile() or m.isdir()):
                continue
            m.name = rel
            members.append(m)
        if not any(m.name == "convert_hf_to_gguf.py" for m in members):
            raise ToolsError(
                f"{archive.name} has no vendor/llama.cpp/convert_hf_to_gguf.py; "
                "is it a llama-cpp-python source archive?"
            )
        tar.extractall(stage, members=members, filter="data")


def _converter_sources(stage: Path) -> list[Path]:
    return [p for p in [stage / "conversion" / "base.py", stage / "convert_hf_to_gguf.py"] if p.is_file()]


def _patch_pre_tokenizer(stage: Path) -> bool:
    """Let the converter accept one vetted unknown pre-tokenizer hash (see ``PRE_TOKENIZER_ENV``)."""
    for src in _converter_sources(stage):
        text = src.read_text(encoding="utf-8")
        i = text.find('raise NotImplementedError("BPE pre-tokenizer was not recognized')
        if i < 0 or _PATCH_MARK in text:
            continue
        j = text.rfind("if res is None:", 0, i)
        line_start = text.rfind("\n", 0, j) + 1
        indent = text[line_start:j]
        patch = _PATCH.format(indent=indent, mark=_PATCH_MARK, env=PRE_TOKENIZER_ENV)
        new = text[:line_start] + patch + text[line_start:]
        ast.parse(new)  # never ship a converter we broke
        src.write_text(new, encoding="utf-8")
        return True
    return False


def _chktxt(stage: Path) -> str | None:
    """The text llama.cpp hashes to identify a pre-tokenizer (so we can compute the same hash)."""
    for src in _converter_sources(stage):
        m = re.search(r"^\s*chktxt = (.+)$", src.read_text(encoding="utf-8"), re.M)
        if m:
            return ast.literal_eval(m.group(1))
    return None


_QUANTIZE_SH = """#!/bin/sh
# llama-quantize stand-in (sql2nl): llama_cpp.llama_model_quantize, no compiled llama.cpp tools needed.
# SQL2NL_PYTHON names the Python that has llama-cpp-python; else the one that prepared this folder.
PY="${{SQL2NL_PYTHON:-{python}}}"
[ -x "$PY" ] || PY=python3
exec "$PY" "$(dirname "$0")/llama_quantize.py" "$@"
"""


def _write_quantizer(stage: Path) -> None:
    from . import quantize

    shutil.copyfile(quantize.__file__, stage / "llama_quantize.py")
    sh = stage / "llama-quantize"
    sh.write_text(_QUANTIZE_SH.format(python=sys.executable), encoding="utf-8")
    sh.chmod(sh.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
