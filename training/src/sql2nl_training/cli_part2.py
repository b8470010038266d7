"""``sql2nl tune``, ``sql2nl review export|import`` and ``sql2nl compare`` (training, part 2)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("tune")
@click.option("--base", default=None, help="Base model (as for `sql2nl train`); e.g. scratch:tiny or a hub id.")
@click.option("--data", default=None, help="Training pairs (any format `sql2nl train` reads).")
@click.option("--valid", default=None, help="Validation pairs [default: databases split off --data].")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Study folder (study.db, trials/, trials.md/csv/png, best.json); run again to add trials.",
)
@click.option("--trials", "-n", type=int, default=10, show_default=True, help="Trials to add in this session.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A config or recipe holding the fixed fields (max_seq_length, engine...).",
)
@click.option(
    "--space",
    "space_file",
    type=click.Path(dir_okay=False),
    default=None,
    help='JSON search space, e.g. {"lora_r": ["categorical", [8, 16]], "learning_rate": ["float", 1e-5, 1e-3, true]}.',
)
@click.option("--max-steps", type=int, default=None, help="Budget per trial in optimizer steps.")
@click.option("--max-minutes", type=float, default=None, help="Budget per trial in minutes.")
@click.option("--eval-limit", type=int, default=200, show_default=True, help="Validation statements scored per trial.")
@click.option(
    "--bleu-weight", type=float, default=0.5, show_default=True, help="Objective = (1-w)*faithfulness + w*BLEU."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-progress", is_flag=True)
def tune_command(
    base,
    data,
    valid,
    out,
    trials,
    config_file,
    space_file,
    max_steps,
    max_minutes,
    eval_limit,
    bleu_weight,
    seed,
    no_progress,
):
    """Search LoRA rank/alpha, learning rate, batch size and epochs with Optuna; prints the best trial as JSON.

    \b
    sql2nl tune --base scratch:tiny --data train.jsonl --valid valid.jsonl --trials 20 --max-steps 200 --out tune/t
    sql2nl train --config tune/t/best.json --data train.jsonl --out runs/tuned
    """
    from sql2nl.errors import InvalidInputError

    from .config import TrainConfig
    from .tune import tune

    cfg = TrainConfig.from_json(config_file) if config_file else None
    space = None
    if space_file:
        try:
            space = json.loads(Path(space_file).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise InvalidInputError(f"Could not read the search space {space_file}: {e}.") from None
    summary = tune(
        base=base,
        data=data,
        valid=valid,
        out=out,
        trials=trials,
        config=cfg,
        space=space,
        max_steps=max_steps,
        max_minutes=max_minutes,
        eval_limit=eval_limit,
        bleu_weight=bleu_weight,
        seed=seed,
        progress=not no_progress,
    )
    click.echo(json.dumps(summary, ensure_ascii=False))


@click.group("review")
def review_group():
    """Human evaluation: export a rating sheet from a run, import the ratings into its report."""


@review_group.command("export")
@click.option("--run", "run", required=True, type=click.Path(file_okay=False), help="The run directory.")
@click.option("--n", "n", type=int, default=100, show_default=True, help="Validation items to sample.")
@click.option("--data", default=None, help="Pairs to sample from [default: RUN/data/valid.jsonl].")
@click.option("--out", default=None, help="Folder for the sheet [default: RUN/review].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--backend", "-b", default="transformers", show_default=True, help="Backend that loads the run.")
@click.option("--no-progress", is_flag=True)
def review_export(run, n, data, out, seed, backend, no_progress):
    """Write review.html (rate in any browser, offline) and ratings.csv (rate in a spreadsheet)."""
    from .review import export_review

    folder = export_review(run, n=n, data=data, out=out, seed=seed, backend=backend, progress=not no_progress)
    click.echo(f"{folder / 'review.html'}\n{folder / 'ratings.csv'}")


@review_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--run",
    "run",
    default=None,
    type=click.Path(file_okay=False),
    help="The run the ratings belong to [default: named in the CSVs].",
)
def review_import(files, run):
    """Fold rating CSVs (one per rater, or several raters in one) into the run's report and manifest."""
    from .review import import_ratings

    click.echo(json.dumps(import_ratings(list(files), run=run), ensure_ascii=False))


@click.command("compare")
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--data", default=None, help="Validation pairs for every run [default: the last run's validation split].")
@click.option("--out", default=None, help="Report folder [default: LASTRUN/compare].")
@click.option("--limit", type=int, default=None, help="Evaluate only the first N pairs.")
@click.option("--no-baseline", is_flag=True, help="Skip the rules describer's row.")
@click.option("--no-progress", is_flag=True)
def compare_command(runs, data, out, limit, no_baseline, no_progress):
    """Evaluate the stages of a multi-stage run (or any runs) on the same data; prints the table as JSON.

    \b
    sql2nl compare runs/general runs/ours --data our_valid.jsonl
    """
    from .stages import compare

    click.echo(
        json.dumps(
            compare(list(runs), data, out=out, limit=limit, baseline=not no_baseline, progress=not no_progress),
            ensure_ascii=False,
        )
    )


def register(cli) -> None:
    """Add ``tune``, ``review`` and ``compare`` to the ``sql2nl`` command group."""
    cli.add_command(tune_command)
    cli.add_command(review_group)
    cli.add_command(compare_command)
