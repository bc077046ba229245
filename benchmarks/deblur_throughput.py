"""How fast does ``pixelwise deblur`` restore whole photos on this CPU? Images/s and ms per megapixel.

For each shipped deblurrer (``--models``, default every model in the package) it runs
:func:`pixelwise.deblur.deblur_files` (what ``pixelwise deblur`` runs) in a fresh child process per case and
records the wall time of the call (model load, reading, the model, writing: what a user waits for, without the
Python start-up), the process's CPU time, its peak RSS and images/s and ms per megapixel:

- a folder of ``--count`` photos of ``--small`` (default 1280x720) with the folder loop's background I/O on (the
  next photo decoded and the last output encoded while the model runs, :mod:`pixelwise.overlap_io`; the default
  on a GPU) and off (the default on a CPU), with ``--backend torch`` and, where ``auto`` picks it,
  ``onnxruntime`` (graph exported beforehand, not timed);
- one ``--large`` photo (default 4000x3000, 12 MP) untiled and with ``--tile 1024`` (onnxruntime: tiled only).

Photos: the photographic wallpapers of Debian's ``plasma-workspace-wallpapers`` (``apt-get install
plasma-workspace-wallpapers``), centre-cropped and resized, saved as JPEG quality 95 (what phones write); outputs
are PNG (the default). Speed does not depend on the content, so these are the same photos as the held-out
benchmark (no model is tuned on timings). Writes ``OUT/results.json`` and ``OUT/results.md``.

    PYTHONPATH=src python benchmarks/deblur_throughput.py --out runs/deblur-throughput [--models NAME,NAME]
        [--count 8] [--small 1280x720] [--large 4000x3000] [--threads N] [--skip small,large,ort]
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deblur_large_photo import sharp_photo  # the largest file of a wallpaper, centre-cropped and resized
from deblur_quality import PHOTOS
from PIL import Image


def write_photos(folder: Path, count: int, width: int, height: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{PHOTOS[i % len(PHOTOS)]}-{i}.jpg"
        if not path.exists():
            Image.fromarray(sharp_photo(PHOTOS[i % len(PHOTOS)], width, height)).save(path, quality=95)
        paths.append(path)
    return paths


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """One case, in this (fresh) process: deblur spec["inputs"] into spec["output"]; time, CPU, peak RSS."""
    import torch

    from pixelwise.deblur import deblur_files

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    cpu0, t0 = time.process_time(), time.perf_counter()
    written = deblur_files(spec["inputs"], spec["output"], model=spec["model"], tile=spec.get("tile"),
                           backend=spec["backend"], overwrite=True, progress=False,
                           report=lambda line: None, background_io=spec["io"])
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"wall_s": wall, "cpu_s": cpu, "images": len(written),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "threads": torch.get_num_threads()}


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/deblur-throughput"))
    parser.add_argument("--models", default=None, help="comma-separated pixelwise/NAME (default: all shipped)")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--small", default="1280x720", help="WIDTHxHEIGHT of the folder's photos")
    parser.add_argument("--large", default="4000x3000", help="WIDTHxHEIGHT of the large photo")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--skip", default="", help="comma-separated: small, large, ort")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        result = child(json.loads(args.child))
        print(json.dumps(result))
        return result

    import torch

    from pixelwise import hub
    from pixelwise.cpuinfo import cpu_line
    from pixelwise.fileio import atomic_write_json
    from pixelwise.onnx_runtime import cached_onnx, choose_backend, model_folder
    from pixelwise.runtime import machine_load

    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    models = args.models.split(",") if args.models else [f"pixelwise/{n}" for n in hub.packaged_names()]
    out: Path = args.out
    small_w, small_h = (int(v) for v in args.small.lower().split("x"))
    large_w, large_h = (int(v) for v in args.large.lower().split("x"))
    folder = out / "photos-small"
    small = write_photos(folder, args.count, small_w, small_h)
    large = write_photos(out / "photos-large", 1, large_w, large_h)
    cases: list[dict[str, Any]] = []
    for model in models:
        backends = ["torch"]
        if "ort" not in skip:
            from pixelwise.deblur import load_deblur_model

            net = load_deblur_model(model)
            if choose_backend(net, "auto")[0] == "onnxruntime":
                try:  # export the graph now, so the timed runs find it cached
                    cached_onnx(net, model_folder(model))
                    backends.append("onnxruntime")
                except Exception as exc:
                    print(f"{model}: onnxruntime not measured ({exc})", flush=True)
        if "small" not in skip:
            for backend in backends:
                for io in (True, False) if backend == "torch" else (True,):
                    cases.append({"model": model, "size": args.small, "photos": len(small), "backend": backend,
                                  "io": io, "tile": None, "inputs": [str(folder)]})
        if "large" not in skip:  # onnxruntime tiled only: untiled at 12 MP its arena outgrew 15 GB (docs/speed.md)
            for backend, tile in [("torch", None), ("torch", 1024)] + [("onnxruntime", 1024)] * (len(backends) > 1):
                cases.append({"model": model, "size": args.large, "photos": 1, "backend": backend, "io": True,
                              "tile": tile, "inputs": [str(large[0])]})
    print(f"{cpu_line()}; torch {torch.__version__}", flush=True)
    records = []
    for i, case in enumerate(cases):
        spec = {**case, "output": str(out / f"case{i}"), "threads": args.threads}
        load = machine_load()
        result = run_case(spec)
        w, h = (int(v) for v in case["size"].split("x"))
        record = {k: v for k, v in case.items() if k != "inputs"} | result | {"load": load}
        if "wall_s" in result:
            megapixels = w * h * result["images"] / 1e6
            record |= {"images_per_s": result["images"] / result["wall_s"],
                       "ms_per_mp": 1000 * result["wall_s"] / megapixels,
                       "cpu_ms_per_mp": 1000 * result["cpu_s"] / megapixels}
        records.append(record)
        print(f"  {case['model']} {case['size']} x{case['photos']} backend={case['backend']} io={case['io']} "
              f"tile={case['tile']}: " + (f"{record['wall_s']:.1f} s, {record['images_per_s']:.2f} images/s, "
                                          f"{record['ms_per_mp']:.0f} ms/MP, CPU {record['cpu_ms_per_mp']:.0f} "
                                          f"ms/MP, peak RSS {record['peak_rss_mb']:.0f} MB"
                                          if "wall_s" in result else result["error"]), flush=True)
    results = {"command": "PYTHONPATH=src python benchmarks/deblur_throughput.py " + shlex.join(
        sys.argv[1:] if argv is None else list(argv)), "machine": cpu_line(), "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "records": records}
    atomic_write_json(out / "results.json", results)
    (out / "results.md").write_text(markdown(results))
    print(markdown(results))
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = [f"{results['machine']}; torch {results['torch']}; {results['date']}. Command: `{results['command']}`", "",
             "| model | photos | backend | background I/O | --tile | images/s | s per image | ms per MP (wall) "
             "| CPU ms per MP | peak RSS MB | load |", "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results["records"]:
        load = (r.get("load") or {}).get("load1", "")
        io = "-" if r["photos"] < 2 else "on" if r["io"] else "off"  # nothing to overlap with one photo
        head = (f"| {r['model']} | {r['photos']} x {r['size']} | {r['backend']} | {io} "
                f"| {r['tile'] or '-'} |")
        if "wall_s" not in r:
            lines.append(f"{head} failed: {r['error']} | | | | | |")
            continue
        lines.append(f"{head} {r['images_per_s']:.2f} | {r['wall_s'] / r['images']:.1f} | {r['ms_per_mp']:.0f} | "
                     f"{r['cpu_ms_per_mp']:.0f} | {r['peak_rss_mb']:.0f} | {load} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
