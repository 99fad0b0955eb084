#!/usr/bin/env bash
# Mutation testing of the modules whose mistakes are silent (issue 18). Not part of CI: it is
# CPU-heavy (one mutant at a time; an hour or more for every module on 2 cores).
#
#   tools/mutation.sh                 # seeded bugs, then mutmut over every module, then the scores
#   tools/mutation.sh 'unrollkit.passes.dependence.*'   # mutmut on some mutants only (globs)
#
# Runs in a staged copy of the committed tree (see tools/mutation.py); PYTHON is a Python with
# the test extras and mutmut 3 installed (default: the development venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-/work/devvenv/bin/python}"
WORKDIR="${WORKDIR:-${TMPDIR:-/tmp}/unrollkit-mutation}"
if [ $# -eq 0 ]; then
    "$PYTHON" tools/mutation.py seeded
fi
"$PYTHON" tools/mutation.py mutmut --workdir "$WORKDIR" --max-children 1 "$@" || true
"$PYTHON" tools/mutation.py report --workdir "$WORKDIR"
