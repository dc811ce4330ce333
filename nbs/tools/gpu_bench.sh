#!/usr/bin/env bash
# The speed issue's GPU rows, in one prepared command (about 5 minutes on one H100), the quickest first. Run from the
# repository root on a machine with CUDA (DEVICE=cpu tries it here). It writes the runs that the targets table of
# nbs/07b_bench_results.ipynb looks up:
#   results/bench-cuda-bf16-fmnist   28x28 images at the fmnist preset's widths, batch 64: images per second
#   results/bench-cuda-bf16          token workload, n = 4,096 and 16,384, batch 8: the step time
#   results/bench-cuda-bf16-b64      token workload, n = 16,384 and 65,536, batch 64: time and memory ratios
#   results/bench-cuda-fp32-image    image workload, every side, fp32: the other precision
# On a machine without the package installed, pure-Python dependencies travel as wheels in .gpu/whl/ (made by
# nbs/tools/gpu_pack.sh); they are installed into /tmp/site first.
set -euo pipefail
if compgen -G '.gpu/whl/*.whl' > /dev/null && [ -z "${NO_WHEELS:-}" ]; then  # NO_WHEELS=1: this machine's own
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
out=${OUT:-nbs}/results
bench() { python3 nbs/tools/console.py linceiver_bench --device "${DEVICE:-cuda}" --no_peer "$@"; }
bench --precision bf16 --workload image --ns 784 --ks 64 --batch_size 64 --m 64 --d 64 --depth 2 --c 64 \
      --out "$out/bench-cuda-bf16-fmnist"
bench --precision bf16 --ns 4096,16384 --ks 64 --out "$out/bench-cuda-bf16"
bench --precision bf16 --ns 16384,65536 --ks 64 --batch_size 64 --out "$out/bench-cuda-bf16-b64"
bench --precision fp32 --workload image --ks 64 --out "$out/bench-cuda-fp32-image"
