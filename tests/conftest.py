"""Shared test fixtures. Area-specific fixtures live in their own test modules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The shared Spider pairs (never copied into the repo); benchmarks and a few slow tests read them.
SPIDER_DIR = Path(os.environ.get("SQL2NL_SPIDER_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "spider_s2t"))


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty in-memory description cache."""
    from sql2nl import cache

    cache.memory.clear()
    yield
    cache.memory.clear()
