#!/usr/bin/env bash
# Train the v2 deblurrer recipes (presets deblurgan-asap-medium, deblurgan-medium) larger and longer on one GPU, within
# about 8 minutes on an H100, and write each model folder (config.json + fp16 model.safetensors, <= 16 MiB) to
# $OUT/models/<name>. UNVERIFIED on a GPU so far: the CPU rehearsal (DEVICE=cpu, tiny, plumbing only) is tested in CI
# (tests/test_gpu_train_script.py). The models ship only if they beat the CPU-trained ones on
# benchmarks/deblur_realworld.py.
#
#   PHOTOS=DIR OUT=DIR bash scripts/gpu_train.sh           # DIR/train/*.png: scripts/deblur_training_photos.py --short-side 720
#   DEVICE=cpu STEPS=2 BATCH=2 CROP=32 EXTRA="..." bash scripts/gpu_train.sh   # the CPU rehearsal
#
# Settings (environment): DEVICE (cuda), STEPS (3000; per model), BATCH (16), CROP (256), WORKERS (12 of the 16 cores),
# REPEAT (32: data.repeat, each photo 32 times an epoch, so the loader's workers are not restarted every step),
# PRECISION (bf16 on cuda, fp32 on cpu), MODELS ("deblurgan-asap-medium deblurgan-medium"), EXTRA (more dotted overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
OUT=${OUT:?set OUT to the output folder}
PHOTOS=${PHOTOS:?set PHOTOS to a folder with train/*.png (scripts/deblur_training_photos.py --short-side 720)}
STEPS=${STEPS:-3000}
BATCH=${BATCH:-16}
CROP=${CROP:-256}
WORKERS=${WORKERS:-12}
REPEAT=${REPEAT:-32}
MODELS=${MODELS:-"deblurgan-asap-medium deblurgan-medium"}
if [ "$DEVICE" = cpu ]; then PRECISION=${PRECISION:-fp32}; else PRECISION=${PRECISION:-bf16}; fi
PY=${PYTHON:-python}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT/runs" "$OUT/models"
for preset in $MODELS; do
  run="$OUT/runs/$preset"
  # shellcheck disable=SC2086  # EXTRA is a list of overrides
  "$PY" -m pixelwise train "$preset" --run-dir "$run" "data.root=$PHOTOS" "train.device=$DEVICE" \
    "train.max_steps=$STEPS" "train.decay_steps=$STEPS" "train.batch_size=$BATCH" "train.num_workers=$WORKERS" \
    "data.repeat=$REPEAT" \
    "train.precision=$PRECISION" "data.crop_height=$CROP" "data.crop_width=$CROP" train.progress=false \
    train.tensorboard=false $EXTRA
  name="${preset}-gpu"
  "$PY" scripts/ship_deblurrer.py "$run" --name "$name" --out "$OUT/models/$name" \
    --command "DEVICE=$DEVICE STEPS=$STEPS BATCH=$BATCH bash scripts/gpu_train.sh ($preset)" \
    --data camera --hardware "$("$PY" -c "import torch; from pixelwise.runtime import describe_device; \
print(describe_device(torch.device('$DEVICE')))" 2>/dev/null || echo "$DEVICE")"
  size=$(stat -c %s "$OUT/models/$name/model.safetensors")
  if [ "$size" -gt $((16 * 1024 * 1024)) ]; then echo "$name: weights $size bytes exceed 16 MiB" >&2; exit 1; fi
  echo "$name: $OUT/models/$name ($size bytes)"
done
