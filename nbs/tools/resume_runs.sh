#!/usr/bin/env bash
# Resume, one after another, the experiments in progress: every nbs/results/<exp>/<scale>-new/ folder (a results
# folder kept in the checkout so that the next session finds it), each from a git worktree at the commit its
# experiment.json records (its last run's), so that the code under a run never changes mid-way. Run from the repository root, in the
# background (the runs take hours):
#   nohup setsid bash nbs/tools/resume_runs.sh > resume_runs.log 2>&1 &
# A run is started the same way, into such a folder, by nbs/tools/start_run.sh.
# To stop a run for a while: kill its process group, `kill -TERM -- -$(ps -o pgid= -p PID)`. A command a script
# starts with `&` ignores SIGINT (bash does that to background commands), so `kill -INT` does nothing there. The cells
# in flight are lost and run again on resume; remove the folder's stale claimed.json first.
# Folders run in the order given (default: every *-new folder, sorted); JOBS workers each (default 2, one torch
# thread each on this 2-core machine). A finished run is moved into place by hand: its folder replaces
# nbs/results/<exp>/<scale>/ and the notebook that renders it is re-executed.
set -uo pipefail
root=$PWD jobs=${JOBS:-2}
folders=("$@"); [ ${#folders[@]} -gt 0 ] || folders=(nbs/results/*/*-new)
python=${PYTHON:-$root/.venv/bin/python}
[ -n "${LINCEIVER_DATA:-}" ] || export LINCEIVER_DATA=$(cd ../shared/data 2>/dev/null && pwd)  # as .ci/run does
git worktree prune  # worktrees whose folders are gone (a new machine) are registered anew below
for folder in "${folders[@]}"; do
  [ -f "$folder/experiment.json" ] || { echo "skip $folder: no experiment.json"; continue; }
  read -r name scale seeds precision commit < <("$python" -c 'import json, sys; d = json.load(open(sys.argv[1]))
commit = next((r["git_commit"] for r in reversed(d["runs"]) if r.get("git_commit")), "")
print(d["name"], d["scale"], ",".join(map(str, d["seeds"])), d["precision"], commit.removesuffix("+dirty"))' \
    "$folder/experiment.json")  # the run's own settings: anything else is refused as another run
  [ -n "${commit:-}" ] || { echo "skip $folder: its experiment.json names no commit (or cannot be read)"; continue; }
  tree=${WORKTREES:-/tmp/linceiver-worktrees}/$commit
  [ -d "$tree" ] || git worktree add -q --detach "$tree" "$commit" || { echo "skip $folder: no commit $commit"; continue; }
  echo "$(date +%T) $name ($scale) into $folder, code at $commit"
  out=$(cd "$folder" && pwd)
  (cd "$tree" && PYTHONPATH=$tree "$python" "$root/nbs/tools/console.py" linceiver_experiment "$name" --scale "$scale" --seeds "$seeds" --precision "$precision" \
     --jobs "$jobs" --out "$out" --quiet)
  rc=$?; echo "$(date +%T) $name exit $rc"
done
