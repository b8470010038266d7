"""A run's adapter → merged 16-bit model (``RUN/merged``), the input of the GGUF export.

>>> from sql2nl_training.export import merge_run                # doctest: +SKIP
>>> merge_run("runs/spider")                                    # -> Path("runs/spider/merged")

GGUF files come from ``sql2nl_gguf.export_run(run, ("q8_0", "q4_k_m"))``, which calls
:func:`merge_run` when the run has no merged model yet (training never imports the export package).

Merging uses Unsloth's ``save_pretrained_merged`` when Unsloth trained the run (and imports here),
else PEFT's ``merge_and_unload``. The merged folder appears in one rename, and the manifest's
``artifacts.merged`` is set only after it is complete.
"""

from __future__ import annotations

import json
from pathlib import Path

from sql2nl.errors import ModelError
from sql2nl.rundir import artifact, atomic_dir, read_manifest, update_manifest


def _merge_unsloth(adapter: Path, tmp: Path, max_seq_length: int) -> None:
    from unsloth import FastLanguageModel

    model, tok = FastLanguageModel.from_pretrained(
        model_name=str(adapter), max_seq_length=max_seq_length, dtype=None, load_in_4bit=False
    )
    model.save_pretrained_merged(str(tmp), tok, save_method="merged_16bit")


def _merge_peft(base: str, adapter: Path, tmp: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = json.loads((Path(base) / "config.json").read_text()) if (Path(base) / "config.json").is_file() else {}
    dtype = cfg.get("dtype") or cfg.get("torch_dtype")
    # 16-bit for models that are 16-bit already; scratch models trained in fp32 stay fp32 (tiny anyway)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=getattr(torch, dtype) if dtype else torch.bfloat16)
    model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    model.save_pretrained(tmp, safe_serialization=True)
    AutoTokenizer.from_pretrained(str(adapter)).save_pretrained(tmp)


def merge_run(run_dir: str | Path, *, engine: str | None = None, force: bool = False) -> Path:
    """Merge ``RUN/adapter`` into its base; write ``RUN/merged`` atomically; return its path.

    ``engine`` (``"unsloth"``/``"peft"``) overrides the one the run was trained with.
    """
    run = Path(run_dir).resolve()
    manifest = read_manifest(run)
    existing = artifact(run, "merged")
    if existing is not None and (existing / "config.json").is_file() and not force:
        return existing
    adapter = artifact(run, "adapter")
    if adapter is None or not (adapter / "adapter_config.json").is_file():
        raise ModelError(f"{run} has no trained adapter; finish training first (`sql2nl train --out {run} --resume`).")
    engine = engine or manifest.get("engine", "peft")
    if engine == "unsloth":
        try:
            import unsloth  # noqa: F401
        except Exception:  # trained with Unsloth elsewhere, merged here without it
            engine = "peft"
    max_len = int(manifest.get("config", {}).get("max_seq_length", 2048))
    with atomic_dir(run / "merged") as tmp:
        if engine == "unsloth":
            _merge_unsloth(adapter, tmp, max_len)
        else:
            _merge_peft(manifest["base_model"], adapter, tmp)
        if not (tmp / "config.json").is_file():
            raise ModelError(f"Merging {adapter} wrote no model; see the messages above.")
    update_manifest(run, artifacts={"merged": "merged"}, merged_with=engine)
    return run / "merged"
