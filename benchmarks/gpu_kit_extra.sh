#!/usr/bin/env bash
# Adds to ./.whl/ what benchmarks/smollm2_gpu.py needs on the lent GPU machine beyond
# ../shared/tools/gpu-kit.sh (unsloth, trl, datasets...): the pure-Python wheels the machine's image
# lacks (sqlglot, gguf, rouge-score + nltk, defusedxml, cachetools, platformdirs, and a few small
# ones the image may hold),
# this project's own wheels (sql2nl, sql2nl-training, sql2nl-transformers), and the Spider pairs
# (.whl/spider_s2t: train.jsonl, valid.jsonl, tables.json; no databases). Then it proves the kit
# complete for Python 3.12: every wheel installs with --no-index into a fresh --target, and every
# requirement of what the driver imports is met by the kit or by the image (its package list as
# KINDS.md gives it). Prints the kit's size.
#
#   ../shared/tools/gpu-kit.sh && benchmarks/gpu_kit_extra.sh        (from the project root)
#   device call: python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
#                && export PYTHONPATH=/tmp/site
#
# Not in the kit: sql2nl-gguf (needs llama-cpp-python; nothing on the GPU exports GGUF) and optuna
# (only `sql2nl tune` imports it; the driver runs its own small grid).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
dest=.whl
spider=${SQL2NL_SPIDER_DIR:-$(cd .. && pwd)/shared/data/spider_s2t}
[ -f "$spider/train.jsonl" ] || spider=/work/shared/data/spider_s2t
mkdir -p "$dest"
git check-ignore -q "$dest" || echo '/.whl/' >> "$(git rev-parse --git-common-dir)/info/exclude"

py=python3
plat=(--only-binary=:all: --python-version 3.12 --implementation cp --abi cp312
      --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any)
$py -m pip download -q --no-deps "${plat[@]}" -d "$dest" \
  sqlglot==30.30.0 pluggy==1.7.0 click==8.5.1 tqdm==4.70.1 gguf==0.19.0 \
  sacrebleu==2.6.0 portalocker==4.4.2 tabulate==0.10.0 colorama==0.4.6 \
  nltk==3.10.4 defusedxml==0.7.1 absl-py==2.5.1 cachetools==8.0.2 platformdirs==4.14.9
# rouge-score is an sdist only on PyPI: build its (pure-Python) wheel here
ls "$dest"/rouge_score-0.1.2-*.whl >/dev/null 2>&1 || $py -m pip wheel -q --no-deps -w "$dest" rouge-score==0.1.2
# this project, from this working tree
rm -f "$dest"/sql2nl-*.whl "$dest"/sql2nl_training-*.whl "$dest"/sql2nl_transformers-*.whl
$py -m pip wheel -q --no-deps -w "$dest" . ./training ./plugins/sql2nl-transformers
mkdir -p "$dest/spider_s2t"
cp "$spider/train.jsonl" "$spider/valid.jsonl" "$spider/tables.json" "$dest/spider_s2t/"

# --- completeness, for Python 3.12 -------------------------------------------------------------
py312=$(command -v python3.12 || true)
if [ -z "$py312" ] || ! "$py312" -V >/dev/null 2>&1; then py312=$(PYENV_VERSION=3.12.1 command -v python3.12 || true); fi
export PYENV_VERSION=${PYENV_VERSION:-3.12.1}
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
"$py312" -m pip install -q --no-index --no-deps --no-compile --target "$target" "$dest"/*.whl
"$py312" - "$target" <<'PY'
import re, sys
from pathlib import Path
from pip._vendor.packaging.requirements import Requirement

target = Path(sys.argv[1])
# The GPU image's packages (.library/device/KINDS.md, read on a machine running it, 2026-11-17).
IMAGE = """absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build
certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock
flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx
huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta jax jaxlib jaxtyping jinja2 joblib
kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown
markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch
mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro nvidia-ml-py onnx onnx-ir
onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint
packaging pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf
psutil pyarrow pybind11 py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark
pytest-cov pytest-mock pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich
sacrebleu safetensors scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece
sentence-transformers setuptools shellingham simplejson six sortedcontainers statsmodels sympy tabulate
tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch
torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton typer
typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp""".split()
# Declared but never imported by the driver: optuna and krippendorff (sql2nl tune / review only).
UNUSED = {"optuna", "krippendorff"}
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()  # noqa: E731
kit = {}
for info in target.glob("*.dist-info"):
    meta = (info / "METADATA").read_text(encoding="utf-8")
    name = norm(re.search(r"^Name: (.+)$", meta, re.M).group(1))
    kit[name] = [Requirement(r) for r in re.findall(r"^Requires-Dist: (.+)$", meta, re.M)]
env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
       "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix", "extra": "",
       "implementation_name": "cpython", "platform_python_implementation": "CPython"}
provided = set(kit) | {norm(n) for n in IMAGE}
missing, seen, todo = {}, set(), ["sql2nl", "sql2nl-training", "sql2nl-transformers", "trl", "datasets"]
while todo:
    name = todo.pop()
    if name in seen:
        continue
    seen.add(name)
    for req in kit.get(name, []):
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        dep = norm(req.name)
        if dep in UNUSED:
            continue
        if dep not in provided:
            missing.setdefault(dep, []).append(name)
        elif dep in kit:
            todo.append(dep)
print(f"kit: {len(kit)} distributions installed into a fresh Python 3.12 target with --no-index; "
      f"checked the requirements of {len(seen)} that the driver imports")
if missing:
    sys.exit("MISSING (neither in the kit nor in the GPU image): "
             + "; ".join(f"{d} (needed by {', '.join(sorted(set(w)))})" for d, w in sorted(missing.items())))
print("complete: every requirement is in the kit or in the GPU image")
PY
# the core runs from the kit alone (no image packages needed): import and describe with Python 3.12
PYTHONPATH="$target" "$py312" -c "import sql2nl; print('python3.12 + kit:', sql2nl.describe('SELECT name FROM users WHERE age > 18').text)"
du -sh "$dest"
du -ch "$dest"/*.whl | tail -1 | sed 's/total/wheels/'
