"""GGUF quantization through ``llama_cpp.llama_model_quantize`` — and a ``llama-quantize`` stand-in.

This module depends on the standard library and ``llama_cpp`` only, because
:func:`sql2nl_gguf.tools.prepare_llama_cpp_tools` copies it into the tool folder, where the
``llama-quantize`` wrapper runs it as a script (the command line Unsloth and llama.cpp's own
``llama-quantize`` use: ``llama-quantize IN.gguf OUT.gguf TYPE [NTHREADS]``).

The output is written under a temporary name in the same directory and renamed into place, so
an interrupted quantization never leaves a half-written file under the final name.
"""

from __future__ import annotations

import os
import sys
import tempfile

USAGE = (
    "usage: llama-quantize [--allow-requantize] [--pure] INPUT.gguf OUTPUT.gguf TYPE [NTHREADS]\n"
    "  (sql2nl stand-in backed by llama_cpp.llama_model_quantize; TYPE e.g. q8_0, q4_k_m, f16)\n"
)

# Names users and Unsloth write -> llama.cpp ftype constant suffix.
ALIASES = {"f32": "ALL_F32", "q4_k": "MOSTLY_Q4_K_M", "q5_k": "MOSTLY_Q5_K_M", "q3_k": "MOSTLY_Q3_K_M"}


class QuantizeError(RuntimeError):
    """Quantization failed (bad type, unreadable input, llama.cpp error)."""


def ftype_of(quant: str) -> int:
    """The llama.cpp ``LLAMA_FTYPE_*`` value for a quantization name such as ``q4_k_m``."""
    import llama_cpp

    name = quant.strip().lower()
    const = "LLAMA_FTYPE_" + ALIASES.get(name, "MOSTLY_" + name.upper())
    if not hasattr(llama_cpp, const):
        known = sorted(
            n[len("LLAMA_FTYPE_MOSTLY_") :].lower() for n in dir(llama_cpp) if n.startswith("LLAMA_FTYPE_MOSTLY_")
        )
        raise QuantizeError(f"Unknown quantization type {quant!r}; known: {', '.join(known + ['f32'])}.")
    return getattr(llama_cpp, const)


def quantize(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    quant: str,
    *,
    n_threads: int | None = None,
    allow_requantize: bool = False,
    pure: bool = False,
) -> str:
    """Quantize the GGUF ``src`` to ``quant`` as ``dst`` (atomically). Returns ``dst``."""
    import ctypes

    import llama_cpp

    src, dst = os.fspath(src), os.fspath(dst)
    if not os.path.isfile(src):
        raise QuantizeError(f"Input GGUF {src!r} does not exist.")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype_of(quant)
    params.nthread = int(n_threads or 0)  # 0: llama.cpp picks the hardware thread count
    params.allow_requantize = bool(allow_requantize)
    params.pure = bool(pure)
    out_dir = os.path.dirname(os.path.abspath(dst))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".gguf", dir=out_dir)
    os.close(fd)
    try:
        rc = llama_cpp.llama_model_quantize(src.encode(), tmp.encode(), ctypes.byref(params))
        if rc != 0:
            raise QuantizeError(f"llama.cpp could not quantize {src!r} to {quant} (status {rc}).")
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dst


def main(argv: list[str] | None = None) -> int:
    """``llama-quantize`` command line (the subset Unsloth and people use)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    flags = {"--allow-requantize": False, "--pure": False}
    pos = []
    for a in args:
        if a in flags:
            flags[a] = True
        elif a.startswith("--"):
            sys.stderr.write(f"llama-quantize (sql2nl): option {a} is not supported by this stand-in.\n{USAGE}")
            return 2
        else:
            pos.append(a)
    if len(pos) not in (3, 4):
        sys.stderr.write(USAGE)
        return 2
    n = int(pos[3]) if len(pos) == 4 else None
    try:
        quantize(
            pos[0], pos[1], pos[2], n_threads=n, allow_requantize=flags["--allow-requantize"], pure=flags["--pure"]
        )
    except QuantizeError as e:
        sys.stderr.write(f"llama-quantize: {e}\n")
        return 1
    sys.stdout.write(f"llama-quantize: wrote {pos[1]} ({pos[2]})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
