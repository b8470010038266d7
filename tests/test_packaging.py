"""Packaging: every distribution declares what it imports; the core installs and imports on its own."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = [
    ".",
    "plugins/sql2nl-transformers",
    "plugins/sql2nl-llamacpp",
    "plugins/sql2nl-openai",
    "training",
    "gguf",
]
FIRST_PARTY = {"sql2nl", "sql2nl_training", "sql2nl_gguf", "sql2nl_transformers", "sql2nl_llamacpp", "sql2nl_openai"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(pyproject: dict) -> tuple[set[str], dict[str, set[str]]]:
    """The distributions a pyproject requires, and those of each extra."""

    def names(reqs: list[str]) -> set[str]:
        return {_canonical(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in reqs}

    project = pyproject["project"]
    extras = {k: names(v) for k, v in project.get("optional-dependencies", {}).items()}
    return names(project.get("dependencies", [])), extras


def _imports(package_dir: Path) -> dict[str, set[str]]:
    """Top-level modules imported anywhere under ``package_dir`` (lazy imports too) -> the files."""
    found: dict[str, set[str]] = {}
    for f in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            else:
                continue
            for m in mods:
                found.setdefault(m.split(".")[0], set()).add(str(f.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_every_import_is_declared(dist):
    pyproject = tomllib.loads((ROOT / dist / "pyproject.toml").read_text(encoding="utf-8"))
    required, extras = _requirements(pyproject)
    declared = required.union(*extras.values())
    owners = packages_distributions()  # module -> the distributions installed here that provide it
    own_name = _canonical(pyproject["project"]["name"])
    undeclared = {}
    for module, files in _imports(ROOT / dist / "src").items():
        if module in sys.stdlib_module_names or module == "__future__":
            continue
        dists = {_canonical(d) for d in owners.get(module, [])}
        if module in FIRST_PARTY and own_name in dists:
            continue
        assert dists, f"{module} (imported in {sorted(files)[0]}) is not installed here: cannot tell its distribution"
        if not dists & declared:
            undeclared[module] = sorted(files)
    assert undeclared == {}, f"imported by {own_name} but not in its pyproject.toml (dependencies or an extra)"


@pytest.mark.slow  # a fresh venv and a real pip install: ~1 minute
@pytest.mark.timeout(900)
def test_the_core_alone_installs_and_imports(tmp_path):
    # A copy of the core's files only: no plugin, no extra, nothing from this environment.
    src = tmp_path / "checkout"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    # pip's own sources (index, find-links, cache) as configured for this machine; no --no-deps.
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", str(src)], capture_output=True, text=True, timeout=900
    )
    assert install.returncode == 0, install.stdout + install.stderr
    required, extras = _requirements(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8")))
    # Every module imports, except those that need an extra: their ImportError must name a
    # module of a distribution one of the core's extras declares.
    probe = r"""
import importlib, json, pkgutil, sys
import sql2nl
out = {}
for m in pkgutil.walk_packages(sql2nl.__path__, "sql2nl."):
    if m.name.endswith(".__main__"):
        continue  # running it is what importing it does
    try:
        importlib.import_module(m.name)
    except ImportError as e:
        out[m.name] = e.name
from sql2nl.prompt import render_jinja_template
text = render_jinja_template("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}",
                            [{"role": "user", "content": "hi"}])
print(json.dumps({"failed": out, "rendered": text, "described": sql2nl.describe("SELECT a FROM t").text}))
"""
    res = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    import json

    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["rendered"].startswith("user: hi") and report["described"]
    owners = packages_distributions()
    optional = set().union(*extras.values())
    for module, missing in report["failed"].items():
        top = (missing or "").split(".")[0]
        dists = {_canonical(d) for d in owners.get(top, [])}
        assert dists & optional, f"{module} needs {missing!r}, which is in no extra of the core"
    assert "sql2nl.api" not in report["failed"] and "sql2nl.cli" not in report["failed"]
    cli = subprocess.run(
        [str(venv / "bin" / "sql2nl"), "describe", "SELECT name FROM users; SELECT 1 FROM t"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0 and cli.stdout.startswith("1. "), cli.stderr
