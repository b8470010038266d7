"""The skip policy (tests/skips.py): a missing project dependency skips on a developer's machine
and fails under ``CI=true``; no test module bypasses it with ``pytest.importorskip``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

NEEDS_MISSING = """\
from skips import require

require("sql2nl_no_such_dependency")


def test_never_runs():
    assert False
"""

NEEDS_MISSING_INSIDE = """\
from skips import require, unavailable


def test_needs_a_module():
    require("sql2nl_no_such_dependency")


def test_needs_a_service():
    unavailable("no frobnicator reachable at 127.0.0.1:1")


def test_runs():
    assert True
"""


def _pytest(tmp_path: Path, source: str, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_needs.py").write_text(source)
    (tmp_path / "test_other.py").write_text("def test_other():\n    assert True\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # none needed here; loading them all takes seconds
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_missing_dependency_skips_the_module_on_a_developer_machine(tmp_path):
    r = _pytest(tmp_path, NEEDS_MISSING, ci=None)
    assert r.returncode == 0 and "1 passed, 1 skipped" in r.stdout and "sql2nl_no_such_dependency" in r.stdout, r.stdout


def test_a_missing_dependency_fails_under_ci(tmp_path):
    r = _pytest(tmp_path, NEEDS_MISSING, ci="true")
    # A collection error: pytest stops the whole run before any test (what CI should do then).
    assert r.returncode != 0 and "1 error" in r.stdout and "skipped" not in r.stdout, r.stdout
    assert "CI=true" in r.stdout and "sql2nl_no_such_dependency" in r.stdout, r.stdout


def test_inside_a_test_the_same_policy_holds(tmp_path):
    r = _pytest(tmp_path, NEEDS_MISSING_INSIDE, ci=None)
    assert r.returncode == 0 and "2 passed, 2 skipped" in r.stdout, r.stdout
    r = _pytest(tmp_path, NEEDS_MISSING_INSIDE, ci="1")
    assert r.returncode != 0 and "2 failed, 2 passed" in r.stdout and "frobnicator" in r.stdout, r.stdout


def test_no_test_module_skips_around_the_policy():
    # pytest.importorskip would skip quietly under CI too.
    offenders = []
    for path in sorted(TESTS.glob("*.py")):
        if path.name in ("skips.py", Path(__file__).name):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "pytest.importorskip(" in line:
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == [], "use skips.require / skips.unavailable:\n" + "\n".join(offenders)
