"""Registers the model name ``smollm2`` (files are found and checked when the name is first used)."""

from sql2nl.hookspecs import hookimpl

from .model import BACKEND, MODEL_NAME, model_options


@hookimpl
def register_models(register):
    register(
        MODEL_NAME,
        backend=BACKEND,
        options=model_options,
        description="SmolLM2-135M-Instruct + LoRA fine-tuned on Spider (English), CPU via llama.cpp",
        install="pip install sql2nl-smollm2  (from plugins/sql2nl-smollm2)",
    )
