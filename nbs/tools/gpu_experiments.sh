#!/usr/bin/env bash
# The protocol's experiments (issue 21) on one GPU machine, in one prepared command under a deadline. Run from the
# repository root on a machine with CUDA:
#   bash nbs/tools/gpu_experiments.sh                  # experiments 1, 2, 4 and 5 at the reduced scale
#   SCALE=full DEADLINE=3000 bash nbs/tools/gpu_experiments.sh
# Each experiment runs in its own process group on its own CPU cores (`taskset`, so that every worker gets one torch
# thread) with workers sharing the GPU, until it ends or DEADLINE seconds pass. The results folders are resumable: a
# folder that the deadline cut short is finished by rerunning `linceiver_experiment NAME --out FOLDER` (on any
# device; experiment.json records each run's device); one in progress in the checkout (nbs/results/<exp>/<scale>-new,
# see resume_runs.sh) is resumed from there when this tree's commit is the one that started it. Every minute, and at the end, the folders are packed into
# $OUT/runs.tgz (default: runs/gpu/runs.tgz), so that a run stopped from outside still returns what it finished.
#
# What travels to a bare machine sits in the git-ignored .gpu/ (see nbs/tools/gpu_pack.sh): .gpu/whl holds the
# pure-Python packages the machine lacks (installed into /tmp/site), .gpu/data the datasets, xz-compressed.
set -uo pipefail
scale=${SCALE:-reduced} deadline=${DEADLINE:-420} device=${DEVICE:-cuda}
plan=${PLAN:-"adaptive_rank:5 k_sweep:5 tiers:3 modalities:3"}  # name:workers, one torch thread a worker
out=${OUT:-runs/gpu}; work=${WORK:-/tmp/gpu-runs}
mkdir -p "$out" "$work"
declare -A results=([k_sweep]=exp_k [lengths]=exp_lengths [adaptive_rank]=exp_adaptive [ten_clients]=exp_fed
                    [modalities]=exp_modal [tiers]=exp_tiers [twenty_clients]=exp_fed20)  # an experiment's folder under nbs/results
head=$(git rev-parse HEAD 2>/dev/null || echo none)  # a run is resumed only by the code that started it
for item in $plan; do  # a run in progress in the checkout (resume_runs.sh's folders) is resumed, not started anew
  name=${item%%:*} kept=nbs/results/${results[${item%%:*}]:-none}/$scale-new
  [ -f "$kept/experiment.json" ] && [ ! -e "$work/$name" ] || continue
  recorded=$(python3 -c 'import json, sys
print(next((r["git_commit"] for r in reversed(json.load(open(sys.argv[1]))["runs"]) if r.get("git_commit")), "none"))' \
    "$kept/experiment.json")
  if [ "$recorded" = "$head" ]; then
    mkdir -p "$work/$name" && cp "$kept"/experiment.json "$kept"/results.csv "$work/$name"/ 2>/dev/null
    echo "$name: resuming the run in $kept"
  else echo "$name: not resuming $kept (its code is $recorded, this tree's $head): a new run"; fi
done
if compgen -G '.gpu/whl/*.whl' > /dev/null && [ -z "${NO_WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
if compgen -G '.gpu/data/*' > /dev/null; then  # the datasets, unpacked where torchvision and linceiver look
  data=/tmp/data
  for f in .gpu/data/*-ubyte.xz; do
    name=$(basename "$f" .xz); mkdir -p "$data/${name%%-*}/raw"; xz -dc "$f" > "$data/${name%%-*}/raw/${name#*-}"
  done
  for f in .gpu/data/*.tar.xz; do tar xJf "$f" -C "$data"; done
  export LINCEIVER_DATA=$data
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
python3 -c "import torch, linceiver; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

pack() { tar czf "$out/runs.tgz.part" -C "$work" . && mv "$out/runs.tgz.part" "$out/runs.tgz"; }
cpu=0 pids=()
for item in $plan; do
  name=${item%%:*} jobs=${item##*:}
  cores=$cpu-$((cpu + jobs - 1)); cpu=$((cpu + jobs))
  pin="taskset -c $cores"; $pin true 2>/dev/null || pin=""  # without taskset: the threads of the split
  seeds=${SEEDS:-0,1,2} precision=${PRECISION:-fp32}  # a resumed run keeps its own
  [ -f "$work/$name/experiment.json" ] && read -r seeds precision < <(python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); print(",".join(map(str, d["seeds"])), d["precision"])' "$work/$name/experiment.json")
  echo "$(date +%T) $name: $jobs workers on cores $cores, seeds $seeds, $precision"
  $pin timeout --signal=INT --kill-after=20 "$deadline" python3 nbs/tools/console.py linceiver_experiment "$name" \
    --scale "$scale" --seeds "$seeds" --precision "$precision" --device "$device" --jobs "$jobs" --out "$work/$name" \
    > "$work/$name.log" 2>&1 &
  pids+=($!)
done
(while sleep 60; do pack; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null; done) & packer=$!
for pid in "${pids[@]}"; do wait "$pid"; done
kill "$packer" 2>/dev/null; wait "$packer" 2>/dev/null  # no pack still writing when the last one starts
for item in $plan; do
  name=${item%%:*}
  echo "== $name: $(($(wc -l < "$work/$name/results.csv" 2>/dev/null || echo 1) - 1)) cells done"
  tail -c 1500 "$work/$name.log" | tr '\r' '\n' | grep -av '^ *$' | tail -4
done
pack
