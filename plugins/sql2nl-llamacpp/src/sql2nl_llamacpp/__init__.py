"""sql2nl's llama.cpp backend: ``describe(sql, backend="llamacpp", model="model.q8_0.gguf")``."""

from .cpu import open_llama
from .gguf_file import GGUFInfo, read_gguf
from .models import resolve_gguf

__all__ = ["GGUFInfo", "read_gguf", "resolve_gguf", "open_llama", "LlamaCppBackend"]


def __getattr__(name):
    if name == "LlamaCppBackend":  # importing the backend module stays cheap, but keep the package lighter still
        from .backend import LlamaCppBackend

        return LlamaCppBackend
    raise AttributeError(name)
