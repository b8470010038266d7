"""Multi-stage fine-tuning: a run that starts from an earlier run, its lineage, and stage-by-stage comparison.

>>> from sql2nl_training import TrainConfig, train                          # doctest: +SKIP
>>> general = train(TrainConfig(base="...", data="spider.jsonl", out="runs/general"))
>>> ours = train(TrainConfig(from_run="runs/general", data="our_pairs.jsonl", out="runs/ours"))
>>> [s["run"] for s in lineage(ours)]
['/…/runs/general', '/…/runs/ours']
>>> compare([general, ours], "our_valid.jsonl")["rows"]                     # same data, every stage

A later stage starts from the earlier run's *merged* model (``FROM/merged``, written by
``merge_run`` once and reused), with fresh LoRA adapters and its own config: rank, learning rate
and epochs may differ between stages, and every backend loads the result like any other run
(base model = the earlier stage's merged model, plus this stage's adapter).

The manifest's ``stages`` list holds the *earlier* stages, oldest first, each as it was when the
later stage began (run, base model, data, config, metrics); the run's own record is the manifest
itself, so :func:`lineage` appends it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sql2nl.errors import InvalidInputError, ModelError
from sql2nl.rundir import atomic_write_json, atomic_write_text, read_manifest

from .figures import save_figure

METRICS = ("faithfulness", "bleu", "rouge_l")


def stage_record(run: str | Path, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a later stage keeps of ``run``: where it is, what it started from, its data, config and metrics."""
    run = Path(run).resolve()
    m = manifest if manifest is not None else read_manifest(run)
    cfg = m.get("config", {})
    return {
        "run": str(run),
        "base_model": m.get("base_model"),
        "from_run": cfg.get("from_run"),
        "data": {**m.get("data", {}), "train_file": cfg.get("data"), "valid_file": cfg.get("valid")},
        "config": cfg,
        "metrics": m.get("metrics", {}),
    }


def lineage(run: str | Path) -> list[dict[str, Any]]:
    """Every stage that led to ``run``, oldest first, ending with ``run`` itself."""
    m = read_manifest(run)
    return list(m.get("stages", [])) + [stage_record(run, m)]


def starting_point(
    from_run: str | Path, log: Callable[[str], None] = print
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """(model dir to start from, the new run's ``stages``, the earlier run's config) for ``--from``.

    Merges the earlier run's adapter into ``FROM/merged`` when that is not there yet.
    """
    from .export import merge_run

    src = Path(from_run).resolve()
    m = read_manifest(src)
    if m.get("status", "done") != "done":
        raise ModelError(
            f"{src} has not finished training (status {m.get('status')!r}); "
            f"finish it first (`sql2nl train --out {src} --resume`)."
        )
    merged = src / m["artifacts"]["merged"] if m.get("artifacts", {}).get("merged") else None
    if merged is None or not (merged / "config.json").is_file():
        log(f"merging {src.name}'s adapter into {src / 'merged'} (the next stage's starting point)")
        merged = merge_run(src)
    return str(merged), lineage(src), m.get("config", {})


def compare(
    runs: Sequence[str | Path],
    data: str | Path | None = None,
    *,
    out: str | Path | None = None,
    limit: int | None = None,
    baseline: bool = True,
    progress: bool = True,
    batch_size: int = 8,
    **backend_options: Any,
) -> dict[str, Any]:
    """Evaluate each run on the same validation pairs; a table with each stage's gain over the one before.

    ``backend_options`` go to the generating backend (e.g. ``compile=False``, ``max_new_tokens=``).

    ``data`` defaults to the last run's own validation split (``RUN/data/valid.jsonl``). Writes
    ``compare.md``, ``compare.json`` and ``compare.png`` to ``out`` (default ``LASTRUN/compare``);
    each run's evaluation report goes to ``out/<run name>``. Returns ``{"data", "rows", "report"}``.
    """
    from .evaluation import evaluate

    if not runs:
        raise InvalidInputError("Give at least one run directory to compare.")
    paths = [Path(r).resolve() for r in runs]
    for p in paths:
        read_manifest(p)
    data = Path(data) if data else paths[-1] / "data" / "valid.jsonl"
    if not data.is_file():
        raise InvalidInputError(f"No validation data at {data}; pass --data.")
    out_dir = Path(out) if out else paths[-1] / "compare"
    rows: list[dict[str, Any]] = []
    for k, run in enumerate(paths):
        m = evaluate(
            run,
            data,
            out=out_dir / f"{k + 1}-{run.name}",
            limit=limit,
            baseline=baseline and k == 0,
            progress=progress,
            batch_size=batch_size,
            **backend_options,
        )
        if "baseline" in m:
            rows.append(
                {
                    "stage": "rules describer (baseline)",
                    "run": None,
                    "n": m["baseline"]["n"],
                    **{x: m["baseline"][x] for x in METRICS},
                }
            )
        prev = next((r for r in reversed(rows) if r["run"]), None)
        row = {"stage": f"{k + 1}. {run.name}", "run": str(run), "n": m["n"], **{x: m[x] for x in METRICS}}
        if prev:
            row["gain"] = {x: round(m[x] - prev[x], 2) for x in METRICS}
        rows.append(row)
    result = {"data": str(data), "rows": rows, "report": str(out_dir / "compare.md")}
    atomic_write_json(out_dir / "compare.json", result)
    plot = _plot(rows, out_dir / "compare.png")
    lines = [
        f"# Stages compared on `{data}`",
        "",
        f"{rows[-1]['n']} distinct statements; scores 0–100, gain = change from the stage before.",
        "",
        "| stage | faithfulness | BLEU | ROUGE-L | gain (faith / BLEU / ROUGE-L) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        g = r.get("gain")
        gain = f"{g['faithfulness']:+.2f} / {g['bleu']:+.2f} / {g['rouge_l']:+.2f}" if g else ""
        lines.append(f"| {r['stage']} | {r['faithfulness']:.2f} | {r['bleu']:.2f} | {r['rouge_l']:.2f} | {gain} |")
    if plot:
        lines += ["", "![stages](compare.png)"]
    lineage_rows = lineage(paths[-1])
    lines += ["", "## Lineage of the last stage", ""]
    for s in lineage_rows:
        c = s["config"]
        lines.append(
            f"- `{s['run']}`: from `{s['from_run'] or c.get('base')}`, data `{s['data'].get('train_file')}` "
            f"({s['data'].get('read', '?')} pairs read), "
            f"LoRA r={c.get('lora_r')}, lr={c.get('learning_rate')}, "
            f"{'max_steps=' + str(c['max_steps']) if c.get('max_steps', -1) > 0 else 'epochs=' + str(c.get('epochs'))}; "
            f"metrics {json.dumps({k: v for k, v in s['metrics'].items() if k in ('steps', 'eval_loss', 'eval')})}"
        )
    atomic_write_text(out_dir / "compare.md", "\n".join(lines) + "\n")
    return result


def _plot(rows: list[dict[str, Any]], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    w = 0.8 / len(rows)
    for j, r in enumerate(rows):
        ax.bar([i + j * w for i in range(len(METRICS))], [r[x] for x in METRICS], w, label=r["stage"])
    ax.set_xticks([i + w * (len(rows) - 1) / 2 for i in range(len(METRICS))], ["faithfulness", "BLEU", "ROUGE-L"])
    ax.set_ylim(0, 100)
    ax.set_ylabel("score (0–100)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)
