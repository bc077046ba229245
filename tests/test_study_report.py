"""The report layer on synthetic data: tables (md + JSON), plots, index.html links, the real-browser check."""

from __future__ import annotations

import json
import math
from pathlib import Path

import browser_check  # scripts/browser_check.py (tests/conftest.py puts scripts/ on the path)
import numpy as np
import pytest

from pixelwise import imagegrid
from pixelwise.errors import PixelwiseError
from pixelwise.study import html, plots, tables
from pixelwise.study import results as study_results

from .helpers import png_ok

HAS_CHROMIUM = browser_check.find_chromium() is not None


def _table() -> dict:
    return {
        "name": "table1",
        "title": "Table 1: labels -> photos",
        "columns": [tables.column("model", "Model", "which generator"),
                    tables.column("fid", "FID (N)", "Frechet distance, N images"),
                    tables.column("kid", "KID ×10³", "kernel inception distance"),
                    tables.column("psnr", "PSNR (dB)", "peak SNR"),
                    tables.column("ssim", "SSIM", "structural similarity"),
                    tables.column("params", "Params", "generator parameters"),
                    tables.column("runtime_ms", "Runtime (ms)", "per image")],
        "rows": [
            {"model": "ASAP-Net", "fid": 123.456, "fid_n": 24, "kid": 0.0123, "kid_std": 0.0021,
             "psnr": 14.2345, "ssim": 0.41234, "params": 2_345_678, "runtime_ms": 3.2109},
            {"model": "pix2pixHD | wide", "fid": None, "fid_n": 24, "fid_status": "unavailable: no weights",
             "kid": None, "psnr": math.nan, "ssim": None, "params": 950, "runtime_ms": 41.0},
        ],
        "notes": ["tiny models"],
    }


def test_table_markdown_and_json(tmp_path: Path) -> None:
    json_path, md_path = tables.write_table(_table(), tmp_path)
    md = md_path.read_text()
    assert "| ASAP-Net | 123.5 (N=24) | 12.3 ± 2.1 | 14.23 | 0.412 | 2.35M | 3.21 |" in md
    assert "pix2pixHD \\| wide | n/a | n/a | — | — | 950 | 41.0 |" in md  # pipe escaped, NaN shown as —
    assert "- tiny models" in md and "- **FID (N)**: Frechet distance, N images." in md
    data = json.loads(json_path.read_text())  # NaN must not leak into JSON
    assert data["rows"][1]["psnr"] is None and data["rows"][0]["fid_n"] == 24
    assert [c["key"] for c in data["columns"]][:2] == ["model", "fid"]


def test_format_cell_fid_always_has_n() -> None:
    assert tables.format_cell("fid", {"fid": 10.0, "fid_n": 8}) == "10.0 (N=8)"
    assert tables.format_cell("fid@0.5", {"fid@0.5": 3.0, "fid_n@0.5": 4}) == "3.0 (N=4)"
    assert tables.format_cell("fid", {"fid": None}) == "—"
    assert tables.format_params(1_500) == "1.50k"


def test_loss_series_skips_bookkeeping() -> None:
    records = [{"step": 1, "epoch": 0, "lr": 1e-3, "loss/G": 1.0, "loss/D": 2.0, "time": 3.0},
               {"step": 2, "loss/G": 0.5, "note": "text"}]
    series = plots.loss_series(records)
    assert sorted(series) == ["loss/D", "loss/G"]
    assert series["loss/G"] == ([1.0, 2.0], [1.0, 0.5])


def test_read_jsonl_skips_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1, "g": 1}\n{"step": 2, "g"')
    assert plots.read_jsonl(path) == [{"step": 1, "g": 1}]
    assert plots.read_jsonl(tmp_path / "absent.jsonl") == []


def _write_plots(out: Path) -> list[str]:
    rng = np.random.default_rng(0)
    records = [{"step": i, "epoch": i // 10, "loss/G_GAN": float(rng.random()), "loss/D": 1 + float(rng.random())}
               for i in range(40)]
    plots.plot_loss_curves(records, out / "loss.png", "ASAP-Net losses")
    plots.plot_loss_curves([], out / "loss_empty.png", "nothing logged")
    plots.plot_metric_curves({"A": [{"epoch": 1, "fid": 10.0, "psnr": 20.0}, {"epoch": 2, "fid": 8.0, "psnr": 21.0}],
                               "B": [{"epoch": 1, "fid": None, "psnr": 19.0}]},
                              [("fid", "FID"), ("kid", "KID"), ("psnr", "PSNR"), ("ssim", "SSIM")],
                              out / "metrics.png", "label task")
    plots.plot_runtime_bars({"demo @ 64x128": {"A": 1.2, "B": 3.4}, "full-size @ 256x512": {"A": 12.0, "B": None}},
                             out / "runtime.png", "CPU (2 threads)")
    import torch

    grid = [[torch.rand(3, 32, 64) * 2 - 1, np.zeros((32, 64, 3), np.uint8), torch.zeros(1, 32, 64)]]
    imagegrid.save_image_grid(grid, out / "grid.png", ["input", "output", "target"], ["image 1"], "strength 0.5")
    return ["loss.png", "loss_empty.png", "metrics.png", "runtime.png", "grid.png"]


def test_plots_are_real_pngs(tmp_path: Path) -> None:
    for name in _write_plots(tmp_path):
        assert png_ok(tmp_path / name), name


def test_to_uint8_image_layouts() -> None:
    assert imagegrid.to_uint8_image(np.full((3, 4, 5), -1.0)).shape == (4, 5, 3)
    assert imagegrid.to_uint8_image(np.full((4, 5), 1.0)).max() == 255
    assert imagegrid.to_uint8_image(np.zeros((4, 5, 3), np.uint8)).dtype == np.uint8


def _report(out: Path) -> Path:
    names = _write_plots(out)
    sections = [html.Section("Table 1", ["numbers"], table=_table(), anchor="table1"),
                html.Section("Figures", figures=[html.Figure(n, f"figure {n}") for n in names])]
    return html.write_index_html(out, "Study <demo>", sections, banner=["tiny models trained for minutes"])


def test_index_html_links_resolve(tmp_path: Path) -> None:
    path = _report(tmp_path)
    text = path.read_text()
    assert "Study &lt;demo&gt;" in text and "123.5 (N=24)" in text
    images, _ = html.html_links(path)
    assert len(images) == 5 and all(not Path(src).is_absolute() for src in images)
    assert html.missing_links(path) == []


def test_missing_links_reported(tmp_path: Path) -> None:
    sections = [html.Section("x", figures=[html.Figure("absent.png")])]
    with pytest.raises(PixelwiseError, match="absent.png"):
        html.write_index_html(tmp_path, "t", sections)
    (tmp_path / "empty.png").write_bytes(b"")
    page = tmp_path / "p.html"
    page.write_text('<img src="empty.png"><img src="/abs/x.png"><a href="#top">t</a><a href="https://x.org">x</a>')
    assert html.missing_links(page) == ["empty.png", "/abs/x.png"]


@pytest.mark.skipif(not HAS_CHROMIUM, reason="headless Chromium not installed (Debian package `chromium`)")
def test_report_in_real_browser(tmp_path: Path) -> None:
    path = _report(tmp_path)
    check = browser_check.check_in_browser(path, screenshot=tmp_path / "shot.png")
    assert check.total_images == 5 and check.broken_images == [] and check.tables == 1
    assert check.ok and check.screenshot is not None and not browser_check.screenshot_is_blank(check.screenshot)
    assert not list(tmp_path.glob(".*browser-check.html"))  # the probe copy is cleaned up


@pytest.mark.skipif(not HAS_CHROMIUM, reason="headless Chromium not installed (Debian package `chromium`)")
def test_browser_check_catches_broken_image(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    _write_plots(tmp_path)
    page = tmp_path / "index.html"
    page.write_text('<!DOCTYPE html><html><body><img src="loss.png"><img src="bad.png"><img src="gone.png">'
                    "</body></html>")
    check = browser_check.check_in_browser(page, screenshot=tmp_path / "shot.png")
    assert check.total_images == 3
    assert sorted(check.broken_images) == ["bad.png", "gone.png"] and not check.ok


def _synthetic_results(out: Path, fid_available: bool = True, strengths: tuple[float, ...] = (0.25, 1.0)) -> dict:
    """A results.json as pixelwise.study.runner writes it, with fake run dirs and grids. Final PSNRs: ASAP-Net
    13.0 (label-colour baseline 12.5), pix2pixHD 11.5 (below it); DeblurGAN(-ASAP) psnr@0.25 22.75 (below the
    blurred input's 25.0), psnr@1 22.0 (above its 18.0)."""
    rng = np.random.default_rng(1)
    strengths = list(strengths)

    def model(key: str, name: str, deblur: bool, shift: float = 0.0) -> dict:
        run = out / "runs" / key
        run.mkdir(parents=True)
        lines = [json.dumps({"step": i, "epoch": i // 5, "loss/G": float(rng.random())}) for i in range(15)]
        (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        epochs = []
        for e in (1, 2, 3):
            rec = {"epoch": e, "step": 5 * e, "psnr": 10.0 + e + shift, "ssim": 0.1 * e,
                   "fid": 300.0 - e if fid_available else None, "fid_n": 6, "kid": 0.1 / e if fid_available else None,
                   "kid_std": 0.01 if fid_available else None}
            if deblur:
                rec.update({f"psnr@{s:g}": 20.0 + e - s for s in strengths})
                rec.update({f"ssim@{s:g}": 0.5 + 0.1 * e - s / 4 for s in strengths})
            epochs.append(rec)
        return {"key": key, "name": name, "registry": key, "run_dir": f"runs/{key}", "params": 12345,
                "epochs": epochs, "final": epochs[-1], "runtime_ms": 2.5, "runtime_size": [32, 64],
                "fullsize_runtime_ms": 250.0, "fullsize_params": 1_000_000, "steps": 15, "train_seconds": 9.0}

    figures = out / html.FIGURES_DIR
    figures.mkdir(parents=True)
    grid = [[np.zeros((32, 64, 3), np.uint8)] * 4]
    imagegrid.save_image_grid(grid, figures / "grid_labels.png", ["a", "b", "c", "d"])
    imagegrid.save_image_grid(grid, figures / "grid_s1.png", ["a", "b", "c", "d"])
    results = {
        "format_version": 1, "study": "synthetic", "demo": True, "device": "CPU: test (2 threads)", "torch": "x",
        "elapsed_s": 61.0,
        "fid": {"available": fid_available, "reason": None if fid_available else "no Inception weights", "n": 6},
        "bench": {"size": [32, 64], "fullsize": {"status": "ok", "size": [256, 512]}},
        "labels": {"data": {"format": "bundled-labels", "eval_images": 6, "size": [32, 64]},
                   "models": [model("asapnet", "ASAP-Net", False), model("pix2pixhd", "pix2pixHD", False, -1.5)],
                   "baseline": {"psnr": 12.5, "ssim": 0.3, "fid": 310.0 if fid_available else None, "fid_n": 6,
                                "kid": 0.2 if fid_available else None, "kid_std": 0.0},
                   "grid": f"{html.FIGURES_DIR}/grid_labels.png"},
        "deblur": {"strengths": strengths, "data": {"format": "bundled-blur", "eval_images": 3, "size": [32, 64]},
                   "baseline": {**{f"psnr@{s:g}": 25.0 - 7.0 * (s - 0.25) / 0.75 for s in strengths},
                                **{f"ssim@{s:g}": 0.8 - 0.3 * s for s in strengths}, "psnr": 21.5,
                                "ssim": 0.65, "fid": 50.0 if fid_available else None, "fid_n": 6},
                   "models": [model("deblurgan", "DeblurGAN", True), model("deblurgan-asap", "DeblurGAN-ASAP", True)],
                   "grids": {"1": f"{html.FIGURES_DIR}/grid_s1.png"}},
    }
    (out / study_results.RESULTS_NAME).write_text(json.dumps(results))
    return results


@pytest.mark.parametrize("fid_available", [True, False])
def test_study_report_from_results(tmp_path: Path, fid_available: bool) -> None:
    _synthetic_results(tmp_path, fid_available)
    index = html.write_study_report(tmp_path)
    assert html.missing_links(index) == []
    t1 = json.loads((tmp_path / "table1.json").read_text())
    t2 = json.loads((tmp_path / "table2.json").read_text())
    assert [r["model"] for r in t1["rows"]] == ["Label colour (no model)", "ASAP-Net", "pix2pixHD"]
    assert [r["key"] for r in t1["rows"]] == ["label-colour", "asapnet", "pix2pixhd"]
    assert [r["model"] for r in t2["rows"]] == ["Blurred input (no model)", "DeblurGAN", "DeblurGAN-ASAP"]
    assert t2["rows"][0]["key"] == "input"
    keys2 = [c["key"] for c in t2["columns"]]
    assert {"psnr@0.25", "ssim@0.25", "psnr@1", "ssim@1", "psnr", "ssim", "fid", "kid", "runtime_ms", "params",
            "fullsize_runtime_ms"} <= set(keys2)
    row = t1["rows"][1]
    assert row["psnr"] == 13.0 and row["fid_n"] == 6 and row["epochs"] == 3 and row["runtime_ms"] == 2.5
    md1 = (tmp_path / "table1.md").read_text()
    if fid_available:
        assert row["fid"] == 297.0 and row["fid_status"] == "ok" and "297.0 (N=6)" in md1
        assert "only N=6 images per side" in md1
    else:
        assert row["fid"] is None and row["fid_status"] == "unavailable: no Inception weights"
        assert "FID/KID unavailable: no Inception weights" in md1 and "| n/a |" in md1
    page = index.read_text()
    assert "Demo run: tiny models" in page and "CPU: test (2 threads)" in page
    assert "label colour (the baseline)" in page  # the grid caption names the baseline column
    for name in ("loss_asapnet", "loss_deblurgan-asap", "metrics_labels", "metrics_deblur", "runtime"):
        assert png_ok(tmp_path / html.FIGURES_DIR / f"{name}.png")


def test_study_report_needs_results(tmp_path: Path) -> None:
    with pytest.raises(PixelwiseError, match="results.json"):
        html.write_study_report(tmp_path)



def test_busy_machine_timing_warning(tmp_path: Path) -> None:
    results = _synthetic_results(tmp_path)
    typed = study_results.results_from_json
    assert tables.busy_timing_note(typed(results)) is None
    results["bench"]["loads"] = [{"load1": 1.9, "cpus": 2, "torch_threads": 2}]
    assert tables.busy_timing_note(typed(results)) is None  # the study's own threads
    results["bench"]["load_before_fullsize"] = {"load1": 3.4, "cpus": 2, "torch_threads": 2}
    note = tables.busy_timing_note(typed(results))
    assert note is not None and "3.4 on 2 CPUs" in note
    index = html.write_study_report(tmp_path, results)
    assert "other programs were running" in index.read_text()
    assert any("other programs" in n for n in json.loads((tmp_path / "table2.json").read_text())["notes"])


def test_rows_worse_than_the_baseline_are_marked_and_said(tmp_path: Path) -> None:
    _synthetic_results(tmp_path)
    index = html.write_study_report(tmp_path)
    t1 = json.loads((tmp_path / "table1.json").read_text())
    t2 = json.loads((tmp_path / "table2.json").read_text())
    assert "below_baseline" not in t1["rows"][0]  # the baseline itself
    assert t1["rows"][1]["below_baseline"] == [] and t1["rows"][2]["below_baseline"] == ["psnr"]
    assert t2["rows"][1]["below_baseline"] == ["psnr@0.25", "psnr"]  # 22.75 < 25.0, 13.0 < 21.5; psnr@1 22 > 18
    md1, md2 = (tmp_path / "table1.md").read_text(), (tmp_path / "table2.md").read_text()
    assert f"| 11.50 {tables.BELOW_BASELINE_MARK} |" in md1 and f"| 13.00 {tables.BELOW_BASELINE_MARK}" not in md1
    sentences = [n for n in t1["notes"] if "is worse than the baseline" in n]
    assert len(sentences) == 1 and sentences[0].startswith("pix2pixHD is worse than the baseline (Label colour")
    assert "on PSNR (PSNR (dB): 11.50 vs 12.50 dB; marked" in sentences[0]
    assert sum("is worse than the baseline" in n for n in t2["notes"]) == 2  # both deblurring models
    assert f"22.75 {tables.BELOW_BASELINE_MARK}" in md2
    page = index.read_text()
    assert page.count('class="worse"') == 1 + 2 * 2 and "pix2pixHD is worse than the baseline" in page


def test_worse_row_marks_every_psnr_column() -> None:
    rows = [{"model": "base", "psnr": 20.0, "psnr@1": 18.0}, {"model": "m", "psnr": 19.0, "psnr@1": 17.0},
            {"model": "ok", "psnr": 21.0, "psnr@1": None}]
    tables.mark_below_baseline(rows, ["psnr@1", "psnr"])
    assert rows[1]["below_baseline"] == ["psnr@1", "psnr"] and rows[2]["below_baseline"] == []
    columns = [tables.column("psnr@1", "PSNR s=1", "x"), tables.column("psnr", "PSNR all", "x")]
    (sentence,) = tables.baseline_sentences(rows, columns, "it damages the photos.")
    assert sentence == ("m is worse than the baseline (base) on PSNR (every PSNR column; PSNR all 19.00 vs 20.00 dB; "
                        f"marked {tables.BELOW_BASELINE_MARK}): it damages the photos.")


def test_report_says_each_caveat_once(tmp_path: Path) -> None:
    results = _synthetic_results(tmp_path)
    results["bench"]["load_before_fullsize"] = {"load1": 3.4, "cpus": 2, "torch_threads": 2}
    page = html.write_study_report(tmp_path, results).read_text()
    for phrase in ("other programs were running", "Demo run: tiny models", "FID/KID are computed from only"):
        assert page.count(phrase) == 1, phrase
    for phrase in ("other programs were running", "Demo run: tiny models"):  # the md files stay self-contained
        assert phrase in (tmp_path / "table1.md").read_text() and phrase in (tmp_path / "table2.md").read_text()
    _, links = html.html_links(tmp_path / "index.html")
    for name in ("table1.md", "table1.json", "table2.md", "table2.json", "results.json"):
        assert links.count(name) == 1, name


def test_files_section_says_what_the_runs_hold(tmp_path: Path) -> None:
    results = _synthetic_results(tmp_path)
    page = html.write_study_report(tmp_path, results).read_text()
    assert "switched off samples/ grids (train.sample_every=0) and TensorBoard events" in page
    for key in ("asapnet", "deblurgan"):
        (tmp_path / "runs" / key / "samples").mkdir()
        (tmp_path / "runs" / key / "samples" / "step_2.png").write_bytes(b"x")
        (tmp_path / "runs" / key / "tensorboard").mkdir()
        (tmp_path / "runs" / key / "tensorboard" / "events.out.tfevents.1").write_bytes(b"x")
    page = html.write_study_report(tmp_path, results).read_text()
    assert "switched off" not in page and "samples/ (input | output | target grids" in page
    assert "TensorBoard events" in page


def test_loss_plot_caption_matches_what_is_drawn() -> None:
    many = [{"step": i, "g_total": float(i % 5)} for i in range(36)]
    few = [{"step": i, "g_total": 1.0} for i in range(4)]
    assert plots.smoothing_window(36) == 3 and plots.smoothing_window(100) == 10 and plots.smoothing_window(5) == 1
    assert "solid: moving average over 3" in plots.loss_plot_caption(many)
    assert "raw logged values (4 per loss; too few" in plots.loss_plot_caption(few)
    assert plots.loss_plot_caption([]) == "no losses were logged"


@pytest.mark.skipif(not HAS_CHROMIUM, reason="headless Chromium not installed (Debian package `chromium`)")
def test_study_tables_fit_a_1400px_window(tmp_path: Path) -> None:
    _synthetic_results(tmp_path, strengths=(0.25, 0.5, 0.75, 1.0))  # the demo's width of table 2
    index = html.write_study_report(tmp_path)
    check = browser_check.check_in_browser(index, screenshot=tmp_path / "shot.png", window_size=(1400, 2000))
    assert check.tables == 2 and check.clipped_tables == []


def test_metric_curves_draw_the_baseline_line_where_it_has_a_value(tmp_path: Path) -> None:
    from pixelwise.study.results import Scores

    per_model = {"A": [{"epoch": 1, "psnr": 20.0}, {"epoch": 2, "psnr": 21.0}]}
    metrics = [("psnr", "PSNR"), ("ssim", "SSIM")]
    plain = plots.plot_metric_curves(per_model, metrics, tmp_path / "plain.png", "t")
    unused = plots.plot_metric_curves(per_model, metrics, tmp_path / "unused.png", "t",
                                      baseline=("input", Scores(ssim=0.5)))
    drawn = plots.plot_metric_curves(per_model, metrics, tmp_path / "drawn.png", "t",
                                     baseline=("input", Scores(psnr=19.0)))

    def pixels(path: Path) -> np.ndarray:
        from PIL import Image

        return np.asarray(Image.open(path).convert("RGB"))

    # a baseline value only for a panel with no model curve (SSIM) is not drawn; a PSNR baseline is
    assert np.array_equal(pixels(plain), pixels(unused))
    assert not np.array_equal(pixels(plain), pixels(drawn))


def test_pretrained_rows_follow_the_trained_ones_marked_and_said(tmp_path: Path) -> None:
    from pixelwise.study.results import Scores

    results = _synthetic_results(tmp_path)
    final = {"epoch": 0, "step": 0, "psnr": 23.0, "ssim": 0.7, "fid": 40.0, "fid_n": 6, "kid": 0.01, "kid_std": 0.0,
             "psnr@0.25": 24.0, "ssim@0.25": 0.75, "psnr@1": 19.0, "ssim@1": 0.5}
    results["deblur"]["pretrained"] = [{"key": "pretrained:deblurgan-asap-x", "name": "deblurgan-asap-x (pretrained)",
                                        "registry": "deblurgan-asap", "params": 99, "final": final,
                                        "runtime_ms": 3.0, "runtime_size": [32, 64], "pretrained": True,
                                        "source": "pixelwise/deblurgan-asap-x"}]
    index = html.write_study_report(tmp_path, results)
    t2 = json.loads((tmp_path / "table2.json").read_text())
    assert [r["pretrained"] for r in t2["rows"][1:]] == [False, False, True]
    row = t2["rows"][-1]
    assert row["model"] == "deblurgan-asap-x (pretrained)" and row["source"] == "pixelwise/deblurgan-asap-x"
    assert row["psnr@1"] == 19.0 and row["epochs"] is None and row["steps"] is None and row["train_seconds"] is None
    assert row["below_baseline"] == ["psnr@0.25"]  # 24.0 < 25.0; 19.0 > 18.0, 23.0 > 21.5
    md = (tmp_path / "table2.md").read_text()
    assert f"| deblurgan-asap-x (pretrained) | 24.00 {tables.BELOW_BASELINE_MARK} |" in md
    assert "Rows marked (pretrained)" in md and "pixelwise/deblurgan-asap-x" in md and "not by this demo" in md
    assert "deblurgan-asap-x (pretrained) is worse than the baseline" in md
    page = index.read_text()
    assert "Dotted lines: the shipped deblurrers (deblurgan-asap-x (pretrained))" in page
    assert "DeblurGAN-ASAP | deblurgan-asap-x (pretrained) | sharp" in page  # the grid caption's columns
    groups = plots.runtime_groups(study_results.results_from_json(results))
    assert groups["study models (demo widths) and shipped (pretrained) @ 32x64"] == {
        "ASAP-Net": 2.5, "pix2pixHD": 2.5, "DeblurGAN": 2.5, "DeblurGAN-ASAP": 2.5,
        "deblurgan-asap-x (pretrained)": 3.0}
    assert png_ok(tmp_path / html.FIGURES_DIR / "metrics_deblur.png")
    # a reference line is drawn only where it has a value, like the baseline
    per_model = {"A": [{"epoch": 1, "psnr": 20.0}, {"epoch": 2, "psnr": 21.0}]}
    plain = plots.plot_metric_curves(per_model, [("psnr", "PSNR")], tmp_path / "plain.png", "t")
    drawn = plots.plot_metric_curves(per_model, [("psnr", "PSNR")], tmp_path / "drawn.png", "t",
                                     references=[("P (pretrained)", Scores(psnr=22.0))])
    assert plain.read_bytes() != drawn.read_bytes()
