#!/usr/bin/env bash
# Install what is missing and open DRWR Studio on the bundled demo.
#   bash scripts/run.sh              the desktop window, fitting the bundled demo scene
#   bash scripts/run.sh --headless   no screen: make the demo scene, fit it, print metrics
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
if [ "${1:-}" = "--headless" ] || { [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; }; then
  [ "${1:-}" = "--headless" ] || echo "[run] no screen found: running the headless demo (see README)"
  mkdir -p out
  python main.py make-scene chair out/demo_scene --views 8 --res 64 --gt-points 20000 --overwrite
  python main.py hull out/demo_scene --out out/demo_hull.ply --points 2000
  python main.py fit out/demo_scene --points 2000 --out out/demo_fit.ply --metrics-json out/demo_fit.json
else
  exec python main.py --demo
fi
