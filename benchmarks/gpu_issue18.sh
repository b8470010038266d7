#!/usr/bin/env bash
# Issue 18 on the lent `nvidia-h200-x2` kind: sets the machine up, then runs benchmarks/gpu_issue18.py
# (every argument is passed on; --out is required). Run from anywhere; works from the project root.
#
#   - installs the wheels of .whl/ (../shared/tools/gpu-kit.sh + benchmarks/gpu_kit_extra.sh) into
#     /tmp/site unless that was done by an earlier call on the same (warm) machine; the working
#     tree's own code comes first on PYTHONPATH (the project's wheels only bring the entry points);
#   - keeps the Spider pairs the kit carries (.whl/spider_s2t) in /tmp for a later call;
#   - assembles SmolLM2-135M's GGUF file from the two parts ../shared/tools/base-kit.sh makes:
#     .base/1/part travels with the first call (saved to /tmp), .base/2/part with the second;
#   - keeps NVLink multicast off (NCCL_NVLS_ENABLE=0 and friends) unless already set;
#   - nothing is fetched from the network.
#
# Two calls, back to back (the machine stays warm about 30 s; call 2 needs call 1's /tmp):
#   call 1: carry [".whl", ".base/1"]  command: bash benchmarks/gpu_issue18.sh --stages scaling --out $OUT
#   call 2: carry [".base/2"]          command: bash benchmarks/gpu_issue18.sh --stages real --out $OUT
# If call 2 finds a fresh machine (it says the environment lacks the training stack), repeat call 1
# with --stages setup (seconds: wheels and the first part into /tmp), then call 2 again at once.
# One call (no real model: the real stage then trains scratch:small and says so):
#   carry [".whl"]                     command: bash benchmarks/gpu_issue18.sh --out $OUT
# CPU test of the whole path (gloo, tiny models):  SQL2NL_WHEELS=none bash benchmarks/gpu_issue18.sh --tiny --out /tmp/i18
set -uo pipefail
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0} TORCH_SYMM_MEM_DISABLE_MULTICAST=${TORCH_SYMM_MEM_DISABLE_MULTICAST:-1} \
       NVSHMEM_DISABLE_NVLS=${NVSHMEM_DISABLE_NVLS:-1}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
wheels=${SQL2NL_WHEELS:-.whl}
site=${SQL2NL_SITE:-/tmp/site}
py=${PYTHON:-python3}
if ls "$wheels"/*.whl >/dev/null 2>&1 && [ ! -f "$site/.sql2nl-kit" ]; then
  echo "installing $(ls "$wheels"/*.whl | wc -l) wheels into $site"
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$wheels"/*.whl \
    || { echo "wheel install failed" >&2; exit 1; }
  touch "$site/.sql2nl-kit"
fi
[ -d "$site" ] && [ -f "$site/.sql2nl-kit" ] && export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH="$PWD/src:$PWD/training/src:$PWD/plugins/sql2nl-transformers/src${PYTHONPATH:+:$PYTHONPATH}"
if [ -d "$wheels/spider_s2t" ] && [ ! -f /tmp/spider_s2t/train.jsonl ]; then cp -r "$wheels/spider_s2t" /tmp/ 2>/dev/null || true; fi
if [ -f .base/1/part ]; then cp .base/1/part /tmp/base.part1; fi
if [ -f .base/2/part ]; then
  if [ -f /tmp/base.part1 ]; then cat /tmp/base.part1 .base/2/part > /tmp/smollm2.gguf && echo "assembled /tmp/smollm2.gguf ($(du -h /tmp/smollm2.gguf | cut -f1))"
  else echo "note: .base/2/part came without /tmp/base.part1 (a fresh machine?): the real stage falls back to scratch:small" >&2; fi
fi
"$py" -c "import torch, trl, datasets, sql2nl, sql2nl_training" || { echo "the Python environment lacks the training stack (carry .whl)" >&2; exit 1; }
exec "$py" benchmarks/gpu_issue18.py "$@"
