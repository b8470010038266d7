"""sql2nl GGUF export: a Hugging Face model (or a training run) -> verified GGUF files + Ollama Modelfile.

>>> from sql2nl_gguf import export                                          # doctest: +SKIP
>>> manifest = export("runs/x/merged", "out/", quantizations=("f16", "q8_0"))  # doctest: +SKIP
>>> manifest["quantizations"]["q8_0"]["file"]                                # doctest: +SKIP
'model.q8_0.gguf'

Heavy imports (torch, transformers, llama_cpp, unsloth) happen on first use, never at import.
"""

from __future__ import annotations

from .errors import ExportError, TokenizerError, ToolsError, VerificationError
from .export import MANIFEST_FORMAT, export, export_run
from .tools import prepare_llama_cpp_tools, resolve_tools

__version__ = "0.1.0"

__all__ = [
    "export",
    "export_run",
    "prepare_llama_cpp_tools",
    "resolve_tools",
    "ExportError",
    "ToolsError",
    "TokenizerError",
    "VerificationError",
    "MANIFEST_FORMAT",
    "__version__",
]
