#!/usr/bin/env bash
# What a newcomer waits for: the README's two commands in a brand-new virtual
# environment, timed.  The first `tinynlp quickstart` after an install compiles
# the Numba kernels (then cached on disk, `cache=True`); the second run shows
# the cost without that.  Prints the wall times, the 1-minute load average
# before and after each run, and the time of the first training step (where
# the compilation happens).  The README's timing sentence quotes this output.
#
#   bash tools/first_run_timing.sh            # from the repository root
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
echo "machine: $(nproc) CPU cores, $(python3 --version)"
s=$(date +%s)
"$work/venv/bin/pip" install -q "$repo" 2>/dev/null
echo "pip install: $(( $(date +%s) - s )) s"
cd "$work"
for run in first second; do
  before=$(cut -d' ' -f1 /proc/loadavg)
  s=$(date +%s.%N)
  "$work/venv/bin/tinynlp" quickstart --verbose 1 > "$run.out" 2>&1   # the bar: step times
  e=$(date +%s.%N)
  after=$(cut -d' ' -f1 /proc/loadavg)
  step=$(tr '\r' '\n' < "$run.out" | grep -m1 -oE '^ *1/[0-9]+ .* - [0-9.]+m?s/step' \
         | grep -oE '[0-9.]+m?s/step$' || true)
  printf '%s run: %.0f s wall, first training step %s, load %s -> %s\n' \
    "$run" "$(echo "$e - $s" | bc)" "${step:-?}" "$before" "$after"
done
