"""Hyperparameter search with Optuna: LoRA rank/alpha, learning rate, batch size, epochs.

>>> from sql2nl_training.tune import tune                                  # doctest: +SKIP
>>> best = tune(base="scratch:tiny", data="train.jsonl", valid="valid.jsonl", trials=20, out="tune/t")
>>> best["recipe"]                                                         # tune/t/best.json

Each trial is a short training run (``max_steps``/``max_minutes`` budget) in ``OUT/trials/NNNN``,
scored on the validation pairs by the checker's faithfulness and BLEU: the objective is
``(1 - bleu_weight) * faithfulness + bleu_weight * BLEU`` (both 0–100), maximised. While a trial
trains, the validation loss is measured a few times and reported to Optuna's pruner (as
``-loss``, since the study maximises), so a trial that is clearly behind stops early.

The study lives in ``OUT/study.db`` (SQLite): running ``tune`` again with the same ``out`` adds
trials to it. ``OUT/trials.csv``, ``OUT/trials.md`` and ``OUT/trials.png`` show every trial;
``OUT/best.json`` is the best trial's config as a recipe for ``sql2nl train --config``.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sql2nl.errors import InvalidInputError, Sql2NLError
from sql2nl.rundir import atomic_write_json, atomic_write_text, read_manifest

from .config import TrainConfig
from .figures import save_figure

#: The search space: name -> ("int"|"float"|"categorical", low/choices, high, log). Override with ``space=``.
DEFAULT_SPACE: dict[str, list[Any]] = {
    "lora_r": ["categorical", [8, 16, 32, 64]],
    "lora_alpha_ratio": ["categorical", [0.5, 1.0, 2.0]],  # alpha = ratio * r (the scale alpha/r is what matters)
    "learning_rate": ["float", 1e-5, 5e-3, True],
    "batch_size": ["categorical", [4, 8, 16]],
    "epochs": ["float", 1.0, 4.0, False],
}
SEARCHED = (
    "lora_r",
    "lora_alpha",
    "lora_alpha_ratio",
    "learning_rate",
    "batch_size",
    "epochs",
    "lora_dropout",
    "warmup_ratio",
    "weight_decay",
)
STUDY = "sql2nl-tune"
COLUMNS = [
    "trial",
    "state",
    "objective",
    "faithfulness",
    "bleu",
    "rouge_l",
    "eval_loss",
    "steps",
    "lora_r",
    "lora_alpha",
    "learning_rate",
    "batch_size",
    "epochs",
    "seconds",
]


def _check_space(space: dict[str, list[Any]]) -> dict[str, list[Any]]:
    for name, spec in space.items():
        if name not in SEARCHED:
            raise InvalidInputError(f"Search space: {name!r} is not searchable; choose from {', '.join(SEARCHED)}.")
        ok = (
            isinstance(spec, list)
            and spec
            and spec[0] in ("int", "float", "categorical")
            and (
                spec[0] == "categorical"
                and len(spec) == 2
                and isinstance(spec[1], list)
                and spec[1]
                or spec[0] != "categorical"
                and len(spec) in (3, 4)
                and spec[1] <= spec[2]
            )
        )
        if not ok:
            raise InvalidInputError(
                f'Search space: {name!r} must be ["categorical", [choices]] or '
                f'["int"|"float", low, high(, log)], not {spec!r}.'
            )
    return space


def suggest(trial, base: TrainConfig, space: dict[str, list[Any]], out: Path) -> TrainConfig:
    """The trial's config: ``base`` with every searched field drawn from ``space``."""
    values: dict[str, Any] = {}
    for name, spec in space.items():
        if spec[0] == "categorical":
            values[name] = trial.suggest_categorical(name, spec[1])
        elif spec[0] == "int":
            values[name] = trial.suggest_int(
                name, int(spec[1]), int(spec[2]), log=bool(spec[3]) if len(spec) > 3 else False
            )
        else:
            values[name] = trial.suggest_float(
                name, float(spec[1]), float(spec[2]), log=bool(spec[3]) if len(spec) > 3 else False
            )
    ratio = values.pop("lora_alpha_ratio", None)
    r = int(values.get("lora_r", base.lora_r))
    if ratio is not None and "lora_alpha" not in values:
        values["lora_alpha"] = max(1, int(round(ratio * r)))
    return replace(base, **values, out=str(out))


class _Reporter:
    """Trainer callback: validation loss a few times per trial → ``trial.report``; prune when told to."""

    def __init__(self, trial, evaluations: int):
        self.trial = trial
        self.evaluations = max(1, evaluations)
        self.pruned_at: int | None = None
        self.reported: set[int] = set()

    def callback(self):
        from transformers import TrainerCallback

        me = self

        class Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                every = max(1, state.max_steps // me.evaluations) if state.max_steps > 0 else 10
                if state.global_step % every == 0 and state.global_step < state.max_steps:
                    control.should_evaluate = True
                return control

            def on_evaluate(self, args, state, control, metrics=None, **kw):
                loss = (metrics or {}).get("eval_loss")
                if loss is None or not math.isfinite(loss) or state.global_step in me.reported:
                    return control  # the final evaluation repeats the last step's
                me.reported.add(state.global_step)
                me.trial.report(-float(loss), state.global_step)
                if me.trial.should_prune():
                    me.pruned_at = state.global_step
                    control.should_training_stop = True
                return control

        return Callback()


def _objective_fn(
    base: TrainConfig,
    space,
    out: Path,
    valid_pairs,
    *,
    eval_limit: int | None,
    bleu_weight: float,
    evaluations: int,
    progress: bool,
    log: Callable[[str], None],
):
    import optuna

    from .evaluation import evaluate
    from .finetune import train

    def objective(trial) -> float:
        run = out / "trials" / f"{trial.number:04d}"
        if run.exists():  # a half-written trial of a killed session (numbers are never reused otherwise)
            shutil.rmtree(run)
        cfg = suggest(trial, base, space, run)
        trial.set_user_attr("config", cfg.to_dict())
        log(
            f"trial {trial.number}: r={cfg.lora_r} alpha={cfg.lora_alpha} lr={cfg.learning_rate:.2e} "
            f"batch={cfg.batch_size} epochs={cfg.epochs:.2f}"
        )
        reporter = _Reporter(trial, evaluations)
        train(cfg, progress=progress, log=lambda m: None, callbacks=[reporter.callback()])
        manifest = read_manifest(run)
        trial.set_user_attr("steps", manifest["metrics"].get("steps"))
        trial.set_user_attr("eval_loss", manifest["metrics"].get("eval_loss"))
        trial.set_user_attr("seconds", manifest["metrics"].get("train_seconds"))
        if reporter.pruned_at is not None:
            log(f"trial {trial.number}: pruned at step {reporter.pruned_at}")
            raise optuna.TrialPruned(f"validation loss behind other trials at step {reporter.pruned_at}")
        m = evaluate(run, valid_pairs, limit=eval_limit, baseline=False, progress=False)
        for k in ("faithfulness", "bleu", "rouge_l"):
            trial.set_user_attr(k, m[k])
        value = (1 - bleu_weight) * m["faithfulness"] + bleu_weight * m["bleu"]
        log(f"trial {trial.number}: faithfulness {m['faithfulness']:.2f}, BLEU {m['bleu']:.2f} -> {value:.2f}")
        return value

    return objective


def tune(
    *,
    base: str | None = None,
    data: str | None = None,
    out: str | Path,
    trials: int = 10,
    valid: str | None = None,
    config: TrainConfig | None = None,
    space: dict[str, list[Any]] | None = None,
    max_steps: int | None = None,
    max_minutes: float | None = None,
    eval_limit: int | None = 200,
    bleu_weight: float = 0.5,
    evaluations: int = 4,
    pruner=None,
    seed: int = 0,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run ``trials`` more trials of the study in ``out``; write the table, plot and best recipe.

    ``config`` holds every fixed field (base, data, max_seq_length...); ``base``/``data``/``valid``
    override it. ``max_steps``/``max_minutes`` are each trial's budget. Returns a summary with the
    best trial, its metrics and the recipe path.
    """
    import optuna

    log = log or (lambda m: print(m, file=sys.stderr))
    out = Path(out).resolve()
    fixed = (config or TrainConfig()).to_dict()
    fixed.update(
        {
            k: v
            for k, v in {
                "base": base,
                "data": data,
                "valid": valid,
                "max_steps": max_steps,
                "max_minutes": max_minutes,
            }.items()
            if v is not None
        }
    )
    fixed["out"] = str(out / "trials" / "base")
    cfg = TrainConfig.from_dict(fixed)
    if not cfg.data:
        raise InvalidInputError("Tuning needs data (--data).")
    if trials < 0:
        raise InvalidInputError("--trials cannot be negative.")
    if not 0 <= bleu_weight <= 1:
        raise InvalidInputError("--bleu-weight must be between 0 and 1.")
    space = _check_space(dict(space or DEFAULT_SPACE))
    out.mkdir(parents=True, exist_ok=True)

    # one split for every trial (and every later session of the study), so scores compare
    from .data import write_jsonl
    from .finetune import prepare_data

    split = out / "data"
    if not (split / "train.jsonl").is_file():
        train_pairs, valid_pairs, _ = prepare_data(cfg, log)
        write_jsonl(valid_pairs, split / "valid.jsonl")
        write_jsonl(train_pairs, split / "train.jsonl")
    from .data import load_pairs

    valid_pairs = load_pairs(split / "valid.jsonl").pairs
    # the split's training pairs already carry every addition (synthetic, renamed, repaired, teacher)
    cfg = replace(
        cfg,
        data=str(split / "train.jsonl"),
        valid=str(split / "valid.jsonl"),
        synthetic=0,
        rename_augment=0.0,
        repair_targets=False,
        drop_unfaithful=False,
        rules_teacher=0.0,
    )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(f"sqlite:///{out / 'study.db'}", heartbeat_interval=60, grace_period=180)
    try:  # a resumed study draws new random points instead of repeating the first session's
        earlier = len(optuna.load_study(study_name=STUDY, storage=storage).trials)
    except KeyError:
        earlier = 0
    study = optuna.create_study(
        study_name=STUDY,
        storage=storage,
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed + earlier),
        pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    study.set_user_attr("fixed_config", cfg.to_dict())
    study.set_user_attr("bleu_weight", bleu_weight)
    objective = _objective_fn(
        cfg,
        space,
        out,
        valid_pairs,
        eval_limit=eval_limit,
        bleu_weight=bleu_weight,
        evaluations=evaluations,
        progress=progress,
        log=log,
    )
    if trials:
        study.optimize(objective, n_trials=trials, catch=(Sql2NLError,))
    return write_results(study, out)


def rows(study) -> list[dict[str, Any]]:
    """One row per trial (best first among completed ones), the columns of :data:`COLUMNS`."""
    out = []
    for t in study.trials:
        c = t.user_attrs.get("config", {})
        value = t.value if t.state.name == "COMPLETE" else None  # a pruned trial's value is its last -loss
        out.append(
            {
                "trial": t.number,
                "state": t.state.name.lower(),
                "objective": _r(value),
                "faithfulness": t.user_attrs.get("faithfulness"),
                "bleu": t.user_attrs.get("bleu"),
                "rouge_l": t.user_attrs.get("rouge_l"),
                "eval_loss": t.user_attrs.get("eval_loss"),
                "steps": t.user_attrs.get("steps"),
                "lora_r": c.get("lora_r"),
                "lora_alpha": c.get("lora_alpha"),
                "learning_rate": c.get("learning_rate"),
                "batch_size": c.get("batch_size"),
                "epochs": _r(c.get("epochs")),
                "seconds": t.user_attrs.get("seconds"),
            }
        )
    done = sorted(
        (r for r in out if r["state"] == "complete"),
        key=lambda r: (-r["objective"], -(r["faithfulness"] or 0), -(r["bleu"] or 0)),
    )
    return done + [r for r in out if r["state"] != "complete"]


def _r(x):
    return None if x is None else round(float(x), 4)


def recipe(study, trial) -> dict[str, Any]:
    """The best trial's config as a recipe: no data or output paths, no per-trial budget."""
    cfg = dict(trial.user_attrs["config"])
    for k in ("data", "valid", "out"):
        cfg.pop(k, None)
    budget = study.user_attrs.get("fixed_config", {})
    cfg["max_steps"], cfg["max_minutes"] = -1, 0.0  # the trial budget is not part of the recipe
    about = (
        f"Best of {len(study.trials)} trials of `sql2nl tune` (trial {trial.number}: validation faithfulness "
        f"{trial.user_attrs.get('faithfulness')}, BLEU {trial.user_attrs.get('bleu')}; trial budget "
        f"max_steps={budget.get('max_steps')}, max_minutes={budget.get('max_minutes')}). "
        "Run: sql2nl train --config best.json --data train.jsonl --out runs/tuned"
    )
    return {"_about": about, **cfg}


def write_results(study, out: Path) -> dict[str, Any]:
    """``trials.csv``, ``trials.md``, ``trials.png`` and (when a trial completed) ``best.json`` in ``out``."""
    table = rows(study)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(table)
    atomic_write_text(out / "trials.csv", buf.getvalue())
    fmt = lambda v: "" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))  # noqa: E731
    md = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    md += ["| " + " | ".join(fmt(r[c]) for c in COLUMNS) + " |" for r in table]
    summary: dict[str, Any] = {
        "study": str(out / "study.db"),
        "trials": len(study.trials),
        "complete": sum(r["state"] == "complete" for r in table),
        "pruned": sum(r["state"] == "pruned" for r in table),
        "failed": sum(r["state"] == "fail" for r in table),
        "table": str(out / "trials.md"),
        "csv": str(out / "trials.csv"),
    }
    plot = _plot(study, out / "trials.png")
    if plot:
        summary["plot"] = str(plot)
    best = next(
        (t for t in study.trials if table and table[0]["state"] == "complete" and t.number == table[0]["trial"]), None
    )
    head = [
        f"# sql2nl tune: {summary['trials']} trials ({summary['complete']} complete, {summary['pruned']} pruned, "
        f"{summary['failed']} failed)",
        "",
        "Objective = (1 - w) * faithfulness + w * BLEU on the validation pairs, "
        f"w = {study.user_attrs.get('bleu_weight')}. Best first.",
        "",
    ]
    if best is not None:
        atomic_write_json(out / "best.json", recipe(study, best))
        summary.update(
            best_trial=best.number,
            objective=_r(best.value),
            recipe=str(out / "best.json"),
            faithfulness=best.user_attrs.get("faithfulness"),
            bleu=best.user_attrs.get("bleu"),
            params={
                k: best.user_attrs["config"][k]
                for k in ("lora_r", "lora_alpha", "learning_rate", "batch_size", "epochs")
            },
        )
        head += [f"Best: trial {best.number} → `best.json` (`sql2nl train --config {out / 'best.json'} ...`).", ""]
    if plot:
        md += ["", "![trials](trials.png)"]
    atomic_write_text(out / "trials.md", "\n".join(head + md) + "\n")
    return summary


def _plot(study, path: Path) -> Path | None:
    """Left: each trial's objective (pruned ones marked) and the best so far. Right: validation loss curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not study.trials:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=100)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    if done:
        a.plot([t.number for t in done], [t.value for t in done], "o", label="objective")
        best, run = [], -math.inf
        for t in done:
            run = max(run, t.value)
            best.append(run)
        a.step([t.number for t in done], best, where="post", label="best so far")
    pruned = [t.number for t in study.trials if t.state.name == "PRUNED"]
    if pruned:
        a.plot(pruned, [0] * len(pruned), "x", color="red", label="pruned")
    a.set_xlabel("trial")
    a.set_ylabel("objective (faithfulness/BLEU)")
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
    for t in study.trials:
        iv = sorted(t.intermediate_values.items())
        if iv:
            b.plot(
                [s for s, _ in iv],
                [-v for _, v in iv],
                "-o",
                ms=3,
                alpha=0.7,
                color="red" if t.state.name == "PRUNED" else None,
                label=f"trial {t.number}",
            )
    b.set_xlabel("step")
    b.set_ylabel("validation loss")
    b.grid(alpha=0.3)
    if len(study.trials) <= 12 and any(t.intermediate_values for t in study.trials):
        b.legend(fontsize=7)
    return save_figure(fig, path)
