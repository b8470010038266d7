"""The skip policy: what a test may skip for, and what it may not under CI.

A developer without some extra (llama-cpp-python built, a PostgreSQL server, Chromium) still runs
everything else: tests that need it skip, saying what is missing. Under CI (``CI=true``)
every project dependency is installed (``requirements-dev.txt``) and every service started
(``.ci/run``), so a missing one is a failure, never a quiet skip. GPU-only tests (``gpu``
marker, no CUDA) stay skips everywhere: no CI machine has a GPU.

    from skips import require
    llama_cpp = require("llama_cpp")   # instead of pytest.importorskip (a test checks that)
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(message: str) -> NoReturn:
    """Skip the test (or the module, at import) because ``message`` — or fail under CI."""
    __tracebackhide__ = True  # reports point at the test that asked, not at this file
    if IN_CI:
        pytest.fail(
            f"{message} (CI=true: the project's dependencies and services must all be there; "
            "a skip here would hide tests that did not run)",
            pytrace=False,
        )
    pytest.skip(message, allow_module_level=True)


def require(module: str, *, minversion: str | None = None, reason: str | None = None) -> ModuleType:
    """``module`` imported, like ``pytest.importorskip``, but under CI a missing one fails."""
    __tracebackhide__ = True
    try:
        return pytest.importorskip(module, minversion=minversion, reason=reason)
    except pytest.skip.Exception as e:
        unavailable(str(e.msg) if hasattr(e, "msg") else str(e))
