#!/usr/bin/env bash
# Set up .venv if needed (tools/setup_env.sh), then run the whole test suite on the CPU.
#   bash tools/run_tests.sh [pytest args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider "$@"
