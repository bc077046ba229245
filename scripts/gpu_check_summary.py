"""Summarise a scripts/gpu_check.sh run: WORK (its scratch folder) -> OUT/bench.json, summary.json, summary.md.

    python scripts/gpu_check_summary.py WORK OUT DEVICE
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def load_stages(work: Path) -> list[dict[str, Any]]:
    stages = []
    tsv = work / "stages.tsv"
    for line in tsv.read_text().splitlines() if tsv.exists() else []:
        name, rc, seconds, cap = line.split("\t")
        status = "skipped (budget)" if rc == "skipped" else ("ok" if rc == "0" else
                                                               ("timed out" if rc in ("124", "137") else f"rc={rc}"))
        stages.append({"stage": name, "status": status, "rc": rc, "seconds": int(seconds), "cap_s": int(cap)})
    return stages


def load_bench(work: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(work.glob("bench_*.json")):
        for record in json.loads(path.read_text()):
            record["stage"] = path.stem[len("bench_"):]
            records.append(record)
    return records


def pick(records: list[dict], **match: Any) -> list[dict]:
    return [r for r in records if r.get("median_ms") and all(r.get(k) == v for k, v in match.items())]


def ratio(num: list[dict], den: list[dict]) -> float | None:
    if not num or not den:
        return None
    return min(r["median_ms"] for r in den) / min(r["median_ms"] for r in num)


def headlines(records: list[dict], device: str) -> dict[str, Any]:
    big = (1024, 2048) if device == "cuda" else (64, 128)
    deblur = (720, 1280) if device == "cuda" else (64, 64)
    h, w = big
    out: dict[str, Any] = {"size": f"{h}x{w}", "deblur_size": f"{deblur[0]}x{deblur[1]}"}
    for dt in ("float32", "bfloat16"):
        stage = f"label_{'fp32' if dt == 'float32' else 'bf16'}_{h}x{w}"
        asap_default = pick(records, model="asapnet", height=h, width=w, dtype=dt, stage=stage)
        asap_any = pick(records, model="asapnet", height=h, width=w, dtype=dt)
        p2p = pick(records, model="pix2pixhd", height=h, width=w, dtype=dt)
        out[f"asapnet_vs_pix2pixhd_{dt}_default"] = ratio(asap_default, p2p)
        out[f"asapnet_vs_pix2pixhd_{dt}_best_options"] = ratio(asap_any, p2p)
        if asap_any:
            best = min(asap_any, key=lambda r: r["median_ms"])
            out[f"asapnet_best_ms_{dt}"] = best["median_ms"]
            out[f"asapnet_best_stage_{dt}"] = best["stage"]
            out[f"asapnet_best_input_{dt}"] = best.get("input")
        ids = [r for r in asap_any if str(r.get("input", "")).startswith("label + instance ids")]
        out[f"asapnet_end_to_end_from_ids_ms_{dt}"] = min((r["median_ms"] for r in ids), default=None)
        mem = [r["peak_memory_mb"] for r in asap_any if r.get("peak_memory_mb") is not None]
        out[f"asapnet_peak_memory_mb_{dt}"] = max(mem) if mem else None
        dg = pick(records, model="deblurgan", height=deblur[0], width=deblur[1], dtype=dt)
        dga = pick(records, model="deblurgan-asap", height=deblur[0], width=deblur[1], dtype=dt)
        out[f"deblurgan_asap_vs_deblurgan_{dt}"] = ratio(dga, dg)
    return out


def kernel_summary(out_dir: Path) -> dict[str, Any]:
    path = out_dir / "hr_kernel.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    result: dict[str, Any] = {"meta": data.get("meta"), "best": []}
    rows = data.get("rows", [])
    for key in sorted({(r["height"], r["width"], r["dtype"]) for r in rows if r.get("backend") == "torch"}):
        torch_row = next(r for r in rows if (r["height"], r["width"], r["dtype"]) == key and r["backend"] == "torch")
        tri = [r for r in rows if (r["height"], r["width"], r["dtype"]) == key and r["backend"] == "triton"
               and r.get("median_ms")]
        best = min(tri, key=lambda r: r["median_ms"]) if tri else None
        result["best"].append({
            "size": f"{key[0]}x{key[1]}", "dtype": key[2], "torch_ms": torch_row.get("median_ms"),
            "triton_best_ms": best and best["median_ms"], "knobs": best and best["knobs"],
            "speedup": best and torch_row.get("median_ms") and torch_row["median_ms"] / best["median_ms"],
            "triton_max_err": max((r.get("max_err", 0.0) for r in tri), default=None),
            "torch_max_err": torch_row.get("max_err"), "failed_knob_sets": sum(1 for r in rows if r.get("error")),
        })
    return result


def fmt(value: Any, spec: str = ".3g") -> str:
    if value is None:
        return "–"
    return format(value, spec) if isinstance(value, float) else str(value)


def main() -> int:
    work, out_dir, device = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from pixelwise.bench import format_markdown

    stages = load_stages(work)
    records = load_bench(work)
    (out_dir / "bench.json").write_text(json.dumps(records, indent=1))
    env = json.loads((out_dir / "env.json").read_text()) if (out_dir / "env.json").exists() else {}
    tests_log = (out_dir / "tests.log").read_text() if (out_dir / "tests.log").exists() else ""
    test_line = next((line for line in reversed(tests_log.splitlines()) if " passed" in line or " failed" in line
                      or " error" in line), "no pytest summary line")
    train_log = (out_dir / "train_ddp.log").read_text() if (out_dir / "train_ddp.log").exists() else ""
    summary = {"device": device, "env": env, "stages": stages, "tests": test_line,
               "headlines": headlines(records, device), "hr_kernel": kernel_summary(out_dir),
               "train_lines": [line for line in train_log.splitlines() if line.startswith("pixelwise train:")],
               "bench_records": len(records), "bench_errors": sum(1 for r in records if r.get("error"))}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))

    lines = [f"# gpu_check ({device})", "",
             f"GPU: {env.get('gpus')} · torch {env.get('torch')} · triton {env.get('triton')} · CUDA "
             f"{env.get('torch_cuda')} · NCCL {env.get('nccl')} · python {env.get('python')}", "",
             f"Tests: {test_line}", "", "| stage | status | seconds | cap |", "|---|---|---:|---:|"]
    lines += [f"| {s['stage']} | {s['status']} | {s['seconds']} | {s['cap_s']} |" for s in stages]
    lines += ["", "## Headlines (ratios from this run)", "", "| measure | value |", "|---|---:|"]
    lines += [f"| {k} | {fmt(v)} |" for k, v in summary["headlines"].items()]
    lines += ["", "## Fused Triton high-res kernel vs PyTorch path", ""]
    kernel_md = work / "hr_kernel.md"
    lines.append(kernel_md.read_text() if kernel_md.exists() else "_no kernel benchmark output_")
    lines += ["", "## Train / DDP", ""] + [f"- {line}" for line in summary["train_lines"]] + [""]
    for stage in sorted({r["stage"] for r in records}):
        lines += [f"## bench: {stage}", "", format_markdown([r for r in records if r["stage"] == stage])]
    (out_dir / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:40]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
