#!/usr/bin/env bash
# Issue 18 on the lent `nvidia-h200-x2` kind: sets the machine up, then runs benchmarks/gpu_issue18.py
# (every argument is passed on; --out is required). Run from anywhere; works from the project root.
#
#   - installs the wheels of .whl/ (../shared/tools/gpu-kit.sh + benchmarks/gpu_kit_extra.sh) into
#     /tmp/site unless that was done by an earlier call on the same (warm) machine; the working
#     tree's own code comes first on PYTHONPATH (the project's wheels only bring the entry points);
#   - keeps the Spider pairs the kit carries (.whl/spider_s2t) in /tmp for a later call;
#   - finds SmolLM2-135M's GGUF file at .base/SmolLM2-135M-Instruct.Q4_1.gguf (where the lead puts it
#     on the machine: `cat .base/1/part .base/2/part > .base/SmolLM2-135M-Instruct.Q4_1.gguf`, the two
#     parts of ../shared/tools/base-kit.sh); if it is not there but both parts are, it assembles it the
#     same way; a part carried alone is kept in /tmp for the next call (.base/1 in call 1, .base/2 in 2);
#   - keeps NVLink multicast off (NCCL_NVLS_ENABLE=0 and friends) unless already set;
#   - gives gpu_issue18.py the call's deadline: no stage starts, and every stage ends, inside
#     $SQL2NL_CALL_S seconds (default 540) from this script's start, wheel installation included;
#   - nothing is fetched from the network.
#
# Two calls of at most 560 s (GPU_COMMANDS.md of the ddp branch has the exact lines):
#   call A: carry [".whl"]  command: bash benchmarks/gpu_issue18.sh --stages scaling --out $OUT
#   call B: carry [".whl"]  command: bash benchmarks/gpu_issue18.sh --stages real --out $OUT
#           (the GGUF file already on the machine; else also carry .base/1 or .base/2 as above)
# Without the GGUF file the real stage trains scratch:small and says so in issue18.md.
# CPU test of the whole path (gloo, tiny models):  SQL2NL_WHEELS=none bash benchmarks/gpu_issue18.sh --tiny --out /tmp/i18
set -uo pipefail
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0} TORCH_SYMM_MEM_DISABLE_MULTICAST=${TORCH_SYMM_MEM_DISABLE_MULTICAST:-1} \
       NVSHMEM_DISABLE_NVLS=${NVSHMEM_DISABLE_NVLS:-1}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
wheels=${SQL2NL_WHEELS:-.whl}
site=${SQL2NL_SITE:-/tmp/site}
py=${PYTHON:-python3}
# (skipped when an earlier call on this warm machine installed the kit there: ours, or the SmolLM2 driver's)
installed() { [ -f "$site/.sql2nl-kit" ] || { [ -d "$site/sql2nl_training" ] && [ -d "$site/trl" ] && [ -d "$site/sqlglot" ]; }; }
if ls "$wheels"/*.whl >/dev/null 2>&1 && ! installed; then
  echo "installing $(ls "$wheels"/*.whl | wc -l) wheels into $site"
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$wheels"/*.whl \
    || { echo "wheel install failed" >&2; exit 1; }
  touch "$site/.sql2nl-kit"
fi
# /tmp/site from this kit, or from an earlier call that installed the same wheels there (the SmolLM2 calls)
installed && export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH="$PWD/src:$PWD/training/src:$PWD/plugins/sql2nl-transformers/src${PYTHONPATH:+:$PYTHONPATH}"
if [ -d "$wheels/spider_s2t" ] && [ ! -f /tmp/spider_s2t/train.jsonl ]; then cp -r "$wheels/spider_s2t" /tmp/ 2>/dev/null || true; fi
gguf=.base/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -s "$gguf" ]; then
  [ -f .base/1/part ] && cp .base/1/part /tmp/base.part1
  [ -f .base/2/part ] && cp .base/2/part /tmp/base.part2
  if [ -f /tmp/base.part1 ] && [ -f /tmp/base.part2 ]; then
    mkdir -p .base && cat /tmp/base.part1 /tmp/base.part2 > "$gguf.tmp" && mv "$gguf.tmp" "$gguf" && echo "assembled $gguf ($(du -h "$gguf" | cut -f1))"
  fi
fi
[ -s "$gguf" ] && export SQL2NL_SMOLLM2_GGUF=${SQL2NL_SMOLLM2_GGUF:-$PWD/$gguf}
# the call's deadline, counted from this script's start (in --tiny CPU mode only when SQL2NL_CALL_S is set)
case " $* " in *" --tiny "*) tiny=1 ;; *) tiny=0 ;; esac
if [ -z "${SQL2NL_CALL_DEADLINE:-}" ] && { [ "$tiny" = 0 ] || [ -n "${SQL2NL_CALL_S:-}" ]; }; then
  export SQL2NL_CALL_DEADLINE=$(( $(date +%s) - SECONDS + ${SQL2NL_CALL_S:-540} ))
fi
"$py" -c "import torch, trl, datasets, sql2nl, sql2nl_training" || { echo "the Python environment lacks the training stack (carry .whl)" >&2; exit 1; }
exec "$py" benchmarks/gpu_issue18.py "$@"
