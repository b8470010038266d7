"""sql2nl's OpenAI-compatible backend: ``describe(sql, backend="openai", base_url="http://127.0.0.1:11434/v1")``."""

__all__ = ["OpenAIBackend"]


def __getattr__(name):
    if name == "OpenAIBackend":  # the openai client is imported only when the backend is used
        from .backend import OpenAIBackend

        return OpenAIBackend
    raise AttributeError(name)
