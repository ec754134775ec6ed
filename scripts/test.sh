#!/usr/bin/env bash
# Install what is missing (apt packages for a virtual screen, the venv, the test extra) and run
# the whole test suite. GUI tests get a virtual screen from pytest-xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
. .venv/bin/activate
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
lint-imports
if [ "$#" -gt 0 ]; then exec python -m pytest -q -p no:cacheprovider "$@"; fi
# Two tiers in two processes: plain pytest for the engine and CLI, then the Qt/VTK window tests
# on a virtual screen (a process that has not churned through the engine tests' memory).
python -m pytest -q -p no:cacheprovider --ignore=tests/gui tests
python -m pytest -q -p no:cacheprovider tests/gui
