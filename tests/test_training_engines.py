"""Which engine trains, said and recorded: Unsloth (the seed's engine) trains on CPU here, and a fall
back to PEFT is logged and written into the run manifest with its reason.

Unsloth 2026.10 needs no setting to train without a GPU: it finds none, says "training on CPU"
and runs its CPU backend (``UNSLOTH_FORCE_CPU=1`` would force it on a GPU machine).
"""

from __future__ import annotations

import json
import logging
import sys

import pytest
from skips import require

require("torch")
require("trl")
require("sql2nl_training")

from training_pairs import SHOP_SCHOOL  # noqa: E402

pytestmark = pytest.mark.slow


def _train(tmp_path, engine: str, caplog):
    from transformers import TrainerCallback

    from sql2nl_training import TrainConfig, train

    seen = {}

    class Look(TrainerCallback):
        """What the trainer trains, looked at through the Trainer's own callback API."""

        def on_train_begin(self, args, state, control, model=None, **kw):
            seen["model"] = model

    data = tmp_path / "train.json"
    data.write_text(json.dumps([dict(p) for p in SHOP_SCHOOL]))
    cfg = TrainConfig(
        base="scratch:tiny",
        data=str(data),
        out=str(tmp_path / "run"),
        max_steps=4,
        batch_size=6,
        learning_rate=5e-3,
        lora_r=8,
        lora_alpha=8,
        warmup_ratio=0.0,
        logging_steps=1,
        save_steps=50,
        seed=0,
        engine=engine,
    )
    with caplog.at_level(logging.INFO, logger="sql2nl.training"):
        run = train(cfg, progress=False, callbacks=[Look()])
    manifest = json.loads((run / "manifest.json").read_text())
    said = [r.getMessage() for r in caplog.records if r.name == "sql2nl.training"]
    return run, manifest, seen["model"], said


def _unsloth_built(model) -> bool:
    # Unsloth's loader gives the model methods of its own (merging, GGUF export, inference mode)
    # and replaces the causal-LM loss by its chunked cross entropy; stock PEFT does neither.
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return (
        all(hasattr(model, m) for m in ("save_pretrained_merged", "save_pretrained_gguf", "for_inference"))
        and getattr(inner, "_unsloth_cpu_chunked_ce", False) is True
    )


def test_training_through_unsloth_on_cpu(tmp_path, caplog):
    run, manifest, model, said = _train(tmp_path, "unsloth", caplog)
    assert manifest["engine"] == "unsloth"
    assert manifest["engine_choice"] == {"requested": "unsloth", "used": "unsloth", "why": "asked for"}
    assert _unsloth_built(model)
    assert said == ["training engine: unsloth (asked for)"]  # once
    losses = [h["loss"] for h in json.loads((run / "log_history.json").read_text()) if "loss" in h]
    assert manifest["status"] == "done" and len(losses) == 4 and losses[-1] < losses[0]  # it learned
    assert (run / "adapter" / "adapter_config.json").is_file()


def test_auto_picks_unsloth_where_it_imports(tmp_path, caplog):
    _, manifest, model, said = _train(tmp_path, "auto", caplog)
    assert manifest["engine_choice"] == {"requested": "auto", "used": "unsloth", "why": "it imports"}
    assert _unsloth_built(model) and said == ["training engine: unsloth (it imports)"]


def test_peft_when_asked_has_none_of_unsloths_changes(tmp_path, caplog):
    _, manifest, model, said = _train(tmp_path, "peft", caplog)
    assert manifest["engine"] == "peft"
    assert manifest["engine_choice"] == {"requested": "peft", "used": "peft", "why": "asked for"}
    assert not _unsloth_built(model) and said == ["training engine: peft (asked for)"]


def test_the_fall_back_to_peft_says_why(monkeypatch, caplog):
    from sql2nl.errors import BackendUnavailableError
    from sql2nl_training.engines import choose_engine

    monkeypatch.setitem(sys.modules, "unsloth", None)  # as on a machine where it cannot be imported
    printed = []
    with caplog.at_level(logging.INFO, logger="sql2nl.training"):
        choice = choose_engine("auto", printed.append)
    assert choice["requested"] == "auto" and choice["used"] == "peft"
    assert choice["why"].startswith("Unsloth cannot be imported (ModuleNotFoundError")
    assert printed == [f"training engine: peft ({choice['why']})"]
    assert [r.getMessage() for r in caplog.records if r.name == "sql2nl.training"] == printed
    with pytest.raises(BackendUnavailableError, match="sql2nl-training\\[unsloth\\]"):
        choose_engine("unsloth")
