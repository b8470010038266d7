"""Registers the ``openai`` backend. Kept light: the openai client is imported when the backend is built."""

from sql2nl.hookspecs import hookimpl

from .options import OpenAIOptions


def _factory(**options):
    from .backend import OpenAIBackend

    return OpenAIBackend(**options)


@hookimpl
def register_backends(register):
    register(
        "openai",
        _factory,
        options=OpenAIOptions,
        description="Any OpenAI-compatible chat server you point it at (Ollama, vLLM, llama-server); needs base_url",
    )
