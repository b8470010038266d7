"""sql2nl's ``transformers`` backend: Hugging Face models and LoRA adapters.

Importing this package is cheap: torch, transformers and peft load when the backend is first built.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
