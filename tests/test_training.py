"""Training end to end on CPU: scratch:tiny → train → eval → merge/export → describe; overfit; resume after SIGTERM.

One tiny run is trained per module and shared: it overfits a handful of pairs, which proves the
loss masking and the prompt format (the model reproduces descriptions from the prompts the
backends render). Slow-ish (tens of seconds on a busy 2-core machine), hence ``slow``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from skips import require

require("torch")
require("trl")
require("sql2nl_training")

pytestmark = pytest.mark.slow

from training_pairs import MUSIC, SHOP_SCHOOL  # noqa: E402

from sql2nl_training.data import Pair  # noqa: E402

TRAIN = [dict(p) for p in SHOP_SCHOOL] + [
    {"sql": "SELEC broken FRM", "description": "a bad row, refused and reported", "db_id": "shop"},
]
VALID = [dict(p) for p in MUSIC]
GOOD = TRAIN[:-1]


def _write(tmp: Path):
    (tmp / "train.json").write_text(json.dumps(TRAIN))
    (tmp / "valid.jsonl").write_text("\n".join(json.dumps(p) for p in VALID) + "\n")
    return tmp / "train.json", tmp / "valid.jsonl"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A scratch:tiny model overfitted on six pairs through the default engine (Unsloth where it imports)."""
    from sql2nl_training import TrainConfig, train

    tmp = tmp_path_factory.mktemp("training")
    data, valid = _write(tmp)
    cfg = TrainConfig(
        base="scratch:tiny",
        data=str(data),
        valid=str(valid),
        out=str(tmp / "run"),
        max_steps=50,
        batch_size=6,
        learning_rate=5e-3,
        lora_r=32,
        lora_alpha=32,
        warmup_ratio=0.0,
        save_steps=25,
        logging_steps=5,
        seed=0,
    )
    return train(cfg, progress=False)


def _greedy(model, tok, sql: str, style: str = "statement") -> str:
    import torch

    from sql2nl.prompt import build_messages, render_prompt

    ids = tok(render_prompt(build_messages(sql, style=style), tok), return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(
            **ids, max_new_tokens=40, do_sample=False, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id
        )
    return tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True).strip()


def test_run_directory_follows_the_contract(run):
    from sql2nl.prompt import PROMPT_VERSION
    from sql2nl_training import TrainConfig

    m = json.loads((run / "manifest.json").read_text())
    assert m["format"] == "sql2nl-run/1" and m["status"] == "done"
    assert m["base_model"] == str(run / "base") and (run / "base" / "config.json").is_file()
    assert m["prompt_version"] == PROMPT_VERSION and m["languages"] == ["en"]
    assert m["artifacts"]["adapter"] == "adapter" and (run / "adapter" / "adapter_config.json").is_file()
    assert TrainConfig.from_json(run / "config.json").to_dict() == m["config"]
    assert m["data"]["bad_rows"] == 1 and "train.json[6]" in m["data"]["bad_examples"][0]
    assert m["data"]["train"] == 6 and m["data"]["valid"] == 3
    assert m["metrics"]["steps"] == 50 and m["metrics"]["train_loss"] < 1.0
    assert (run / "loss.png").stat().st_size > 1000 and "loss.png" in (run / "report.md").read_text()
    assert list((run / "checkpoints").glob("checkpoint-*"))
    assert not list(run.glob(".*tmp*")), "no temporary files left behind"


def test_overfitted_model_reproduces_its_pairs(run):
    """Loss on the description only + the shared prompt format ⇒ greedy decoding gives the descriptions back."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(run / "adapter")
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(run / "base"), run / "adapter").eval()
    got = [_greedy(model, tok, p["sql"], Pair(p["sql"], p["description"]).style) for p in GOOD]
    exact = sum(g == p["description"] for g, p in zip(got, GOOD))
    assert exact >= 5, list(zip(got, [p["description"] for p in GOOD]))


def test_merge_run_matches_the_adapter(run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sql2nl_training.export import merge_run

    merged = merge_run(run)
    assert merged == run / "merged" and (merged / "config.json").is_file()
    m = json.loads((run / "manifest.json").read_text())
    assert m["artifacts"]["merged"] == "merged" and m["artifacts"]["adapter"] == "adapter"
    tok = AutoTokenizer.from_pretrained(merged)
    model = AutoModelForCausalLM.from_pretrained(merged, dtype="float32").eval()
    got = [_greedy(model, tok, p["sql"], Pair(p["sql"], p["description"]).style) for p in GOOD[:3]]
    assert sum(g == p["description"] for g, p in zip(got, GOOD[:3])) >= 2, got
    assert merge_run(run) == merged  # idempotent: an existing merge is reused


def test_eval_through_transformers_backend(run, tmp_path):
    require("sql2nl_transformers", reason="the transformers backend plugin is not installed")
    from sql2nl_training.evaluation import evaluate

    m = evaluate(run, run.parent / "valid.jsonl", progress=False)
    assert {"bleu", "rouge_l", "faithfulness", "baseline", "by_construct"} <= set(m) and m["n"] == 3
    assert m["baseline"]["backend"] == "rules" and 0 <= m["faithfulness"] <= 100
    assert (run / "eval" / "report.html").is_file() and (run / "eval" / "constructs.png").is_file()
    man = json.loads((run / "manifest.json").read_text())
    assert man["metrics"]["eval"]["bleu"] == m["bleu"] and man["metrics"]["steps"] == 50


def test_train_pairs_through_transformers_backend_with_run_dir(run):
    require("sql2nl_transformers", reason="the transformers backend plugin is not installed")
    from sql2nl import describe_many

    ds = describe_many([p["sql"] for p in GOOD], backend="transformers", model=str(run), cache=False)
    assert sum(d.text == p["description"] for d, p in zip(ds, GOOD)) >= 4, [d.text for d in ds]


def test_export_gguf_and_describe_with_llamacpp(run):
    require("sql2nl_gguf", reason="the gguf export package is not installed")
    from sql2nl.rundir import read_manifest
    from sql2nl_gguf import export_run
    from sql2nl_gguf.tools import prepare_llama_cpp_tools

    exported = export_run(run, ("q8_0",), tools=prepare_llama_cpp_tools())
    m = read_manifest(run)
    assert m["artifacts"]["gguf"] == {"q8_0": f"gguf/{exported['quantizations']['q8_0']['file']}"}
    gg = run / m["artifacts"]["gguf"]["q8_0"]
    assert gg.is_file() and gg.stat().st_size > 10_000
    assert m["artifacts"]["merged"] == "merged" and m["artifacts"]["adapter"] == "adapter"
    require("sql2nl_llamacpp", reason="the llamacpp backend plugin is not installed")
    from sql2nl import describe_many

    ds = describe_many([p["sql"] for p in GOOD], backend="llamacpp", model=str(run), cache=False)
    assert sum(d.text == p["description"] for d, p in zip(ds, GOOD)) >= 3, [d.text for d in ds]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from sql2nl.cli import main; main()", *args]


def test_sigterm_then_resume_loses_nothing(tmp_path):
    """Kill a CLI run with SIGTERM after its first checkpoint; --resume finishes it with the same weights
    (and the same loss log) as a run that was never interrupted."""
    import torch
    from safetensors.torch import load_file

    from sql2nl_training import TrainConfig, train

    data, _ = _write(tmp_path)
    # long enough that the SIGTERM, sent within a 0.2 s poll of the first checkpoint (step 3), lands
    # while training: 12 steps took 0.5 s once layers were no longer recomputed, and a signal after
    # the last step found no handler
    steps = 60
    common = dict(
        base="scratch:tiny",
        data=str(data),
        valid_fraction=0.4,
        max_steps=steps,
        batch_size=2,
        learning_rate=5e-3,
        save_steps=3,
        logging_steps=1,
        engine="peft",
        seed=3,
    )
    ref = train(TrainConfig(out=str(tmp_path / "ref"), **common), progress=False)

    out = tmp_path / "killed"
    args = ["train", "--no-progress"] + [f"--{k.replace('_', '-')}={v}" for k, v in {**common, "out": out}.items()]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_cli(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not list((out / "checkpoints").glob("checkpoint-*/trainer_state.json")) and proc.poll() is None:
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 143, err[-2000:]
    assert "--resume" in err
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    assert not (out / "adapter").exists()

    res = subprocess.run(
        _cli("train", "--no-progress", "--out", str(out), "--resume"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "done" and m["metrics"]["steps"] == steps

    def losses(r):
        return [
            (h["step"], round(h["loss"], 4)) for h in json.loads((r / "log_history.json").read_text()) if "loss" in h
        ]

    assert losses(out) == losses(ref)
    a, b = (
        load_file(ref / "adapter" / "adapter_model.safetensors"),
        load_file(out / "adapter" / "adapter_model.safetensors"),
    )
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_gradient_checkpointing_follows_the_config(tmp_path):
    """Off means no layer recomputes its forward pass (TRL's SFTConfig would turn it on for all);
    ``checkpoint_layers=0.5`` recomputes only the first half of the decoder layers. Neither changes
    the losses."""
    from transformers import TrainerCallback

    from sql2nl_training import TrainConfig, train

    data, _ = _write(tmp_path)
    calls: dict[str, list[int]] = {}

    class CountForwards(TrainerCallback):
        """Forward calls per decoder layer in one training step; a checkpointed layer runs twice."""

        def __init__(self, name):
            self.name, self.n = name, []

        def on_train_begin(self, args, state, control, model=None, **kw):
            from transformers.modeling_layers import GradientCheckpointingLayer

            layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
            self.n = [0] * len(layers)
            for i, layer in enumerate(layers):
                # a pre-hook: the recompute stops early, after the last tensor it needs, so a post-hook
                # would never see it
                layer.register_forward_pre_hook(lambda *a, i=i: self.n.__setitem__(i, self.n[i] + 1))

        def on_step_end(self, args, state, control, **kw):
            calls.setdefault(self.name, list(self.n))

    common = dict(
        base="scratch:tiny",
        data=str(data),
        valid_fraction=0.4,
        max_steps=3,
        batch_size=2,
        learning_rate=5e-3,
        logging_steps=1,
        engine="peft",
        seed=3,
    )
    runs = {}
    for name, extra in {"off": {}, "half": dict(gradient_checkpointing=True, checkpoint_layers=0.5)}.items():
        runs[name] = train(
            TrainConfig(out=str(tmp_path / name), **common, **extra), progress=False, callbacks=[CountForwards(name)]
        )
    n = len(calls["off"])
    assert n >= 2 and calls["off"] == [1] * n
    half = (n + 1) // 2
    assert calls["half"] == [2] * half + [1] * (n - half)
    losses = lambda r: [h["loss"] for h in json.loads((r / "log_history.json").read_text()) if "loss" in h]  # noqa: E731
    assert losses(runs["half"]) == pytest.approx(losses(runs["off"]), rel=1e-4)


def test_checkpoint_layers_is_validated():
    from sql2nl.errors import Sql2NLError
    from sql2nl_training import TrainConfig

    for bad in (0, 1.5, -0.2):
        with pytest.raises(Sql2NLError, match="checkpoint_layers"):
            TrainConfig(base="scratch:tiny", data="-", out="-", checkpoint_layers=bad)
