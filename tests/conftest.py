"""Shared test fixtures. Area-specific fixtures live in their own test modules.

The skip policy lives in ``skips.py``: a test module needing an optional dependency calls
``skips.require("module")`` (never ``pytest.importorskip``), which skips on a developer's machine
without it and fails under ``CI=true``; a missing service calls ``skips.unavailable(why)``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty in-memory description cache."""
    from sql2nl import cache

    cache.memory.clear()
    yield
    cache.memory.clear()
