#!/usr/bin/env bash
# Mutation testing of the modules whose mistakes are silent (issue 18). Not part of CI: it is
# CPU-heavy (one mutant at a time; hours for every group on 2 cores).
#
#   tools/mutation.sh                 # seeded bugs, then mutmut over every group, then the scores
#   GROUP=bounds tools/mutation.sh 'unrollkit.analysis.nest.*'   # one group, some mutants (globs)
#
# Runs in staged copies of the committed tree (see tools/mutation.py; groups in GROUPS); PYTHON
# is a Python with the test extras and mutmut 3 installed (default: the development venv).
# EARLIER: an earlier run's folder whose results count for unchanged sources (report only).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-/work/devvenv/bin/python}"
WORKDIR="${WORKDIR:-${TMPDIR:-/tmp}/unrollkit-mutation}"
EARLIER_ARGS=()
if [ -n "${EARLIER:-}" ]; then EARLIER_ARGS=(--earlier "$EARLIER"); fi
if [ $# -eq 0 ] && [ -z "${GROUP:-}" ]; then
    "$PYTHON" tools/mutation.py seeded
    for g in bounds legality passes cache_key; do
        "$PYTHON" tools/mutation.py mutmut --group "$g" --workdir "$WORKDIR" --max-children 1 || true
    done
else
    "$PYTHON" tools/mutation.py mutmut --group "${GROUP:-bounds}" --workdir "$WORKDIR" \
        --max-children 1 "$@" || true
fi
"$PYTHON" tools/mutation.py report --workdir "$WORKDIR" "${EARLIER_ARGS[@]}"
