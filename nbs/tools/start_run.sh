#!/usr/bin/env bash
# Start a long experiment the way resume_runs.sh resumes it: from a git worktree pinned to the current commit (so that
# work on the checkout never changes the code under the run), into nbs/results/<folder>/<scale>-new/ (kept in the
# checkout, so the next session finds it and resume_runs.sh resumes it). Waits first while another experiment runs,
# so runs can be queued one after another on a 2-core machine. Run from the repository root, in the background:
#   nohup setsid bash nbs/tools/start_run.sh lengths exp_lengths > start_lengths.log 2>&1 &
# Arguments: NAME (a key of EXPERIMENTS), FOLDER (under nbs/results/), then SCALE (default reduced) and SEEDS
# (default 0,1,2); JOBS workers (default 2). DRY=1 prints the command and starts nothing. GROW=1 grows a finished
# run instead: nbs/results/<folder>/<scale>/ is copied to <scale>-new/ and resumed there from HEAD, with the seeds and
# precision it records, so the cells its plan gained since (a new kind of E, say) run and the finished ones stay; move
# the copy back when it is done (a copy the run refuses, having added nothing, is removed).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: start_run.sh NAME FOLDER [SCALE] [SEEDS]  (e.g. start_run.sh lengths exp_lengths)"; exit 2; }
name=$1 folder=$2 scale=${3:-reduced} seeds=${4:-0,1,2} jobs=${JOBS:-2} precision=fp32
root=$PWD python=${PYTHON:-$PWD/.venv/bin/python}
[ -f "$root/nbs/tools/console.py" ] || { echo "start_run.sh: run it from the repository root"; exit 2; }
git diff --quiet HEAD -- linceiver || { echo "start_run.sh: linceiver/ has uncommitted changes; the run would not be the commit it records: commit them first"; exit 2; }
out=$root/nbs/results/$folder/$scale-new
[ ! -e "$out/experiment.json" ] || { echo "start_run.sh: $out holds a run already: resume it with nbs/tools/resume_runs.sh $out"; exit 2; }
finished=$root/nbs/results/$folder/$scale
if [ -n "${GROW:-}" ]; then
  [ -f "$finished/experiment.json" ] || { echo "start_run.sh: GROW=1 grows a finished run, and $finished holds none"; exit 2; }
  [ ! -e "$out" ] || { echo "start_run.sh: $out exists already: resume it with nbs/tools/resume_runs.sh, or remove it"; exit 2; }
  read -r seeds precision < <("$python" -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(",".join(map(str, d["seeds"])), d["precision"])' "$finished/experiment.json")  # the finished run's own
fi
[ -n "${LINCEIVER_DATA:-}" ] || export LINCEIVER_DATA=$(cd ../shared/data 2>/dev/null && pwd)  # as .ci/run does
commit=$(git rev-parse HEAD)
tree=${WORKTREES:-/tmp/linceiver-worktrees}/$commit
command=("$python" "$root/nbs/tools/console.py" linceiver_experiment "$name" --scale "$scale" --seeds "$seeds" --precision "$precision" --jobs "$jobs" --out "$out" --quiet)
if [ -n "${DRY:-}" ]; then echo "(in $tree) ${command[*]}"; exit 0; fi
while pgrep -f "console.py linceiver_experiment" > /dev/null; do sleep 60; done  # one experiment at a time
git worktree prune
[ -d "$tree" ] || git worktree add -q --detach "$tree" "$commit"
mkdir -p "$(dirname "$out")"
if [ -n "${GROW:-}" ]; then  # its finished cells are kept; a folder that appeared while waiting is not touched
  mkdir "$out" || { echo "start_run.sh: $out appeared while waiting: not touched"; exit 2; }
  cp -a "$finished/." "$out/" && rm -f "$out/claimed.json"
fi
echo "$(date +%T) $name ($scale, seeds $seeds) into $out, code at $commit"
rc=0; (cd "$tree" && PYTHONPATH=$tree "${command[@]}") || rc=$?
echo "$(date +%T) $name exit $rc"
if [ -n "${GROW:-}" ] && [ $rc -ne 0 ] && cmp -s "$finished/results.csv" "$out/results.csv"; then
  rm -rf "$out"; echo "start_run.sh: the run added nothing to its copy: $out removed"  # refused (other settings)
fi
