#!/usr/bin/env bash
# Builds (see build.sh), then runs the whole suite through lit: the IR tests
# under test/ and the GoogleTest unit tests (each test case one lit test).
# Ends with one line "N passed, N failed, N skipped"; exits non-zero on any
# failure. Extra arguments go to lit (e.g. `scripts/test.sh --filter decompose`).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh"

results=$(mktemp)
trap 'rm -f "$results"' EXIT
set +e
"$root/.venv/bin/lit" -sv --timeout 600 --output "$results" "$@" \
  "$root/build/test" "$root/build/test/Unit"
status=$?
set -e

"$root/.venv/bin/python" - "$results" <<'PY'
import json, sys
try:
    tests = json.load(open(sys.argv[1]))["tests"]
except (OSError, ValueError, KeyError):
    tests = []
passed = sum(t["code"] in ("PASS", "XFAIL") for t in tests)
skipped = sum(t["code"] in ("UNSUPPORTED", "SKIPPED", "EXCLUDED") for t in tests)
failed = len(tests) - passed - skipped
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
