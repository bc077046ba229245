"""The CPU speed table, made by one command, every ratio computed within the run (same process, same load).

Rows (batch 1, float32, the library bench :func:`pixelwise.bench.run_benchmark`; median of ``--runs`` timed calls
after ``--warmup``; the first, FLOP-counting call is never timed):
- label maps -> photos at 512x1024 and 1024x2048: ``asapnet`` (fast high-res path), ``asapnet-reference`` (the
  faithful port), ``pix2pixhd``, ``pix2pixhd-local`` (registry defaults, the paper's 16-cell-tall ASAP-Net grid);
  ratios: reference / fast, pix2pixHD / ASAP-Net, pix2pixHD-local / ASAP-Net;
- deblurring at 720x1280: ``deblurgan`` vs ``deblurgan-asap`` (registry defaults); ratio DeblurGAN / DeblurGAN-ASAP;
- the deblurrers shipped in the package (their architecture, from config.json) at 720x1280, in ms per megapixel.

Each record carries the CPU (model name, ISA level avx2/avx512/amx, cores, threads, L2, torch build), the load
average and the process CPU time per call (``cpu_ms``: less sensitive to other processes than wall time; with one
thread it is the work done). Writes ``OUT/cpu_speed.json`` (records + ratios) and ``OUT/cpu_speed.md``.

    PYTHONPATH=src python benchmarks/cpu_speed.py [--out runs/cpu-speed] [--threads 1] [--runs 3] [--warmup 1]
        [--label-sizes 512x1024,1024x2048] [--deblur-size 720x1280] [--skip label,deblur,shipped] [--models M,M]
        [--isa native|avx2|avx512] [--l2-bytes 512K]

``--isa avx2`` measures an AVX2-only CPU's code paths on a wider CPU: the script re-executes itself in a child
process with ``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA`` and ``MKL_ENABLE_INSTRUCTIONS`` set
(:data:`pixelwise.cpuinfo.ISA_EMULATION_ENV`; torch reads them at start-up), checks that torch's CPU capability is
the one asked for, and the JSON says ``emulated avx2 on <cpu>``. Caches stay the host's; ``--l2-bytes`` sizes the
fast path's blocks for another L2 (``PIXELWISE_L2_BYTES``), e.g. 512K for a CPU with 512 KiB of L2 per core.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

LABEL_MODELS = ("asapnet", "asapnet-reference", "pix2pixhd", "pix2pixhd-local")
DEBLUR_MODELS = ("deblurgan", "deblurgan-asap")
# (ratio name, numerator model, denominator model): numerator time / denominator time at the same size
RATIOS = (("asapnet-reference / asapnet", "asapnet-reference", "asapnet"),
          ("pix2pixhd / asapnet", "pix2pixhd", "asapnet"),
          ("pix2pixhd-local / asapnet", "pix2pixhd-local", "asapnet"),
          ("deblurgan / deblurgan-asap", "deblurgan", "deblurgan-asap"))


def shipped_records(size: tuple[int, int], runs: int, warmup: int) -> list[dict[str, Any]]:
    """Bench records of every shipped deblurrer's architecture (random weights: the same speed) at ``size``."""
    from pixelwise import bench, hub

    records = []
    for name in hub.packaged_names():
        meta = json.loads((hub.PACKAGED_ROOT / name / "config.json").read_text())
        record = bench.bench_one(meta["model"], *size, torch.device("cpu"), torch.float32, runs, warmup,
                                 options=meta["config"])
        record["model"] = f"pixelwise/{name}"
        record["input_kind"] = "rgb"
        records.append(record)
    return records


def ratios(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Time ratios within the run, per size: wall-clock medians and CPU time per call."""
    by = {(r["model"], r["height"], r["width"]): r for r in records if r.get("median_ms")}
    rows = []
    for label, num, den in RATIOS:
        for (model, h, w), r in sorted(by.items()):
            other = by.get((num, h, w))
            if model == den and other:
                rows.append({"ratio": label, "size": f"{h}x{w}", "wall": other["median_ms"] / r["median_ms"],
                             "cpu": (other["cpu_ms"] / r["cpu_ms"]) if other.get("cpu_ms") and r.get("cpu_ms")
                             else None})
    return rows


def markdown(records: Sequence[dict[str, Any]], ratio_rows: Sequence[dict[str, Any]], command: str) -> str:
    from pixelwise.cpuinfo import cpu_line

    first = records[0]
    loads = [r["load"]["load1"] for r in records if r.get("load")]
    lines = [f"Measured with `{command}`.", "",
             f"CPU: {cpu_line(first['cpu'])}; load average {min(loads, default=0):.1f}-{max(loads, default=0):.1f} "
             "during the run; batch 1, float32, median of "
             f"{first['runs']} timed call(s) after {first['warmup']} warm-up call(s) (wall clock) and the process's "
             "CPU time per call.", "",
             "| model | size | median ms (wall) | CPU ms per call | ms per MP (wall) | GFLOPs |",
             "|---|---|---:|---:|---:|---:|"]
    for r in records:
        mp = r["height"] * r["width"] / 1e6
        wall = f"{r['median_ms']:.0f}" if r.get("median_ms") else (r.get("error") or "–")
        cpu = f"{r['cpu_ms']:.0f}" if r.get("cpu_ms") else "–"
        per_mp = f"{r['median_ms'] / mp:.0f}" if r.get("median_ms") else "–"
        flops = f"{r['gflops']:.3g}" if r.get("gflops") else "–"
        lines.append(f"| {r['model']} | {r['height']}x{r['width']} | {wall} | {cpu} | {per_mp} | {flops} |")
    lines += ["", "| ratio (same run) | size | wall clock | CPU time |", "|---|---|---:|---:|"]
    for row in ratio_rows:
        cpu = f"{row['cpu']:.2f}x" if row["cpu"] else "–"
        lines.append(f"| {row['ratio']} | {row['size']} | {row['wall']:.2f}x | {cpu} |")
    return "\n".join(lines) + "\n"


def emulation_env(isa: str, l2_bytes: str | None, environ: dict[str, str] | None = None) -> dict[str, str] | None:
    """The child process's environment for ``--isa`` / ``--l2-bytes``, or None when this process already runs
    with them (nothing to re-execute)."""
    from pixelwise.cpuinfo import ISA_EMULATION_ENV, isa_emulation_env

    environ = dict(os.environ if environ is None else environ)
    wanted = isa_emulation_env(isa)
    if l2_bytes:
        wanted["PIXELWISE_L2_BYTES"] = l2_bytes
    unwanted = set() if isa != "native" else {k for env in ISA_EMULATION_ENV.values() for k in env}
    if all(environ.get(k) == v for k, v in wanted.items()) and not unwanted & set(environ):
        return None
    child = {k: v for k, v in environ.items() if k not in unwanted}
    child.update(wanted)
    return child


def check_isa_in_effect(isa: str) -> str:
    """torch's CPU capability in this process (e.g. ``AVX2``); exits with one line when ``--isa`` asked for another."""
    capability = str(torch.backends.cpu.get_cpu_capability())
    if isa != "native" and capability.lower() != isa:
        raise SystemExit(f"--isa {isa}: torch runs {capability} code here (this CPU or torch build cannot emulate "
                         f"{isa}); use --isa native")
    return capability


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/cpu-speed")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--label-sizes", default="512x1024,1024x2048")
    parser.add_argument("--deblur-size", default="720x1280")
    parser.add_argument("--skip", default="", help="comma-separated groups to skip: label, deblur, shipped")
    parser.add_argument("--models", default=None,
                        help="comma-separated subset of the label and deblur models (default: all of them)")
    parser.add_argument("--isa", default="native", choices=("native", "avx2", "avx512"),
                        help="run torch's code paths for this ISA (re-executes in a child process; default native)")
    parser.add_argument("--l2-bytes", default=None, metavar="SIZE",
                        help="size the fast path's blocks for this L2 per core (e.g. 512K; default: this CPU's)")
    args = parser.parse_args(argv)
    child_env = emulation_env(args.isa, args.l2_bytes)
    if child_env is not None:
        argv_list = list(argv if argv is not None else sys.argv[1:])
        changed = [f"{k}={v}" for k, v in sorted(child_env.items()) if os.environ.get(k) != v]
        print(f"re-running with {' '.join(changed) or 'the emulation variables unset'}", file=sys.stderr, flush=True)
        return subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv_list], env=child_env).returncode
    capability = check_isa_in_effect(args.isa)
    from pixelwise import bench
    from pixelwise.fileio import atomic_write_json, atomic_write_text, make_dirs

    if args.threads:
        torch.set_num_threads(args.threads)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    chosen = {m.strip() for m in args.models.split(",")} if args.models else set(LABEL_MODELS + DEBLUR_MODELS)

    def progress(r: dict[str, Any]) -> None:
        what = r["error"] or f"{r['median_ms']:.0f} ms wall, {r['cpu_ms'] or 0:.0f} ms CPU"
        print(f"  {r['model']} {r['height']}x{r['width']}: {what}", file=sys.stderr, flush=True)

    records: list[dict[str, Any]] = []
    deblur_size = bench.parse_size(args.deblur_size)
    if "label" not in skip and chosen & set(LABEL_MODELS):
        sizes = [bench.parse_size(s) for s in args.label_sizes.split(",") if s.strip()]
        models = [m for m in LABEL_MODELS if m in chosen]
        records += bench.run_benchmark(models, sizes, device="cpu", runs=args.runs, warmup=args.warmup,
                                       progress=progress)
    if "deblur" not in skip and chosen & set(DEBLUR_MODELS):
        models = [m for m in DEBLUR_MODELS if m in chosen]
        records += bench.run_benchmark(models, [deblur_size], device="cpu", runs=args.runs, warmup=args.warmup,
                                       progress=progress)
    if "shipped" not in skip:
        for r in shipped_records(deblur_size, args.runs, args.warmup):
            progress(r)
            records.append(r)
    command = "PYTHONPATH=src python benchmarks/cpu_speed.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    ratio_rows = ratios(records)
    out = Path(args.out)
    make_dirs(out)
    from pixelwise.cpuinfo import describe_cpu, machine_label

    machine = {"label": machine_label(), "isa": args.isa, "cpu_capability": capability,
               "emulated": args.isa != "native", "l2_bytes_override": args.l2_bytes, "cpu": describe_cpu()}
    atomic_write_json(out / "cpu_speed.json", {"command": command.strip(), "machine": machine, "records": records,
                                               "ratios": ratio_rows})
    table = markdown(records, ratio_rows, command.strip())
    atomic_write_text(out / "cpu_speed.md", table)
    print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
