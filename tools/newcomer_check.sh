#!/usr/bin/env bash
# The newcomer's first hour, scripted (run by .ci/run): a brand-new virtual environment
# and a copy of the checkout, the README's set-up line exactly as the README writes it
# (`python -m pip install . && tinynlp quickstart`), then `tinynlp train sentiment`,
# `tinynlp predict "..."` and `tinynlp evaluate sentiment` with no extra flags.  Every
# command must exit 0; the quickstart's output, piped, must stay under 5 KB.
#
#   bash tools/newcomer_check.sh                    # the real runs (a few minutes)
#   TINYNLP_QUICK=1 bash tools/newcomer_check.sh    # the same commands on a data subset
#
# pip uses its cache (~/.cache/pip), so after the first run the install downloads nothing.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/tinynlp-newcomer.XXXXXX")"
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
step() {  # step NAME: time what follows
  echo "newcomer: $1 ($(( $(date +%s) - start )) s so far; load $(cut -d' ' -f1 /proc/loadavg))"
}

# the README's set-up line, read from the README itself so that this checks what it says
setup=$(awk '/^## Set-up/ {f = 1} f && /^```bash/ {getline; print; exit}' "$repo/README.md")
case "$setup" in
  "python -m pip install . && tinynlp quickstart") ;;
  *) echo "newcomer: the README's set-up line changed to: '$setup' (update this check)"; exit 1 ;;
esac

step "a fresh virtual environment and a copy of the checkout"
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
mkdir "$work/checkout"
git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 tar -cf -) | tar -C "$work/checkout" -xf -
cd "$work/checkout"

step "the README's set-up line: $setup"
# the line's two commands as written, their outputs kept apart (pip's is not the quickstart's)
python -m pip install . > "$work/pip.log" && tinynlp quickstart > "$work/quickstart.out"
size=$(wc -c < "$work/quickstart.out")
tail -n 20 "$work/quickstart.out"
if [ "$size" -ge 5120 ]; then
  echo "newcomer: the quickstart printed $size bytes into a pipe (expected < 5 KB)"; exit 1
fi
grep -q "^Try it:" "$work/quickstart.out"

step "tinynlp train sentiment"
tinynlp train sentiment | tail -n 12
step "tinynlp predict"
tinynlp predict "a gorgeous, witty, seductive movie." "the plot is nothing but clichés"
step "tinynlp evaluate sentiment"
tinynlp evaluate sentiment
step "done: every command exited 0 (quickstart output $size bytes)"
