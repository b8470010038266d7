"""sql2nl's training subpackage: data → LoRA fine-tuning → evaluation → artifacts for every backend.

>>> from sql2nl_training import TrainConfig, train, evaluate    # doctest: +SKIP
>>> run = train(TrainConfig(base="scratch:tiny", data="pairs.json", out="runs/t", max_steps=50))
>>> evaluate(run, "valid.jsonl")["bleu"]

Heavy libraries (torch, transformers, unsloth) load only when a function that needs them runs.
"""

from .config import TrainConfig

__version__ = "0.1.0"
__all__ = ["TrainConfig", "train", "evaluate", "merge_run", "export_run"]


def __getattr__(name):
    if name == "train":
        from .finetune import train
        return train
    if name == "evaluate":
        from .evaluation import evaluate
        return evaluate
    if name in ("merge_run", "export_run"):
        from . import export
        return getattr(export, name)
    raise AttributeError(name)
