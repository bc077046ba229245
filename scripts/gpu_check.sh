#!/usr/bin/env bash
# One command that measures pixelwise on a GPU machine and writes at most 8 result files into $OUT:
#   env.json       machine, driver, torch / triton / python versions, stage list
#   tests.log      pytest tests/test_triton_kernel.py (the CUDA tests run there; interpreter test too)
#   hr_kernel.json benchmarks/asapnet_hr_kernel.py: the fused Triton kernel's launch knobs vs the PyTorch path
#   bench.json     every `pixelwise bench` record of every stage (fp32 + bf16, all models, low-res options)
#   train_ddp.log  a short bf16 train + resume, and a 2-rank NCCL DDP run (both ranks on GPU 0 if only one)
#   stages.log     everything else each stage printed
#   summary.json   per-stage rc / seconds, and the headline ratios
#   summary.md     the same as markdown, with the kernel and bench tables
# Every stage is time-boxed (`timeout`), and the whole run keeps to BUDGET seconds (480 on CUDA): a stage that
# fails or times out is recorded and the next one still runs. No network; runs the package from src/.
#
#   bash scripts/gpu_check.sh                 # on the GPU machine, from the repository root
#   DEVICE=cpu bash scripts/gpu_check.sh      # CPU rehearsal: tiny models and sizes, Triton in its interpreter
# Environment: OUT (default ./gpu_check_out), DEVICE (cuda|cpu, default cuda), PYTHON (default python3),
# BUDGET (seconds), CAP_SCALE (multiplies every stage's cap), PIXELWISE_FIXTURES (a folder with the official fixtures, if carried; optional).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/gpu_check_out}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 PIXELWISE_WORK="$WORK"
export HF_HUB_OFFLINE=1 TORCH_HOME="$WORK/torch_home"
START=$(date +%s)
if [ "$DEVICE" = cuda ]; then
  BUDGET=${BUDGET:-480}; CAP_SCALE=${CAP_SCALE:-1}
  SIZES_LABEL=512x1024,1024x2048,2048x2048; SIZE_VARIANT=1024x2048; SIZES_DEBLUR=720x1280
  TINY=(); RUNS=(--runs 10 --warmup 3); TRITON_CPU=()
  KERNEL_ARGS=(--device cuda --sizes 512x1024,1024x2048 --runs 20 --warmup 3)
  TRAIN_STEPS=20; RESUME_STEPS=30; DDP_STEPS=10; TRAIN_DEVICE=cuda
else
  BUDGET=${BUDGET:-2400}; CAP_SCALE=${CAP_SCALE:-3}  # the CPU rehearsal is slow; it checks plumbing, not speed
  SIZES_LABEL=64x128,128x256; SIZE_VARIANT=64x128; SIZES_DEBLUR=64x64
  TINY=(--tiny); RUNS=(--runs 2 --warmup 1)
  TRITON_CPU=(--model-option downsampling=16)  # 32 cells instead of 512: the interpreter pays per program
  KERNEL_ARGS=(--device cpu --sizes 16x32 --tiny --quick --runs 1 --warmup 0)
  TRAIN_STEPS=4; RESUME_STEPS=6; DDP_STEPS=2; TRAIN_DEVICE=cpu
fi
DEADLINE=$((START + BUDGET))
: >"$OUT/stages.log"; : >"$OUT/train_ddp.log"; : >"$WORK/stages.tsv"

# stage NAME CAP LOG CMD...: run CMD with at most CAP seconds (less when the budget is nearly spent; skipped with
# under 10 s left, 20 s kept for the summary), its output appended to LOG; one line in stages.tsv.
stage() {
  local name=$1 cap=$2 log=$3; shift 3
  local now left t0 rc
  now=$(date +%s); left=$((DEADLINE - now - 20))
  if [ "$left" -lt 10 ]; then
    printf '%s\tskipped\t0\t%s\n' "$name" "$cap" >>"$WORK/stages.tsv"; echo "== $name: skipped (budget)" | tee -a "$log"
    return 0
  fi
  cap=$((cap * CAP_SCALE))
  [ "$cap" -gt "$left" ] && cap=$left
  echo "== $name (cap ${cap}s): $*" | tee -a "$log" >&2
  t0=$(date +%s)
  timeout -k 10 "$cap" "$@" >>"$log" 2>&1
  rc=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(($(date +%s) - t0))" "$cap" >>"$WORK/stages.tsv"
  echo "== $name: rc=$rc in $(($(date +%s) - t0))s" | tee -a "$log" >&2
  return 0
}

bench() {  # bench NAME CAP ARGS...: one `pixelwise bench` invocation, records to $WORK/bench_NAME.json
  local name=$1 cap=$2; shift 2
  stage "bench_$name" "$cap" "$OUT/stages.log" "$PY" -m pixelwise bench --device "$DEVICE" "${RUNS[@]}" "${TINY[@]}" \
    --quiet --json "$WORK/bench_$name.json" "$@"
}

# 1. environment
stage env 30 "$OUT/stages.log" "$PY" - "$OUT/env.json" "$DEVICE" <<'EOF'
import json, os, platform, subprocess, sys
import torch
info = {"device": sys.argv[2], "python": sys.version.split()[0], "platform": platform.platform(),
        "torch": torch.__version__, "cuda_available": torch.cuda.is_available(), "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(), "cpu_count": os.cpu_count(), "loadavg": os.getloadavg()}
try:
    import triton
    info["triton"] = triton.__version__
except Exception as exc:
    info["triton"] = f"not importable: {exc}"
if torch.cuda.is_available():
    info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    info["gpu_memory_gib"] = torch.cuda.get_device_properties(0).total_memory / 2**30
    info["capability"] = torch.cuda.get_device_capability(0)
    info["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
try:
    info["nvidia_smi"] = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                                         "--format=csv,noheader"], capture_output=True, text=True,
                                        timeout=20).stdout.strip()
except Exception as exc:
    info["nvidia_smi"] = f"unavailable: {exc}"
with open(sys.argv[1], "w") as handle:
    json.dump(info, handle, indent=1)
print(json.dumps(info))
EOF

# 2. tests (CUDA tests run on a GPU; the interpreter test everywhere)
stage tests 150 "$OUT/tests.log" "$PY" -m pytest -q -rs -p no:cacheprovider tests/test_triton_kernel.py -s

# 3. the fused kernel: launch knobs vs the PyTorch path, fp32 + bf16
if [ "$DEVICE" = cuda ]; then
  stage hr_kernel 150 "$OUT/stages.log" "$PY" benchmarks/asapnet_hr_kernel.py "${KERNEL_ARGS[@]}" \
    --json "$OUT/hr_kernel.json" --markdown "$WORK/hr_kernel.md"
else
  stage hr_kernel 300 "$OUT/stages.log" env TRITON_INTERPRET=1 "$PY" benchmarks/asapnet_hr_kernel.py \
    "${KERNEL_ARGS[@]}" --json "$OUT/hr_kernel.json" --markdown "$WORK/hr_kernel.md"
fi

# 4. pixelwise bench: all models, fp32 and bf16 (default execution: hr backend auto, low-res as prepared by bench)
LABEL_MODELS=asapnet,asapnet-reference,pix2pixhd,pix2pixhd-local
for size in ${SIZES_LABEL//,/ }; do  # one invocation per size: a timeout loses one size, not all
  bench "label_fp32_$size" 60 --models $LABEL_MODELS --sizes "$size" --dtype float32
  bench "label_bf16_$size" 50 --models $LABEL_MODELS --sizes "$size" --dtype bfloat16
done
bench deblur_fp32 40 --models deblurgan,deblurgan-asap --sizes $SIZES_DEBLUR --dtype float32
bench deblur_bf16 40 --models deblurgan,deblurgan-asap --sizes $SIZES_DEBLUR --dtype bfloat16

# 5. short bf16 train + resume, then 2-rank DDP (NCCL on CUDA; gloo on CPU)
COMMON=(train.precision=bf16 "train.device=$TRAIN_DEVICE" train.sample_every=0 train.tensorboard=false
        train.progress=false train.log_every=5 train.num_workers=0)
stage train_bf16 90 "$OUT/train_ddp.log" "$PY" -m pixelwise train asapnet-tiny "${COMMON[@]}" \
  "train.max_steps=$TRAIN_STEPS" "train.checkpoint_every=$TRAIN_STEPS" --run-dir "$WORK/train"
stage train_resume 60 "$OUT/train_ddp.log" "$PY" -m pixelwise train asapnet-tiny "${COMMON[@]}" \
  "train.max_steps=$RESUME_STEPS" "train.checkpoint_every=$RESUME_STEPS" --run-dir "$WORK/train" --resume auto
stage ddp_2rank 90 "$OUT/train_ddp.log" "$PY" -m torch.distributed.run --standalone --nproc_per_node=2 \
  -m pixelwise train asapnet-tiny "${COMMON[@]}" "train.max_steps=$DDP_STEPS" "train.checkpoint_every=$DDP_STEPS" \
  --run-dir "$WORK/ddp"

# 6. ASAP-Net execution options at one size: Triton high-res kernel, low-res channels_last / CUDA graphs /
#    torch.compile, all together, and end to end from label ids
INTERP=(); [ "$DEVICE" = cpu ] && INTERP=(env TRITON_INTERPRET=1)
for dt in float32 bfloat16; do
  V=(--models asapnet --sizes $SIZE_VARIANT --dtype $dt)
  stage "bench_triton_$dt" 60 "$OUT/stages.log" "${INTERP[@]}" "$PY" -m pixelwise bench --device "$DEVICE" \
    "${RUNS[@]}" "${TINY[@]}" --quiet --json "$WORK/bench_triton_$dt.json" "${V[@]}" "${TRITON_CPU[@]}" --hr-backend triton
  bench "lowres_cl_$dt" 40 "${V[@]}" --lowres-channels-last
  if [ "$DEVICE" = cuda ]; then
    bench "lowres_graphs_$dt" 40 "${V[@]}" --lowres-channels-last --lowres-cuda-graphs
    bench "all_ids_$dt" 60 "${V[@]}" --hr-backend triton --lowres-channels-last --lowres-cuda-graphs --label-input ids
    bench "torch_ids_$dt" 40 "${V[@]}" --hr-backend torch --lowres-channels-last --label-input ids
  fi
done
for dt in float32 bfloat16; do  # last: compilation is the slowest stage
  bench "lowres_compile_$dt" 120 --models asapnet --sizes $SIZE_VARIANT --dtype $dt --lowres-channels-last \
    --lowres-compile
done

# 7. summary (always runs: the budget keeps 20 s for it)
timeout -k 5 60 "$PY" scripts/gpu_check_summary.py "$WORK" "$OUT" "$DEVICE" >>"$OUT/stages.log" 2>&1 \
  || echo "summary failed (see stages.log)" >&2
rm -rf "$WORK"
echo "gpu_check: $(($(date +%s) - START))s, results in $OUT: $(ls "$OUT" | tr '\n' ' ')"
