#!/usr/bin/env bash
# The test command (README, CI): install every dependency, then run the whole test suite.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CODEX_BIN="$(bash "$here/scripts/install-deps.sh" | tail -n 1)"
export CODEX_BIN
cd "$here"
set +e
python3 -m pytest -q "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
