#!/usr/bin/env bash
# Pack what a bare GPU machine needs to run nbs/tools/gpu_experiments.sh and gpu_bench.sh into the git-ignored .gpu/
# (about 50 MB, under the 64 MiB that travels with a device call): the pure-Python packages its Python 3.12 lacks,
# as wheels, and the datasets from $LINCEIVER_DATA (default ../shared/data), xz-compressed. Run from the repository
# root on this machine; then name .gpu in the device call's `carry`.
#   fastprogress 1.0.3, not 1.1: 1.1 imports python-fasthtml and its web stack at import time.
set -euo pipefail
data=${LINCEIVER_DATA:-../shared/data}
exclude=$(git rev-parse --git-common-dir)/info/exclude  # .git is a file in a worktree
mkdir -p "$(dirname "$exclude")" .gpu/whl .gpu/data
grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo /.gpu/ >> "$exclude"
platforms=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64 any)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]/#/--platform=}" -d .gpu/whl 'fastcore<2' 'fastprogress==1.0.3' soundfile cffi pycparser
for d in FashionMNIST MNIST; do
  for f in "$data/$d"/raw/*-ubyte; do xz -9 -T2 -c "$f" > ".gpu/data/$d-$(basename "$f").xz"; done
done
for d in fsdd sms_spam; do tar cf - -C "$data" "$d" | xz -9 -T2 > ".gpu/data/$d.tar.xz"; done
du -sh .gpu
