"""Render the results tables of README.md and docs/*.md from the committed benchmark JSON in docs/results/.

Every results table in the docs sits between two markers::

    <!-- results: NAME -->
    ... (written by this script: never edit by hand)
    <!-- /results -->

and NAME says what is rendered there (see :data:`RENDERERS`): the demo study's tables (``pixelwise demo``'s
``table1.json`` / ``table2.json``), the shipped deblurrers (``benchmarks/shipped_deblurrers.py``'s
``results.json``), the speed tables (``pixelwise bench --json`` records), the blur-strength tables
(``benchmarks/blur_strength_table.py --json``) and the training presets (from ``configs/``). Each table says
the command, date and hardware that produced it (from its JSON).

    python scripts/render_results.py            # rewrite every marked block from docs/results/*.json
    python scripts/render_results.py --check    # exit 1, naming the stale blocks, if any differs

To update a number, replace its JSON with the benchmark's new output (keep or update the ``measured`` /
``command`` / ``date`` / machine fields) and run the script; ``tests/test_docs.py`` fails while a table differs
from what this script renders.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
MARKED = re.compile(r"(<!-- results: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /results -->)", re.S)


def documents() -> list[Path]:
    """The files whose marked blocks this script owns: README.md and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def load(name: str) -> dict[str, Any]:
    return json.loads((RESULTS / name).read_text())


def md_table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    sep = "|".join("---:" if a == "r" else "---" for a in align)
    lines = ["| " + " | ".join(header) + " |", f"|{sep}|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value: Any, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}"


# --- the demo study (pixelwise demo: table1.json / table2.json, the study's table layout) -----------------------
def _measured_line(measured: Mapping[str, Any] | None) -> str:
    if not measured:
        raise SystemExit("a demo table JSON in docs/results/ has no 'measured' record (command, date, hardware, "
                         "torch): add it after copying the run's table1.json / table2.json")
    line = (f"Measured with `{measured['command']}`, {measured['date']}, {measured['hardware']}, "
            f"torch {measured['torch']}")
    if measured.get("wall_time"):
        line += f"; the study took {measured['wall_time']}"
    line += "."
    if measured.get("source"):
        line += f" (JSON {measured['source']}.)"
    return line


def _mark(text: str, key: str, row: Mapping[str, Any]) -> str:
    return f"{text} ▼" if key in (row.get("below_baseline") or ()) else text


def _name(row: Mapping[str, Any]) -> str:
    return f"{row['model']} (`{row['key']}`)"


def demo_table1() -> str:
    table = load("demo-table1.json")
    rows = table["rows"]
    n = next((r["fid_n"] for r in rows if r.get("fid_n")), "?")
    size = next((r["runtime_size"] for r in rows if r.get("runtime_size")), None)
    header = [f"Table 1 (label map -> photo, N={n})", "PSNR dB", "SSIM", f"FID (N={n})", "KID x10^3",
              f"ms @{size[0]}x{size[1]}" if size else "ms"]
    body = [[_name(r), _mark(fmt(r["psnr"], 2), "psnr", r), fmt(r["ssim"], 3), fmt(r["fid"], 1),
             fmt(None if r["kid"] is None else r["kid"] * 1e3, 1), fmt(r.get("runtime_ms"), 2)] for r in rows]
    return _measured_line(table.get("measured")) + "\n\n" + md_table(header, body)


def demo_table2() -> str:
    table = load("demo-table2.json")
    rows = table["rows"]
    labels = [f"{s:g}" for s in table["strengths"]]
    n = next((r["fid_n"] for r in rows if r.get("fid_n")), "?")
    header = ["Table 2 (deblurring; PSNR dB, gain over the input)",
              *(f"s={s}" for s in labels), "all", f"FID (N={n})"]
    base = rows[0]
    body = []
    for r in rows:
        cells = []
        for key in [f"psnr@{s}" for s in labels]:
            text = fmt(r[key], 2)
            if r is not base and r[key] is not None and base[key] is not None:
                text += f" ({signed(r[key] - base[key], 2)})"
            cells.append(_mark(text, key, r))
        body.append([_name(r), *cells, _mark(fmt(r["psnr"], 2), "psnr", r), fmt(r["fid"], 1)])
    notes = " ".join(table.get("notes", []))
    return _measured_line(table.get("measured")) + (f" {notes}" if notes else "") + "\n\n" + md_table(header, body)


# --- the shipped deblurrers (benchmarks/shipped_deblurrers.py's results.json) -----------------------------------
def _shipped() -> dict[str, Any]:
    return load("shipped-deblurrers.json")


def _score_table(result: Mapping[str, Any], metric: str) -> str:
    scores = result["scores"]
    strengths = [k for k in scores["input"] if k != "all"] + ["all"]
    digits, unit = (2, " dB") if metric == "psnr" else (3, "")
    header = [f"{metric.upper()}{unit} (gain over the input)", *(f"s={s}" if s != "all" else "all" for s in strengths)]
    body = []
    for key in ["input", *(k for k in scores if k != "input")]:
        label = "Blurred input (no model) (`input`)" if key == "input" else f"`pixelwise/{key}`"
        cells = []
        for s in strengths:
            v = scores[key][s]
            gain = "" if key == "input" else f" ({signed(v[f'{metric}_gain'], digits)})"
            cells.append(f"{v[metric]:.{digits}f}{gain}")
        body.append([label, *cells])
    return md_table(header, body)


def _shipped_setup(result: Mapping[str, Any]) -> str:
    setup, machine = result["setup"], result["machine"]
    load_ = (machine.get("load") or {}).get("load1")
    text = (f"{setup['images']} held-out crops {setup['crop']}x{setup['crop']} of photos {setup['width']} px wide, "
            f"`pixelwise blur --strength s --max-length {setup['max_length']:g} --seed {setup['seed']}`, restored "
            f"with `pixelwise deblur`. Measured with `{result['command']}`, {result['date']}, {machine['cpu']} "
            f"({machine['cpus']} cores, {machine['torch_threads']} torch threads"
            + (f", load average {load_}" if load_ is not None else "") + f"), torch {machine['torch']}.")
    if result.get("source"):
        text += f" (JSON {result['source']}.)"
    return text


def shipped_deblurrers() -> str:
    result = _shipped()
    setup = result["setup"]
    sizes = [tuple(s) for s in setup["bench_sizes"]]
    header = ["CPU ms per image (batch 1, float32)", *(f"{h}x{w}" for h, w in sizes)]
    body = []
    for key, records in result["bench"].items():
        by_size = {(r["height"], r["width"]): r.get("median_ms") for r in records}
        body.append([f"`pixelwise/{key}`", *(fmt(by_size.get(s), 1) for s in sizes)])
    return "\n\n".join([_shipped_setup(result), _score_table(result, "psnr"), _score_table(result, "ssim"),
                        f"CPU time (`pixelwise.bench`, median of {setup['bench_runs']} runs):", md_table(header, body)])


def shipped_deblurrers_psnr() -> str:
    result = _shipped()
    machine = result["machine"]
    return (f"Measured with `{result['command']}`, {result['date']}, {machine['cpu']} ({machine['cpus']} cores), "
            f"torch {machine['torch']}.\n\n" + _score_table(result, "psnr"))


# --- blur strength (benchmarks/blur_strength_table.py --json) ---------------------------------------------------
def blur_strength(length: int) -> Callable[[], str]:
    def render() -> str:
        result = load(f"blur-strength-{length}.json")
        setup, machine = result["setup"], result["machine"]
        images = result["rows"][0]["images"]
        header = ["strength", "path px", "mean RMS spread px", "mean footprint px",
                  f"PSNR blurred vs sharp (dB, {images} photos)"]
        body = [[f"{r['strength']:g}", f"{r['path_px']:g}", f"{r['spread_px']:.2f}", f"{r['footprint_px']:.1f}",
                 "identity" if r["psnr"] is None else f"{r['psnr']:.2f}"] for r in result["rows"]]
        line = (f"`{result['command']}` ({setup['kernels']} kernel seeds per strength, photos at "
                f"{setup['size']}x{setup['size']}; {result['date']}, {machine['cpu']}, torch {machine['torch']}; "
                f"deterministic numbers, not timings):")
        return line + "\n\n" + md_table(header, body, "lrrrr")
    return render


# --- speed (pixelwise bench --json records, several runs in one file) -------------------------------------------
def _params(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1e6:.3g}M" if value >= 1e6 else f"{value / 1e3:.3g}k"


def _gflops(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}" if value >= 1000 else f"{value:.3g}"


def _bench_label(record: Mapping[str, Any]) -> str:
    if record["model"] == "asapnet":
        return "asapnet (fast)"
    s = (record.get("options") or {}).get("downsampling")
    return f"{record['model']} (S={s})" if record["model"] == "deblurgan-asap" and s else record["model"]


def bench_table(name: str, ratio_key: str, ratio_label: str) -> Callable[[], str]:
    """The records of ``docs/results/<name>.json`` ({"measured", "runs": [{"command", "records"}]}) that have
    ``ratio_key``: model, size, params, GFLOPs, median ms and the ratio from the record's own run."""
    def render() -> str:
        result = load(f"{name}.json")
        measured = result["measured"]
        runs = [run for run in result["runs"] if any(r.get(ratio_key) is not None for r in run["records"])]
        lines = [f"{measured['hardware']}, torch {measured['torch']}, {measured['setup']}, {measured['date']}; "
                 f"{'one run' if len(runs) == 1 else f'{len(runs)} runs'}, every ratio within its own run:", "",
                 "```bash", *(run["command"] for run in runs), "```", ""]
        rows = [[_bench_label(r), f"{r['height']}x{r['width']}", _params(r.get("params")), _gflops(r.get("gflops")),
                 f"{r['median_ms']:.0f}", f"{r[ratio_key]:.2f}"]
                for run in runs for r in run["records"] if r.get(ratio_key) is not None]
        table = md_table(["model", "size", "params", "GFLOPs", "median ms", ratio_label], rows, "llrrrr")
        source = f"\n\n(JSON {result['source']}.)" if result.get("source") else ""
        return "\n".join([*lines, table]) + source
    return render


def cpu_isa_table() -> str:
    """``docs/results/cpu-speed-isa.json``: ASAP-Net fast vs reference at one size, before/after a change, under the
    CPU's own ISA and an emulated narrower one (``benchmarks/cpu_speed.py --isa``); ratios within each run."""
    result = load("cpu-speed-isa.json")
    measured = result["measured"]
    lines = [f"{measured['hardware']}, torch {measured['torch']}, {measured['setup']}, {measured['date']}; "
             f"{measured['load']}. Commands:", "", "```bash", *dict.fromkeys(r["command"] for r in result["rows"]),
             "```", ""]
    rows = [[r["code"], r["isa"], r["block_l2"], f"{r['fast_cpu_ms']:.0f}", f"{r['reference_cpu_ms']:.0f}",
             f"{r['reference_cpu_ms'] / r['fast_cpu_ms']:.2f}x", f"{r['fast_wall_ms']:.0f}",
             f"{r['reference_wall_ms']:.0f}", f"{r['reference_wall_ms'] / r['fast_wall_ms']:.2f}x",
             "-".join(f"{x:.1f}" for x in r["load1"])]
            for r in result["rows"]]
    table = md_table(["code", "ISA code paths", "blocks sized for L2", "fast CPU ms", "reference CPU ms",
                      "reference / fast (CPU)", "fast wall ms", "reference wall ms", "reference / fast (wall)",
                      "load average"], rows, "lllrrrrrrr")
    return "\n".join([*lines, table])


# --- the training presets (configs/*.yaml) ---------------------------------------------------------------------
def _pixelwise() -> None:
    if str(ROOT / "src") not in sys.path:
        sys.path.insert(0, str(ROOT / "src"))


def _benchmarks() -> None:
    """Make pixelwise and the benchmark scripts (whose own renderers print their tables) importable."""
    _pixelwise()
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))


def presets() -> str:
    _pixelwise()
    from pixelwise.presets import describe_presets

    rows = [[f"`{p['name']}`", p["size"], p["description"]] for p in describe_presets()]
    return md_table(["preset", "size", "description"], rows, "lll")


def preset_aliases() -> str:
    _pixelwise()
    from pixelwise.presets import PRESET_ALIASES

    rows = [[f"`{old}`", f"`{new}`"] for old, new in sorted(PRESET_ALIASES.items())]
    return md_table(["old name (alias)", "preset"], rows, "ll")


def deblur_realworld() -> str:
    """benchmarks/deblur_realworld.py's results.json, rendered by that script's own ``render``."""
    _benchmarks()
    from deblur_realworld import render

    return render(load("deblur-realworld.json"))


def cpu_speed(name: str) -> Callable[[], str]:
    """``docs/results/<name>.json``, a copy of ``benchmarks/cpu_speed.py``'s cpu_speed.json, rendered by that
    script's own ``markdown`` (the command, the CPU, the load, every row and the ratios within the run)."""
    def render() -> str:
        _benchmarks()
        from cpu_speed import markdown

        result = load(f"{name}.json")
        return markdown(result["records"], result["ratios"], result["command"]).rstrip("\n")
    return render


def deblur_throughput() -> str:
    """benchmarks/deblur_throughput.py's results.json, rendered by that script's own ``markdown``."""
    _benchmarks()
    from deblur_throughput import markdown

    return markdown(load("deblur-throughput.json")).rstrip("\n")


def deblur_realworld_summary() -> str:
    """One row per model of benchmarks/deblur_realworld.py's results.json (its ``summary``), with the command."""
    _benchmarks()
    from deblur_realworld import summary

    result = load("deblur-realworld.json")
    setup = result["setup"]
    load1 = (result["machine"].get("load") or {}).get("load1")
    return (f"Measured with `{result['command']}`, {result['date']}, {result['machine']['cpu']} (2 cores"
            + (f", load average {load1} at the start: the times are inflated" if load1 and load1 > 2 else "") + "), "
            f"{setup['images']} held-out crops at a {setup['short_side']}-px short side, strengths "
            f"{', '.join(f'{s:g}' for s in setup['strengths'] if s)}:\n\n" + summary(result))


RENDERERS: dict[str, Callable[[], str]] = {
    "deblur-realworld": deblur_realworld,
    "deblur-realworld-summary": deblur_realworld_summary,
    "demo-table1": demo_table1,
    "demo-table2": demo_table2,
    "shipped-deblurrers": shipped_deblurrers,
    "shipped-deblurrers-psnr": shipped_deblurrers_psnr,
    "blur-strength-60": blur_strength(60),
    "blur-strength-24": blur_strength(24),
    "blur-strength-12": blur_strength(12),
    "speed-cpu-labels": bench_table("bench-cpu-xeon", "speedup_vs_pix2pixhd", "x vs pix2pixHD (global)"),
    "speed-cpu-deblur": bench_table("bench-cpu-xeon", "speedup_vs_deblurgan", "x vs DeblurGAN"),
    "speed-cpu-isa": cpu_isa_table,
    "cpu-speed-native": cpu_speed("cpu-speed-native"),
    "cpu-speed-avx2": cpu_speed("cpu-speed-avx2"),
    "deblur-throughput": deblur_throughput,
    "presets": presets,
    "preset-aliases": preset_aliases,
}


def render_text(text: str, where: str = "text") -> str:
    """``text`` with every marked block re-rendered; an unknown block name is an error naming ``where``."""
    cache: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in RENDERERS:
            raise SystemExit(f"{where}: unknown results block {name!r}; known: {', '.join(RENDERERS)}")
        if name not in cache:
            cache[name] = RENDERERS[name]().rstrip("\n") + "\n"
        return match.group(1) + cache[name] + match.group(4)

    return MARKED.sub(replace, text)


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def stale_blocks(paths: list[Path] | None = None) -> list[str]:
    """``file: block`` for every marked block whose text differs from what :func:`render_text` gives."""
    out = []
    for path in paths or documents():
        text = path.read_text()
        rendered = render_text(text, str(path))
        if rendered != text:
            new = {m["name"]: m["body"] for m in MARKED.finditer(rendered)}
            out += [f"{_shown(path)}: {m['name']}" for m in MARKED.finditer(text)
                    if new.get(m["name"]) != m["body"]]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if a table differs from its JSON")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_blocks()
        for item in stale:
            print(f"stale: {item} (run python scripts/render_results.py)")
        return 1 if stale else 0
    for path in documents():
        text = path.read_text()
        rendered = render_text(text, str(path))
        if rendered != text:
            path.write_text(rendered)
            print(f"rendered {_shown(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
