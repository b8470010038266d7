"""llama-cpp-python's OpenAI-compatible server, loading models safely on every CPU.

    python -m sql2nl_llamacpp.llama_server --model model.q8_0.gguf --host 127.0.0.1 --port 8000

Takes exactly ``python -m llama_cpp.server``'s arguments. The only difference: on CPUs where llama.cpp's
extra CPU buffer types crash (AMX), models are loaded without them (:mod:`sql2nl_llamacpp.cpu`;
``SQL2NL_LLAMA_EXTRA_BUFFERS`` overrides). Use it behind the ``openai`` backend on such machines.
"""

from __future__ import annotations

import runpy
import sys

from .cpu import apply_to_process, describe_setting


def main() -> None:
    apply_to_process()
    print(describe_setting(), file=sys.stderr)
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
