"""``sql2nl train``, ``sql2nl eval`` and ``sql2nl split`` (``sql2nl export`` comes from the gguf package)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import MISSING, fields

import click

from .config import TrainConfig


def _option(f):
    """A click option for a :class:`TrainConfig` field, typed from its annotation, help from its metadata."""
    name = "--" + f.name.replace("_", "-")
    help_ = f.metadata.get("help", "")
    default = f.default if f.default is not MISSING else f.default_factory()
    help_ += f" [default: {','.join(default) if isinstance(default, list) else default}]"
    t = str(f.type)
    if t.startswith("bool"):
        return click.option(f"{name}/--no-{f.name.replace('_', '-')}", f.name, default=None, help=help_)
    kind = {"int": int, "float": float}.get(t.split(" ")[0], str)
    if f.name == "from_run":  # `sql2nl train --from runs/general ...`
        return click.option("--from", "--from-run", "from_run", default=None, help=help_.split(" [default")[0])
    if f.name in ("base", "data", "out"):
        help_ = help_.split(" [default")[0]
    return click.option(name, f.name, type=kind, default=None, help=help_)


def train_options(func):
    for f in reversed(fields(TrainConfig)):
        func = _option(f)(func)
    return func


@click.command("train")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A JSON config or recipe (training/recipes/*.json); options given here override it.",
)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint (its saved config).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option(
    "--gpus",
    type=int,
    default=None,
    help="Train on N GPUs of this host: torchrun starts one process per GPU (DDP, gradient sync, "
    "data sharded, one process writes). On a host without CUDA, N CPU processes (gloo).",
)
@train_options
def train_command(config_file, resume, no_progress, gpus, **opts):
    """Fine-tune a model on (SQL, description) pairs; writes a run directory (see docs/training.md).

    \b
    sql2nl train --base deepseek-ai/DeepSeek-R1-Distill-Llama-8B --data pairs.json --out runs/x
    sql2nl train --base scratch:small --data train.jsonl --valid valid.jsonl --out runs/s
    sql2nl train --out runs/x --resume          # after an interruption
    """
    from .finetune import TrainingInterrupted, train

    given = {k: v for k, v in opts.items() if v is not None}
    if gpus is not None and gpus < 1:
        raise click.BadParameter("must be at least 1", param_hint="--gpus")
    if resume:
        if not given.get("out"):
            raise click.UsageError("--resume needs --out (the run to continue).")
        cfg = TrainConfig(out=given["out"], data="(saved)")
    else:
        base = TrainConfig.from_json(config_file).to_dict() if config_file else {}
        cfg = TrainConfig.from_dict({**base, **given})
    if gpus and gpus > 1 and "LOCAL_RANK" not in os.environ:
        _check_processes(cfg, gpus, resume)  # a clear message here, not one traceback per process
        args = (
            (["--config", config_file] if config_file else [])
            + (["--resume"] if resume else [])
            + (["--no-progress"] if no_progress else [])
        )
        for k, v in given.items():
            flag = "--" + k.replace("_", "-")
            if isinstance(v, bool):
                args.append(flag if v else "--no-" + k.replace("_", "-"))
            else:
                args.append(f"{flag}={','.join(v) if isinstance(v, list) else v}")
        sys.exit(launch(gpus, args))
    try:
        run = train(cfg, resume=resume, progress=not no_progress)
    except TrainingInterrupted as e:
        click.echo(str(e), err=True)
        sys.exit(143)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one line from the main process
        click.echo(str(run))


def _check_processes(cfg: TrainConfig, gpus: int, resume: bool) -> None:
    """Refuse ``--gpus N`` before starting N processes: more GPUs than the host has, or a global
    batch (the run's, on resume) that N processes cannot share evenly."""
    from pathlib import Path

    from sql2nl.errors import InvalidInputError
    from sql2nl.rundir import is_run, read_manifest

    from .distributed import cuda_devices, global_batch_of, split_global_batch

    have = cuda_devices()
    if have and gpus > have:
        raise InvalidInputError(f"--gpus {gpus}: this host has {have} CUDA device(s).")
    saved = None
    if resume:
        run = Path(cfg.out)
        if not (run / "config.json").is_file():
            raise InvalidInputError(f"Nothing to resume in {run}: it has no config.json. Start without --resume.")
        cfg = TrainConfig.from_json(run / "config.json")
        saved = read_manifest(run).get("world_size") if is_run(run) else None
    split_global_batch(global_batch_of(cfg, gpus, saved), gpus, cfg.batch_size)


def launch(n: int, train_args: list[str]) -> int:
    """Run ``sql2nl train ARGS`` in ``n`` processes with torchrun (NVLink multicast kept off in NCCL);
    SIGTERM/SIGINT are passed on."""
    from .distributed import launch as run_processes

    return run_processes(n, ["-m", "sql2nl_training.launch", "train", *train_args])


@click.command("eval")
@click.option("--model", "-m", default=None, help="A run directory, or a model the backend loads (HF dir or hub id).")
@click.option("--data", required=True, help="Evaluation pairs (any format `sql2nl train --data` reads).")
@click.option("--out", default=None, help="Report folder [default: RUN/eval for a run, else ./sql2nl-eval].")
@click.option("--backend", "-b", default="transformers", show_default=True, help="Backend that generates.")
@click.option("--limit", type=int, default=None, help="Evaluate only the first N pairs.")
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--no-baseline", is_flag=True, help="Skip the rules describer's baseline row.")
@click.option("--no-progress", is_flag=True)
@click.option("--option", "-o", "options", multiple=True, help="Backend option key=value (repeatable).")
def eval_command(model, data, out, backend, limit, batch_size, no_baseline, no_progress, options):
    """Score a model: prints one JSON line of metrics (bleu, rouge_l, faithfulness...) and writes a report."""
    from sql2nl.clioptions import backend_options

    from .evaluation import evaluate

    m = evaluate(
        model,
        data,
        out=out,
        backend=backend,
        limit=limit,
        baseline=not no_baseline,
        progress=not no_progress,
        batch_size=batch_size,
        **backend_options(backend, None, None, options),
    )
    click.echo(json.dumps(m, ensure_ascii=False))


@click.command("split")
@click.option(
    "--data",
    "sources",
    multiple=True,
    required=True,
    help="Pairs to pool (any format `sql2nl train --data` reads); repeat to pool several files.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for train.jsonl, valid.jsonl and split.json (which databases went where).",
)
@click.option(
    "--holdout", type=float, default=0.15, show_default=True, help="Share of the databases held out for validation."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--tables", default=None, help="Spider/WikiSQL tables file, for formats that need one.")
def split_command(sources, out, holdout, seed, tables):
    """Pool pair files and split them by database: validation databases are unseen in training.

    \b
    sql2nl split --data spider/train.jsonl --data spider/valid.jsonl --holdout 0.15 --out data/spider-db
    sql2nl train --data data/spider-db/train.jsonl --valid data/spider-db/valid.jsonl ...
    """
    from .data import write_split

    click.echo(
        json.dumps(write_split(list(sources), out, holdout=holdout, seed=seed, tables=tables), ensure_ascii=False)
    )


def register(cli) -> None:
    """Add ``train`` and ``eval`` to the ``sql2nl`` command group."""
    cli.add_command(train_command)
    cli.add_command(eval_command)
    cli.add_command(split_command)
    from . import cli_part2  # tune, review, compare (training part 2)

    cli_part2.register(cli)
