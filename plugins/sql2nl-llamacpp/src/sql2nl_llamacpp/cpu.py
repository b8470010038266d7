"""Loading llama.cpp models safely on every CPU: the one place that constructs ``llama_cpp.Llama``.

llama.cpp places quantized weights in "extra" CPU buffer types when the CPU has the instructions for
them (AMX tiles, repacked Q4/Q8 layouts). On Intel CPUs with **AMX**, llama-cpp-python 0.3.36 built from
source segfaults while decoding Q4_1/Q8_0 files in those buffers (f16 works); loaded with
``llama_model_params.use_extra_bufts = False`` the same files decode correctly, a little slower. A
segfault cannot be caught in Python, so the default is decided before loading, from the CPU's flags:

* ``extra_buffers="auto"`` (default): off on CPUs that report AMX (``amx_tile`` in ``/proc/cpuinfo``),
  on elsewhere (where they are safe and faster);
* ``"on"`` / ``"off"`` (or ``True`` / ``False``) force either way;
* the environment variable ``SQL2NL_LLAMA_EXTRA_BUFFERS`` (``auto``/``on``/``off``) sets the default for
  every load in the process (backend, export verification, benchmarks, tests).

A build-time alternative is to build llama-cpp-python without the AMX kernels:
``CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"``.

llama-cpp-python's ``Llama(...)`` does not take ``use_extra_bufts``; it builds its model parameters from
``llama_model_default_params()``, so while a model is constructed that function is wrapped to return
parameters with the flag cleared (under a lock: constructions are serialised, calls are not).
"""

from __future__ import annotations

import os
import sys
import threading
from functools import lru_cache
from typing import Any

from sql2nl.errors import InvalidInputError, ModelError

ENV = "SQL2NL_LLAMA_EXTRA_BUFFERS"
SETTINGS = ("auto", "on", "off")
#: CPU flags (as Linux names them) of the instruction sets whose llama.cpp kernels crash on decode.
CRASHING_FLAGS = frozenset({"amx_tile", "amx_int8", "amx_bf16"})

_construct_lock = threading.Lock()


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux's ``/proc/cpuinfo`` lists them (empty where that file is absent)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def normalize_setting(value: Any) -> str:
    """``True``/``False``/``None``/``"on"``/``"off"``/``"auto"`` (any case) → ``"on"``, ``"off"`` or ``"auto"``."""
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "on" if value else "off"
    text = str(value).strip().lower()
    aliases = {"1": "on", "true": "on", "yes": "on", "0": "off", "false": "off", "no": "off", "": "auto"}
    text = aliases.get(text, text)
    if text not in SETTINGS:
        raise InvalidInputError(f"extra_buffers must be one of auto, on, off (or true/false), got {value!r}.")
    return text


def extra_buffers_enabled(setting: Any = None) -> bool:
    """Whether llama.cpp may use its extra CPU buffer types for a load with this ``setting``.

    ``None`` means the environment's ``SQL2NL_LLAMA_EXTRA_BUFFERS``, else ``"auto"``.
    """
    mode = normalize_setting(os.environ.get(ENV) if setting is None else setting)
    if mode == "auto":
        return not (CRASHING_FLAGS & cpu_flags())
    return mode == "on"


def open_llama(model_path: str, *, extra_buffers: Any = None, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(model_path, **kwargs)`` with the extra buffer types decided as above."""
    import llama_cpp
    import llama_cpp.llama_cpp as lib

    if extra_buffers_enabled(extra_buffers):
        return llama_cpp.Llama(model_path=model_path, **kwargs)
    with _construct_lock:
        original = lib.llama_model_default_params
        lib.llama_model_default_params = _without_extra_buffers(original)
        try:
            llm = llama_cpp.Llama(model_path=model_path, **kwargs)
        finally:
            lib.llama_model_default_params = original
    if llm.model_params.use_extra_bufts:  # a llama-cpp-python that builds its parameters differently
        llm.close()
        raise ModelError(
            "llama-cpp-python ignored use_extra_bufts=False; set "
            f"{ENV}=on to load anyway (may crash on AMX CPUs) or pin llama-cpp-python==0.3.36."
        )
    return llm


def describe_setting() -> str:
    """One line for logs and benchmark headers: the setting, what it resolved to, and why."""
    raw = os.environ.get(ENV) or "auto"
    amx = sorted(CRASHING_FLAGS & cpu_flags())
    on = extra_buffers_enabled()
    return (
        f"llama.cpp extra CPU buffers {'on' if on else 'off'} ({ENV}={raw}; "
        f"AMX flags: {', '.join(amx) if amx else 'none'}; {sys.platform})"
    )


def apply_to_process(setting: Any = None) -> bool:
    """Make every later ``llama_cpp.Llama(...)`` in this process follow ``setting`` (for code that constructs
    models itself, such as llama-cpp-python's server). Returns whether extra buffers stay enabled."""
    import llama_cpp.llama_cpp as lib

    if extra_buffers_enabled(setting):
        return True
    with _construct_lock:
        if not getattr(lib.llama_model_default_params, "_sql2nl_no_extra_buffers", False):
            lib.llama_model_default_params = _without_extra_buffers(lib.llama_model_default_params)
    return False


def _without_extra_buffers(default_params: Any) -> Any:
    """``default_params`` with ``use_extra_bufts`` cleared in what it returns."""

    def params_without_extra_buffers() -> Any:
        params = default_params()
        params.use_extra_bufts = False
        return params

    params_without_extra_buffers._sql2nl_no_extra_buffers = True  # type: ignore[attr-defined]
    return params_without_extra_buffers
