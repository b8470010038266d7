"""Which engine trains: Unsloth or plain PEFT, and why (recorded in the run manifest).

``auto`` (the default) trains with Unsloth when it imports, which Unsloth 2026.10 also does on a
machine without a GPU: it then runs its CPU backend (stock transformers/PEFT/TRL with its own
chunked cross-entropy loss and trainer defaults; ``UNSLOTH_FORCE_CPU=1`` forces it,
``UNSLOTH_DISABLE_CPU_FALLBACK=1`` makes it refuse instead). The choice is logged once (INFO, logger
``sql2nl.training``) and kept as ``engine_choice`` in ``manifest.json``: what was asked for, what
ran, and why, so a silent fall back to PEFT shows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger("sql2nl.training")


def choose_engine(engine: str, log: Callable[[str], None] | None = None) -> dict[str, str]:
    """``{"requested", "used", "why"}`` for ``engine`` (``auto``, ``unsloth`` or ``peft``).

    Imports Unsloth when it is chosen: it must come before transformers and TRL, which it patches.
    ``log`` (the training's progress printer), when given, is told the choice as well.
    """
    if engine == "peft":
        choice = _choice(engine, "peft", "asked for")
    elif engine == "auto" and _slow_unsloth_packing():
        # On a GPU whose PyTorch lacks grouped-query varlen attention (before 2.12) Unsloth's packed
        # attention runs one SDPA call per example and per layer: on an H100 with torch 2.11 several
        # times slower than PEFT with sql2nl_training.packing (benchmarks/RESULTS.md, Training).
        choice = _choice(
            engine,
            "peft",
            "this GPU's PyTorch has no grouped-query varlen attention, which Unsloth's packed batches need to be fast",
        )
    else:
        try:
            import unsloth  # noqa: F401  (import first: it patches transformers/TRL)

            choice = _choice(engine, "unsloth", "asked for" if engine == "unsloth" else "it imports")
        except Exception as e:  # ImportError, or no supported device
            if engine == "unsloth":
                from sql2nl.errors import BackendUnavailableError

                raise BackendUnavailableError("unsloth", "pip install 'sql2nl-training[unsloth]'", str(e)) from None
            choice = _choice(engine, "peft", f"Unsloth cannot be imported ({type(e).__name__}: {e})")
    message = f"training engine: {choice['used']} ({choice['why']})"
    logger.info(message)
    if log is not None:
        log(message)
    return choice


def resolve_engine(engine: str) -> str:
    """``unsloth`` if asked for or importable (``auto``), else ``peft`` (see :func:`choose_engine`)."""
    return choose_engine(engine)["used"]


def _choice(requested: str, used: str, why: str) -> dict[str, str]:
    return {"requested": requested, "used": used, "why": why}


def _slow_unsloth_packing() -> bool:
    try:
        import torch

        if not torch.cuda.is_available():
            return False
        from .packing import _torch_varlen

        fast = _torch_varlen()
        return fast is None or not fast.gqa
    except Exception:
        return False
