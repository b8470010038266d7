"""sql2nl's training subpackage: data → LoRA fine-tuning → evaluation → artifacts for every backend."""

__version__ = "0.1.0"
