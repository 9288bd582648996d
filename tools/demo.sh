#!/usr/bin/env bash
# The CPU quick start: set up .venv if needed, generate SynRef into data/synref if it is
# missing, train the light model with AML, then evaluate it on val / testA / testB.
#   bash tools/demo.sh [CONFIG] [extra tools/train.py options]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CONFIG="${1:-configs/amlris/amlris_lite_mbv2_minilm_synref-160x160.py}"
shift || true
bash tools/setup_env.sh
PY=.venv/bin/python
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
if [[ ! -f data/synref/instances.json ]]; then
  $PY tools/dataset_converters/synref.py --out data/synref --num-images 2000 --img-size 160 --seed 0
fi
NAME="$(basename "${CONFIG%.py}")"
WORK_DIR="work_dirs/$NAME"
start=$(date +%s)
$PY tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
CKPT="$(ls -t "$WORK_DIR"/best_*.pth 2>/dev/null | head -n 1 || true)"
[[ -n "$CKPT" ]] || CKPT="$WORK_DIR/$(cat "$WORK_DIR/last_checkpoint" | xargs basename)"
$PY tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test"
echo "[demo] trained and evaluated $CONFIG in $(( $(date +%s) - start )) s; checkpoint: $CKPT"
if compgen -G "$WORK_DIR/*/vis_data/vis_image/aml_*.png" > /dev/null; then
  echo "[demo] AML panels drawn during training: $(ls -d "$WORK_DIR"/*/vis_data/vis_image | tail -n 1)/"
fi
