"""sql2nl's training subpackage: data → LoRA fine-tuning → evaluation → artifacts for every backend.

>>> from sql2nl_training import TrainConfig, train, evaluate    # doctest: +SKIP
>>> run = train(TrainConfig(base="scratch:tiny", data="pairs.json", out="runs/t", max_steps=50))
>>> evaluate(run, "valid.jsonl")["bleu"]

GGUF files of a run come from the export package: ``sql2nl_gguf.export_run(run, ("q8_0",))``
(it merges the adapter through :func:`merge_run` first when needed).

Heavy libraries (torch, transformers, unsloth) load only when a function that needs them runs.
"""

from .config import TrainConfig

__version__ = "0.1.0"
__all__ = ["TrainConfig", "train", "evaluate", "merge_run"]


def __getattr__(name):
    if name == "train":
        from .finetune import train

        return train
    if name == "evaluate":
        from .evaluation import evaluate

        return evaluate
    if name == "merge_run":
        from .export import merge_run

        return merge_run
    raise AttributeError(name)
