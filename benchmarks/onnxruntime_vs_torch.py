"""Is ONNX Runtime faster than torch for the shipped deblurrers on this CPU? (decides whether ``pixelwise deblur``
gets a ``--backend onnxruntime``; issue 24 ships it only if it is measurably faster.)

Exports each shipped deblurrer with :func:`pixelwise.export.export_onnx` (verified <= 1e-4 against torch) and times
batch-1 float32 inference at ``--size`` with torch (the model's ``forward``, inference mode) and with an
onnxruntime CPU session, interleaved (torch, ort, torch, ort, ...), both with ``--threads`` threads; reports the
median wall time, the process CPU time per call, the max |ort - torch| and the ratio torch / ort within the run.

    PYTHONPATH=src python benchmarks/onnxruntime_vs_torch.py [--size 720x1280] [--threads 1] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="720x1280")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import onnxruntime as ort

    from pixelwise import hub
    from pixelwise.bench import parse_size
    from pixelwise.cpuinfo import cpu_line
    from pixelwise.export import export_onnx
    from pixelwise.models.io import load_generator
    from pixelwise.runtime import machine_load

    torch.set_num_threads(args.threads)
    h, w = parse_size(args.size)
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)) * 2 - 1
    print(f"CPU: {cpu_line()}; load {machine_load()}; onnxruntime {ort.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in hub.packaged_names():
            model = load_generator(hub.PACKAGED_ROOT / name).eval()
            path = export_onnx(model, Path(tmp) / f"{name}.onnx")
            options = ort.SessionOptions()
            options.intra_op_num_threads = args.threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            feed = {session.get_inputs()[0].name: x.numpy()}
            with torch.inference_mode():
                def run_torch(model: torch.nn.Module = model) -> torch.Tensor:
                    return model(x)

                def run_ort(session: ort.InferenceSession = session, feed: dict = feed) -> torch.Tensor:
                    return torch.from_numpy(session.run(None, feed)[0])

                diff = (run_torch() - run_ort()).abs().max().item()
                wall: dict[str, list[float]] = {"torch": [], "ort": []}
                cpu: dict[str, list[float]] = {"torch": [], "ort": []}
                for _ in range(args.runs):
                    for key, fn in (("torch", run_torch), ("ort", run_ort)):
                        t0, c0 = time.perf_counter(), time.process_time()
                        fn()
                        wall[key].append((time.perf_counter() - t0) * 1000)
                        cpu[key].append((time.process_time() - c0) * 1000)
            med = {k: statistics.median(v) for k, v in wall.items()}
            medc = {k: statistics.median(v) for k, v in cpu.items()}
            print(f"{name} {h}x{w}: torch {med['torch']:.0f} ms wall / {medc['torch']:.0f} ms CPU, onnxruntime "
                  f"{med['ort']:.0f} ms wall / {medc['ort']:.0f} ms CPU; torch/ort {med['torch'] / med['ort']:.2f}x "
                  f"wall, {medc['torch'] / medc['ort']:.2f}x CPU; max |ort - torch| {diff:.2e}", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
