"""``sql2nl export``: HF model directory or training run -> GGUF files, Ollama Modelfile, manifest."""

from __future__ import annotations

import json
import sys

import click


@click.command("export")
@click.option("--model", "model_dir", type=click.Path(file_okay=False), help="Merged Hugging Face model directory.")
@click.option(
    "--run",
    "run_dir",
    type=click.Path(file_okay=False),
    help="Training run directory (uses RUN/merged, merging the adapter if needed; writes RUN/gguf).",
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output directory (with --model).")
@click.option(
    "--gguf",
    "quants",
    default="f16,q8_0",
    show_default=True,
    help="Comma-separated types: f16, bf16, q8_0, q4_k_m, q5_k_m, q6_k...",
)
@click.option(
    "--method",
    type=click.Choice(["auto", "unsloth", "direct"]),
    default="auto",
    show_default=True,
    help="unsloth: Unsloth's save_pretrained_gguf; direct: llama.cpp converter + quantize; auto: unsloth if installed.",
)
@click.option(
    "--tools",
    type=click.Path(file_okay=False),
    help="Prepared llama.cpp tool folder (default $SQL2NL_LLAMA_CPP_TOOLS, else cache; prepared on demand).",
)
@click.option(
    "--prepare-tools",
    "prepare_dir",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[DIR]",
    help="Only prepare the llama.cpp tool folder (in DIR, or the cache) and print its path; "
    "copy it to an offline machine and point --tools at it.",
)
@click.option(
    "--sdist",
    type=click.Path(dir_okay=False, exists=True),
    help="A downloaded llama-cpp-python sdist to prepare the tools from (no pip download).",
)
@click.option(
    "--lora-gguf",
    "lora_out",
    type=click.Path(dir_okay=False),
    metavar="OUT.gguf",
    help="Convert a LoRA adapter (--adapter DIR or --run RUN) to a GGUF LoRA for --base instead "
    "of exporting a whole model; llama.cpp applies it at load (llamacpp backend option lora=).",
)
@click.option(
    "--adapter", "adapter_dir", type=click.Path(file_okay=False), help="PEFT adapter directory (with --lora-gguf)."
)
@click.option(
    "--base", "base", type=click.Path(), help="The adapter's base model: HF directory or GGUF file (with --lora-gguf)."
)
@click.option(
    "--lora-outtype",
    type=click.Choice(["f16", "f32", "bf16", "q8_0"]),
    default="f16",
    show_default=True,
    help="Tensor type of the GGUF LoRA.",
)
@click.option("--no-verify", is_flag=True, help="Skip tokenizer parity and greedy agreement checks.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def export_command(
    model_dir,
    run_dir,
    out_dir,
    quants,
    method,
    tools,
    prepare_dir,
    sdist,
    lora_out,
    adapter_dir,
    base,
    lora_outtype,
    no_verify,
    as_json,
):
    """Export a model to GGUF (+ Ollama Modelfile and manifest), verified against the original.

    \b
    sql2nl export --model merged/ --gguf f16,q8_0,q4_k_m --out gguf/
    sql2nl export --run runs/my-run --gguf q4_k_m
    sql2nl export --prepare-tools ./llama-tools     # on a machine with PyPI; then --tools ./llama-tools
    sql2nl export --lora-gguf lora.gguf --run runs/smollm2 --base SmolLM2-135M-Instruct.Q4_1.gguf
    """
    from .export import export, export_run
    from .tools import prepare_llama_cpp_tools

    if prepare_dir is not None:
        folder = prepare_llama_cpp_tools(prepare_dir or None, sdist=sdist)
        click.echo(str(folder))
        if not (model_dir or run_dir):
            return
        tools = tools or str(folder)
    if lora_out or adapter_dir:
        _export_lora(lora_out, adapter_dir or run_dir, base, model_dir, lora_outtype, tools, sdist, as_json)
        return
    if bool(model_dir) == bool(run_dir):
        raise click.UsageError("Give exactly one of --model DIR (with --out DIR) or --run RUN_DIR.")
    if model_dir and not out_dir:
        raise click.UsageError("--model needs --out DIR.")
    if sdist and not tools:
        tools = str(prepare_llama_cpp_tools(sdist=sdist))

    from tqdm.auto import tqdm

    # Steps, not bytes: converting, each quantization and each check take seconds to many minutes.
    with tqdm(desc="sql2nl export", unit=" step", file=sys.stderr, bar_format="{desc}: {n} steps, {elapsed}") as bar:

        def progress(msg: str) -> None:
            bar.set_description_str(f"sql2nl export: {msg}")
            bar.update(1)

        kw = dict(method=method, verify=not no_verify, tools=tools, progress=progress)
        manifest = export_run(run_dir, quants, **kw) if run_dir else export(model_dir, out_dir, quants, **kw)
    if as_json:
        click.echo(json.dumps(manifest, indent=2, ensure_ascii=False))
        return
    where = (run_dir + "/gguf") if run_dir else out_dir
    for q, e in manifest["quantizations"].items():
        agree = e.get("greedy_agreement") or {}
        extra = f", greedy agreement {agree['token_agreement']:.0%}" if agree else ""
        click.echo(f"{q:8s} {where}/{e['file']} ({e['bytes'] / 1e6:.1f} MB{extra})")
    click.echo(f"Modelfile: {where}/Modelfile   (ollama create NAME -f {where}/Modelfile)")


def _export_lora(out, adapter, base, model_dir, outtype, tools, sdist, as_json) -> None:
    from .lora import export_lora
    from .tools import prepare_llama_cpp_tools

    if not out:
        raise click.UsageError("--adapter converts a LoRA adapter: give --lora-gguf OUT.gguf too.")
    if not adapter or model_dir:
        raise click.UsageError("--lora-gguf needs the adapter: --adapter DIR or --run RUN (not --model).")
    if not base:
        raise click.UsageError("--lora-gguf needs --base: the model the adapter was trained on (HF directory or GGUF).")
    if sdist and not tools:
        tools = str(prepare_llama_cpp_tools(sdist=sdist))
    info = export_lora(adapter, base, out, outtype=outtype, tools=tools)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(
        f"{out} ({info['bytes'] / 1e6:.1f} MB, LoRA r={info['rank']} alpha={info['alpha']:g}; "
        f"use it with -b llamacpp -m BASE -o lora={out})"
    )
