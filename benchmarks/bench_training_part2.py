"""Training part 2 figures: what a second stage and a tuned config gain on the shared Spider validation pairs.

    python benchmarks/bench_training_part2.py --quick            # CPU, scratch:tiny, minutes
    python benchmarks/bench_training_part2.py --size mini         # CPU, scratch:mini, longer
    python benchmarks/bench_training_part2.py --size small --general-steps 3000 --team-steps 600 --trials 12   # GPU

Scenario (the issue's): stage 1 trains on broad data (Spider's training pairs), stage 2 continues
from it on one "team's" own schemas: the training pairs of four Spider databases (kept out of
stage 1) plus synthetic pairs generated from those schemas (rules describer as teacher). Every
row is scored on those databases' validation pairs, the same data for all: the rules describer,
stage 1 alone, stage 2, and a model trained on the team data only (what stage 1 buys). Then a
short Optuna search over stage 2's hyperparameters on the same data. Scratch models are small and
random-initialised, so absolute scores are low; the gains between rows are the point.
Writes benchmarks/out/training_part2/ (runs, compare.md, trials.md) and prints a markdown summary.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPIDER = ROOT.parent / "shared" / "data" / "spider_s2t"
TEAM = ("college_2", "college_1", "allergy_1", "sakila_1")


def _jsonl(path: Path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _write(rows, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="scratch:tiny, few steps (a CPU check)")
    ap.add_argument("--size", default="mini", help="scratch size (tiny, mini, small, base)")
    ap.add_argument("--general", type=int, default=2000, help="Spider training pairs for stage 1")
    ap.add_argument("--general-steps", type=int, default=300)
    ap.add_argument("--team-steps", type=int, default=120)
    ap.add_argument("--synthetic", type=int, default=300, help="synthetic pairs from the team's schemas")
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--trial-steps", type=int, default=60)
    ap.add_argument("--eval-limit", type=int, default=60)
    ap.add_argument("--engine", default="peft")
    ap.add_argument("--lr", type=float, default=2e-3, help="learning rate of both stages")
    ap.add_argument("--reuse", action="store_true", help="keep finished runs in --out (rerun only what is missing)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "training_part2"))
    a = ap.parse_args(argv)
    if a.quick:
        a.size, a.general, a.general_steps, a.team_steps, a.synthetic = "tiny", 300, 40, 20, 60
        a.trials, a.trial_steps, a.eval_limit = 2, 10, 20

    import shutil

    from sql2nl_training import TrainConfig
    from sql2nl_training.stages import compare
    from sql2nl_training.synthetic import from_spider_tables, generate_many
    from sql2nl_training.tune import tune

    out = Path(a.out)
    if not a.reuse:
        shutil.rmtree(out, ignore_errors=True)
    rng = random.Random(0)
    # Spider's s2t split shares databases between train.jsonl and valid.jsonl; the team's databases
    # are kept out of stage 1 entirely, so stage 1 has never seen their schemas.
    general = [r for r in _jsonl(SPIDER / "train.jsonl") if r["db_id"] not in TEAM]
    rng.shuffle(general)
    # the team's own pairs: its databases' training pairs (db_id dropped so that training keeps them
    # although validation uses the same schemas, which is the point of a second stage) + synthetic ones
    team_train = [
        {"sql": r["sql"], "description": r["description"]} for r in _jsonl(SPIDER / "train.jsonl") if r["db_id"] in TEAM
    ]
    team_valid = [r for r in _jsonl(SPIDER / "valid.jsonl") if r["db_id"] in TEAM]
    specs = [s for s in from_spider_tables(SPIDER / "tables.json") if s.name in TEAM]
    synth = [{"sql": p.sql, "description": p.description} for p in generate_many(specs, a.synthetic, seed=0)]
    files = {
        "general": _write(general[: a.general], out / "data" / "general.jsonl"),
        "team": _write(team_train + synth, out / "data" / "team.jsonl"),
        "team_valid": _write(team_valid, out / "data" / "team_valid.jsonl"),
    }
    hidden = {"tiny": 64, "mini": 256, "small": 512, "base": 1024}.get(a.size, 256)
    common = dict(
        engine=a.engine,
        lora_r=hidden,
        lora_alpha=hidden,
        train_embeddings=True,
        batch_size=16,
        learning_rate=a.lr,
        warmup_ratio=0.03,
        max_seq_length=384,
        save_steps=10_000,
        logging_steps=20,
        seed=0,
    )
    from sql2nl.rundir import is_run

    def train(cfg, **kw):  # with --reuse, a finished run is kept
        from sql2nl_training import train as _train

        return Path(cfg.out) if a.reuse and is_run(cfg.out) else _train(cfg, **kw)

    t0 = time.perf_counter()
    runs = out / "runs"
    g = train(
        TrainConfig(
            base=f"scratch:{a.size}",
            data=files["general"],
            valid_fraction=0.05,
            out=str(runs / "general"),
            max_steps=a.general_steps,
            **common,
        ),
        progress=False,
    )
    t_general = time.perf_counter() - t0
    ours = train(
        TrainConfig(
            from_run=str(g),
            data=files["team"],
            valid=files["team_valid"],
            out=str(runs / "ours"),
            max_steps=a.team_steps,
            **common,
        ),
        progress=False,
    )
    # the team data alone, from the same kind of scratch model and tokenizer (stage 1's base, untrained)
    alone = train(
        TrainConfig(
            base=str(g / "base"),
            data=files["team"],
            valid=files["team_valid"],
            out=str(runs / "team-only"),
            max_steps=a.team_steps,
            **common,
        ),
        progress=False,
    )
    t_train = time.perf_counter() - t0
    cmp = compare([g, ours], files["team_valid"], out=out / "compare", limit=a.eval_limit, progress=False)
    solo = compare(
        [alone], files["team_valid"], out=out / "compare-team-only", limit=a.eval_limit, baseline=False, progress=False
    )["rows"][0]
    solo["stage"] = "team data only (no stage 1), same steps"

    # a short search over stage 2's hyperparameters, from the same stage 1, on the same validation pairs
    t1 = time.perf_counter()
    space = {
        "lora_r": ["categorical", [hidden // 4, hidden]],
        "learning_rate": ["float", 3e-4, 5e-3, True],
        "batch_size": ["categorical", [8, 16]],
    }
    shutil.rmtree(out / "tune", ignore_errors=True)
    summary = tune(
        config=TrainConfig(from_run=str(g), **{**common, "max_steps": a.trial_steps}),
        data=files["team"],
        valid=files["team_valid"],
        out=out / "tune",
        trials=a.trials,
        space=space,
        eval_limit=a.eval_limit,
        progress=False,
        log=lambda m: print(m, file=sys.stderr),
    )
    t_tune = time.perf_counter() - t1

    lines = [
        f"scratch:{a.size}, engine {a.engine}, lr {a.lr}; stage 1: {a.general} Spider pairs, {a.general_steps} steps "
        f"({t_general:.0f} s); stage 2: {len(team_train)} real + {len(synth)} synthetic team pairs, {a.team_steps} steps; "
        f"scored on {cmp['rows'][0]['n']} held-out team statements. Training {t_train:.0f} s, tuning {t_tune:.0f} s.",
        "",
        "| describer | faithfulness | BLEU | ROUGE-L | gain over the row above |",
        "|---|---|---|---|---|",
    ]
    for r in cmp["rows"] + [solo]:
        gn = r.get("gain")
        lines.append(
            f"| {r['stage']} | {r['faithfulness']:.2f} | {r['bleu']:.2f} | {r['rouge_l']:.2f} | "
            + (f"{gn['faithfulness']:+.2f} / {gn['bleu']:+.2f} / {gn['rouge_l']:+.2f}" if gn else "")
            + " |"
        )
    lines += [
        "",
        f"Tuning stage 2 ({summary['trials']} trials of {a.trial_steps} steps, {summary['pruned']} pruned): "
        f"best trial {summary.get('best_trial')} {json.dumps(summary.get('params'))} -> faithfulness "
        f"{summary.get('faithfulness')}, BLEU {summary.get('bleu')} (table: {out / 'tune' / 'trials.md'})",
    ]
    print("\n".join(lines))
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
