#!/usr/bin/env bash
# The whole test suite, as CI runs it (`bash tests/run.sh [pytest options]`), in two phases:
#   1. every test that does not time latency, in two processes (pytest-xdist, a test file per
#      process at a time, so its module fixtures are built once);
#   2. the tests marked `timing` (they measure latency and compare timings), alone, so that no
#      training in the other process inflates what they measure.
# Exits non-zero when a test of either phase fails. `python -m pytest` alone runs everything
# serially in one process.
set -uo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
[ -x "$python" ] || python=python3
"$python" -m pytest -q -n 2 --dist loadfile -m "not timing" "$@"
parallel=$?
"$python" -m pytest -q -m timing "$@"
alone=$?
echo "tests: parallel phase exit $parallel, timing phase exit $alone (5: no test selected)"
# A phase with no test selected (pytest's exit 5, e.g. for a file given) is fine, not both.
[ "$parallel" -eq 5 ] && [ "$alone" -eq 5 ] && exit 5
[ "$parallel" -eq 0 -o "$parallel" -eq 5 ] && [ "$alone" -eq 0 -o "$alone" -eq 5 ]
