#!/usr/bin/env bash
# Installs everything DRWR Studio needs into ./.venv (and Debian packages for a virtual screen
# when run as root). Safe to run repeatedly; skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PKGS="xvfb xauth libgl1 libglx-mesa0 libgl1-mesa-dri libegl1 libegl-mesa0 libxkbcommon-x11-0 \
 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 \
 libxcb-xinerama0 libxcb-xfixes0 libxcb-xkb1 libxcb-cursor0 libfontconfig1 libdbus-1-3 fonts-dejavu-core"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=""
  for p in $APT_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "[install] apt:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if ! python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    pip install -q "torch>=2.2"            # a CUDA build for machines with a GPU
  else
    pip install -q torch==2.13.0 || pip install -q "torch>=2.2"
  fi
fi
EXTRA=${1:-}
if [ -n "$EXTRA" ]; then pip install -q -e ".[$EXTRA]"; else pip install -q -e .; fi
