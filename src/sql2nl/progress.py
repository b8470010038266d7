"""The progress bar of long work (``describe_many(progress=True)``, scripts, query logs), on stderr.

One helper so every caller shows the same bar and pays for tqdm only when a bar is shown.
"""

from __future__ import annotations

from typing import Any


class _NoBar:
    """Stands in for a bar that is off: same interface, does nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def progress_bar(total: int | None, enabled: bool, desc: str) -> Any:
    """A tqdm bar of ``total`` queries (``None``: unknown) labelled ``desc``, or a silent stand-in."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="query")
