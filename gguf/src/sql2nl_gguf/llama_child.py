"""llama.cpp's side of export verification, run in a child process.

A native crash in llama.cpp (a segfault decoding a quantized file on some CPUs) cannot be caught in
Python: in-process it kills the CLI, the notebook or the test run. Verification therefore hands llama.cpp
its work in a child (``python -m sql2nl_gguf.llama_child``, a JSON request on stdin, a JSON answer on
stdout), and :func:`run` turns a child that dies into an :class:`~sql2nl_gguf.errors.ExportError` naming
the file and what it was doing. The Hugging Face side stays in the parent.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ExportError

#: Seconds a child may take; generous, since a CPU-only box decodes a large f16 GGUF slowly.
TIMEOUT = 1800


def run(op: str, path: str | Path, what: str, timeout: float = TIMEOUT, **args: Any) -> Any:
    """Run ``op`` on the GGUF ``path`` in a child process; ``what`` names the file's role in errors."""
    request = json.dumps({"op": op, "path": str(path), **args})
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "sql2nl_gguf.llama_child"],
            input=request,
            text=True,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise ExportError(f"Verifying {what} ({path}) with llama.cpp did not finish within {timeout:.0f} s.") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        if proc.returncode < 0:
            try:
                sig = signal.Signals(-proc.returncode).name
            except ValueError:
                sig = f"signal {-proc.returncode}"
            raise ExportError(
                f"llama.cpp crashed ({sig}) while verifying {what} ({path}). The file was not published. On CPUs "
                "with AMX, llama.cpp's extra CPU buffer types crash on quantized files: they are off by default "
                "there; if SQL2NL_LLAMA_EXTRA_BUFFERS=on is set, unset it. Otherwise try another quantization or "
                f"llama-cpp-python version.\n{tail}"
            )
        raise ExportError(f"Verifying {what} ({path}) with llama.cpp failed (exit {proc.returncode}):\n{tail}")
    return json.loads(proc.stdout)


# -- the child ---------------------------------------------------------------------------------------


def _tokenize(path: str, texts: list[str]) -> dict:
    """Token ids of ``texts`` from the GGUF's vocabulary alone: no weights loaded, no context built."""
    import llama_cpp
    from llama_cpp._internals import LlamaModel

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = LlamaModel(path_model=path, params=params, verbose=False)
    try:
        ids = [model.tokenize(t.encode("utf-8"), add_bos=False, special=True) for t in texts]
        bos = model.tokenize(b"x", add_bos=True, special=False) != model.tokenize(b"x", add_bos=False, special=False)
    finally:
        model.close()
    return {"ids": ids, "adds_bos": bos}


def _greedy(
    path: str, prompts: list[list[int]], refs: list[list[int]], n_tokens: int, eos: int | None, n_ctx: int
) -> dict:
    """Free-running greedy continuations, and teacher-forced top-1 agreement with ``refs``."""
    import numpy as np

    from sql2nl_llamacpp.cpu import open_llama

    llm = open_llama(path, n_ctx=n_ctx, n_batch=n_ctx, n_gpu_layers=-1, verbose=False, seed=0, logits_all=True)
    try:
        got = []
        for ids in prompts:
            out: list[int] = []
            for tok in llm.generate(ids, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0, reset=True):
                out.append(int(tok))
                if tok == eos or len(out) >= n_tokens:
                    break
            got.append(out)
        forced = []
        for ids, ref in zip(prompts, refs):
            if not ref:
                forced.append([0, 0])
                continue
            llm.reset()
            llm.eval(ids + ref)
            scores = np.asarray(llm.scores[len(ids) - 1 : len(ids) - 1 + len(ref)])
            forced.append([int((scores.argmax(axis=-1) == np.asarray(ref)).sum()), len(ref)])
    finally:
        llm.close()
    return {"got": got, "forced": forced}


OPS: dict[str, Callable[..., Any]] = {"tokenize": _tokenize, "greedy": _greedy}


def main() -> None:
    request = json.loads(sys.stdin.read())
    op = OPS[request.pop("op")]
    json.dump(op(**request), sys.stdout)


if __name__ == "__main__":
    main()
