"""benchmarks/smollm2_gpu.py, the issue-15 GPU driver, in the parts that need no model: what its
bundle brings back (and in how many pieces), and that a second call skips what the first finished.
The whole driver runs on the CPU with ``--tiny`` (minutes; see benchmarks/RESULTS.md)."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from skips import require

require("sql2nl_training")

DRIVER = Path(__file__).resolve().parents[1] / "benchmarks" / "smollm2_gpu.py"


@pytest.fixture(scope="module")
def driver():
    spec = importlib.util.spec_from_file_location("smollm2_gpu", DRIVER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _files(parts: list[Path]) -> set[str]:
    data = b"".join(p.read_bytes() for p in sorted(parts))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name for m in tar.getmembers() if m.isfile()}


def test_bundle_keeps_results_and_the_final_adapter_in_parts_under_16_mib(driver, tmp_path):
    out = tmp_path / "out"
    files = {
        "results/summary.json": b"{}",
        "results/summary.md": b"# x",
        "data/spider-db/valid.jsonl": b"{}\n",
        "eval-final/report.md": b"r",
        "eval-final/report.html": b"<p>",
        "eval-final/samples.jsonl": b"{}\n",
        "runs/final/manifest.json": b"{}",
        "runs/final/loss.png": b"png",
        "runs/final/adapter/adapter_config.json": b"{}",
        "runs/final/adapter/adapter_model.safetensors": os.urandom(20 << 20),
        "runs/final/checkpoints/checkpoint-10/optimizer.pt": b"o",
        "runs/final/merged/model.safetensors": b"m",
        "runs/grid-r8/adapter/adapter_model.safetensors": b"a",
        "runs/grid-r8/manifest.json": b"{}",
        "gguf-bases/abc-v1/model.safetensors": b"w",
    }
    for rel, data in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    parts = driver.bundle(out, tmp_path / "back")
    assert len(parts) == 2 and all(p.stat().st_size <= 15 * 2**20 for p in parts)  # the device returns <= 16 MiB a file
    kept = {n.removeprefix("smollm2/") for n in _files(parts)}
    assert kept == {
        "results/summary.json",
        "results/summary.md",
        "data/spider-db/valid.jsonl",
        "eval-final/report.md",
        "eval-final/samples.jsonl",
        "runs/final/manifest.json",
        "runs/final/loss.png",
        "runs/final/adapter/adapter_config.json",
        "runs/final/adapter/adapter_model.safetensors",
        "runs/grid-r8/manifest.json",
    }
    (out / "runs/final/adapter/adapter_model.safetensors").write_bytes(b"small now")
    again = driver.bundle(out, tmp_path / "back")  # a later stage's bundle replaces the earlier one
    assert [p.name for p in again] == ["smollm2-results.tgz"] and sorted((tmp_path / "back").iterdir()) == again


def test_a_second_call_skips_finished_stages(driver, tmp_path, capsys):
    spider = tmp_path / "spider"
    spider.mkdir()
    rows = [
        {
            "sql": f"SELECT name FROM t{d} WHERE id = {i}",
            "description": f"The name in t{d} with id {i}.",
            "db_id": f"db{d}",
        }
        for d in range(20)
        for i in range(4)
    ]
    (spider / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[::2]))
    (spider / "valid.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[1::2]))
    args = [
        "--gguf",
        "unused.gguf",
        "--spider",
        str(spider),
        "--out",
        str(tmp_path / "out"),
        "--only",
        "split",
        "--bundle-dir",
        str(tmp_path / "back"),
    ]
    assert driver.main(args) == 0
    res = json.loads((tmp_path / "out" / "results" / "summary.json").read_text())
    assert res["split"]["databases"] == {"train": 17, "valid": 3} and res["split"]["sources_shared_databases"] == 20
    assert (
        "The shared train/valid files share 20 databases" in (tmp_path / "out" / "results" / "summary.md").read_text()
    )
    assert driver.main(args) == 0
    assert "split: done earlier" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        driver.main(args[:-4] + ["--only", "nonsense"])


def test_build_adapter_finds_the_final_run_and_its_scores_in_the_unpacked_bundle(driver, tmp_path):
    """plugins/sql2nl-smollm2/build_adapter.py takes the bundle as it comes back from the GPU."""
    spec = importlib.util.spec_from_file_location(
        "build_adapter", Path(__file__).resolve().parents[1] / "plugins" / "sql2nl-smollm2" / "build_adapter.py"
    )
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    out = tmp_path / "out"
    rules = {"n": 710, "bleu": 25.1, "bleu_single": 14.0, "rouge_l": 50.2, "faithfulness": 99.1}
    tuned = {"n": 710, "bleu": 37.3, "bleu_single": 21.5, "rouge_l": 58.0, "faithfulness": 93.4}
    summary = {
        "split": {
            "pairs": {"train": 5629, "valid": 1342},
            "databases": {"train": 119, "valid": 21},
            "holdout": 0.15,
            "seed": 0,
            "statements": {},
            "sources_shared_databases": 140,
        },
        "base": {**dict(rules, bleu=3.0), "by_construct": {"joins": {}}},
        "final": {
            "train": {
                "engine": "unsloth",
                "steps": 352,
                "train_seconds": 201.5,
                "useful_tok_s": 9000.0,
                "train_loss": 1.1,
                "eval_loss": 1.3,
            },
            "eval": {**tuned, "by_construct": {"joins": {}}, "rules": {**rules, "by_construct": {}}},
        },
        "machine": {"gpu": "NVIDIA H200"},
    }
    for rel, text in {
        "results/summary.json": json.dumps(summary),
        "runs/final/manifest.json": "{}",
        "runs/final/adapter/adapter_config.json": "{}",
    }.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
    parts = driver.bundle(out, tmp_path / "back")
    with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts)), mode="r:gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    for given in (tmp_path / "unpacked", tmp_path / "unpacked" / "smollm2"):  # the folder tar made, or the one above
        assert build.find_run(given) == (tmp_path / "unpacked/smollm2/runs/final", tmp_path / "unpacked/smollm2")
    assert build.find_run(tmp_path / "unpacked/smollm2/runs/final") == (tmp_path / "unpacked/smollm2/runs/final", None)
    m = build.bundle_metrics(tmp_path / "unpacked" / "smollm2")
    assert m["unseen_databases"] == {"fine_tuned": tuned, "rules": rules, "base_zero_shot": dict(rules, bleu=3.0)}
    assert m["split"]["valid_databases"] == 21 and m["training_run"]["gpu"] == "NVIDIA H200"
    table = "\n".join(build.score_table(m["unseen_databases"], None, m["split"]))
    assert "| fine-tuned, greedy (transformers) | 710 | 37.3 | 21.5 | 58.0 | 93.4 |" in table
    assert "1342 pairs over 21 databases" in table
    with pytest.raises(SystemExit, match="neither a training run"):
        build.find_run(tmp_path / "back")  # the packed parts themselves: unpack first
    del summary["final"]["eval"]
    (tmp_path / "unpacked/smollm2/results/summary.json").write_text(json.dumps(summary))
    with pytest.raises(SystemExit, match="no evaluation of the final run"):
        build.bundle_metrics(tmp_path / "unpacked" / "smollm2")
