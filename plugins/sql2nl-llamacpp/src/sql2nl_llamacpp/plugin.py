"""Registers the ``llamacpp`` backend. Kept light: llama_cpp is imported when a model is loaded."""

from sql2nl.hookspecs import hookimpl

from .options import LlamaCppOptions


def _factory(**options):
    from .backend import LlamaCppBackend

    return LlamaCppBackend(**options)


@hookimpl
def register_backends(register):
    register(
        "llamacpp",
        _factory,
        options=LlamaCppOptions,
        description="GGUF models through llama.cpp (llama-cpp-python), CPU or GPU",
    )
