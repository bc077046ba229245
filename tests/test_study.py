"""The study end to end on a preset tinier than `demo` (seconds on 2 CPU cores), the study config machinery,
and the two CLI commands' wiring."""

from __future__ import annotations

import json
from pathlib import Path

import browser_check  # scripts/browser_check.py (tests/conftest.py puts scripts/ on the path)
import pytest

from pixelwise.errors import PixelwiseError
from pixelwise.study import config as study_config
from pixelwise.study import html, plots
from pixelwise.study import runner as study

from .helpers import png_ok

# The demo preset shrunk to a couple of optimisation steps per model: two epochs (so the per-epoch curves
# have two points), 4 training images, 2 evaluation images, 32x64 label maps, 64x64 photos, a 32x64
# "full-size" bench (default widths) so that every code path of the real demo runs.
TINY = [
    "epochs=2",
    "train_overrides=[train.progress=false,train.tensorboard=false,train.sample_every=0,"
    "train.checkpoint_every=0,train.keep_checkpoints=1,train.log_every=1]",
    "labels.data.load_height=32", "labels.data.load_width=64", "labels.data.max_images=4",
    "labels.eval_images=2", "labels.grid_images=2", "labels.epochs=2", "labels.decay_epochs=1",
    "deblur.data.load_height=64", "deblur.data.load_width=64", "deblur.data.crop_height=32",
    "deblur.data.crop_width=32", "deblur.data.max_images=4", "deblur.eval_images=2", "deblur.grid_images=1",
    "deblur.strengths=[0.5,1.0]", "deblur.epochs=2", "deblur.decay_epochs=1",
    "eval.kid_subsets=10", "bench.runs=2", "bench.warmup=0",
    "bench.fullsize_height=32", "bench.fullsize_width=64", "bench.fullsize_runs=1", "bench.fullsize_warmup=0",
    "progress=false",
]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> study.StudyOutput:
    out = tmp_path_factory.mktemp("study")
    return study.run_study_preset("demo", out, TINY)


@pytest.mark.slow  # trains the tiny study
def test_study_writes_every_artifact(tiny_study: study.StudyOutput) -> None:
    out = tiny_study.out_dir
    for name in ("index.html", "table1.json", "table1.md", "table2.json", "table2.md", "results.json",
                 "study.yaml"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    figures = sorted(p.name for p in (out / html.FIGURES_DIR).glob("*.png"))
    expected = {"runtime.png", "metrics_labels.png", "metrics_deblur.png", "grid_labels.png",
                "grid_deblur_s0.5.png", "grid_deblur_s1.png"} | {f"loss_{k}.png" for k in
                                                                  ("asapnet", "pix2pixhd", "deblurgan",
                                                                   "deblurgan-asap")}
    assert expected <= set(figures)
    for name in figures:
        assert png_ok(out / html.FIGURES_DIR / name), name
    assert html.missing_links(out / "index.html") == []
    images, links = html.html_links(out / "index.html")
    assert len(images) >= len(expected) and "table1.json" in links and "table2.json" in links
    for key in ("asapnet", "pix2pixhd", "deblurgan", "deblurgan-asap"):
        assert (out / "runs" / key / "metrics.jsonl").is_file()


@pytest.mark.slow  # trains the tiny study
def test_table1_fields(tiny_study: study.StudyOutput) -> None:
    table = json.loads((tiny_study.out_dir / "table1.json").read_text())
    assert table["name"] == "table1" and table["task"] == "labels"
    keys = [c["key"] for c in table["columns"]]
    assert keys[:5] == ["model", "fid", "kid", "psnr", "ssim"]
    assert {"runtime_ms", "params", "fullsize_runtime_ms", "fullsize_params"} <= set(keys)
    assert all(c["description"] for c in table["columns"])
    assert [r["model"] for r in table["rows"]] == ["Label colour (no model)", "ASAP-Net", "pix2pixHD"]
    baseline = table["rows"][0]
    assert baseline["key"] == "label-colour" and baseline["fid_n"] == 2 and baseline["runtime_ms"] is None
    assert baseline["psnr"] > 0 and 0 < baseline["ssim"] <= 1
    for row in table["rows"][1:]:
        assert isinstance(row["below_baseline"], list)
        assert (row["below_baseline"] == ["psnr"]) == (row["psnr"] < baseline["psnr"])
        assert row["fid_n"] == 2 and row["epochs"] == 2 and row["steps"] == 2
        assert row["psnr"] > 0 and 0 < row["ssim"] <= 1
        assert row["runtime_ms"] > 0 and row["params"] > 0 and row["fullsize_params"] > row["params"]
        assert row["fullsize_runtime_ms"] > 0 and row["runtime_size"] == [32, 64]
        if row["fid_status"] == "ok":
            assert row["fid"] is not None and row["kid"] is not None
        else:
            assert row["fid"] is None and row["fid_status"].startswith("unavailable: ")
    assert any("N=2" in note for note in table["notes"]) or table["rows"][0]["fid_status"] != "ok"
    assert any("tiny models" in note for note in table["notes"])


@pytest.mark.slow  # trains the tiny study
def test_table2_fields(tiny_study: study.StudyOutput) -> None:
    table = json.loads((tiny_study.out_dir / "table2.json").read_text())
    assert table["strengths"] == [0.5, 1.0]
    keys = [c["key"] for c in table["columns"]]
    assert keys[:5] == ["model", "psnr@0.5", "ssim@0.5", "psnr@1", "ssim@1"]
    assert {"psnr", "ssim", "fid", "kid", "runtime_ms", "params"} <= set(keys)
    trained = [r["model"] for r in table["rows"] if not r.get("pretrained")]  # the shipped models follow them
    assert trained == ["Blurred input (no model)", "DeblurGAN", "DeblurGAN-ASAP"]
    assert table["rows"][:3] == [r for r in table["rows"] if not r.get("pretrained")]
    for row in table["rows"]:
        assert row["fid_n"] == 4  # 2 images x 2 strengths
        for s in ("0.5", "1"):
            assert row[f"psnr@{s}"] > 0 and 0 < row[f"ssim@{s}"] <= 1
        assert row["psnr"] == pytest.approx((row["psnr@0.5"] + row["psnr@1"]) / 2)
    baseline = table["rows"][0]
    assert baseline["psnr@0.5"] > baseline["psnr@1"]  # heavier blur, further from sharp
    assert baseline["runtime_ms"] is None and table["rows"][1]["runtime_ms"] > 0


@pytest.mark.slow  # trains the tiny study
def test_table2_has_the_shipped_deblurrers_as_pretrained_rows(tiny_study: study.StudyOutput) -> None:
    import math

    from pixelwise.hub import packaged_names
    from pixelwise.study.pretrained import shipped_deblurrers

    shipped = [source for source, _ in shipped_deblurrers()]
    assert shipped and all(source.split("/")[1] in packaged_names() for source in shipped)
    table = json.loads((tiny_study.out_dir / "table2.json").read_text())
    rows = [r for r in table["rows"] if r.get("pretrained")]
    assert [r["source"] for r in rows] == shipped  # every shipped deblurrer, after the trained rows
    baseline = table["rows"][0]
    for row in rows:
        assert row["pretrained"] is True and row["model"].endswith(" (pretrained)")
        for s in ("0.5", "1"):
            assert math.isfinite(row[f"psnr@{s}"]) and row[f"psnr@{s}"] > 10 and 0 < row[f"ssim@{s}"] <= 1
        assert row["runtime_ms"] > 0 and row["runtime_size"] == [64, 64] and row["params"] > 0
        assert row["epochs"] is None and row["steps"] is None and row["train_seconds"] is None
        assert row["below_baseline"] == [k for k in ("psnr@0.5", "psnr@1", "psnr") if row[k] < baseline[k]]
    md = (tiny_study.out_dir / "table2.md").read_text()
    assert all(f"| {r['model']} |" in md for r in rows) and "Rows marked (pretrained)" in md
    results = json.loads((tiny_study.out_dir / "results.json").read_text())
    assert [m["source"] for m in results["deblur"]["pretrained"]] == shipped
    assert all(m["epochs"] == [] and m["final"]["psnr"] > 0 for m in results["deblur"]["pretrained"])
    assert "loss_pretrained" not in " ".join(p.name for p in (tiny_study.out_dir / html.FIGURES_DIR).iterdir())


@pytest.mark.slow  # trains the tiny study
def test_results_per_epoch(tiny_study: study.StudyOutput) -> None:
    results = json.loads((tiny_study.out_dir / "results.json").read_text())
    assert results["demo"] is True and results["device"].startswith("CPU")
    for task in ("labels", "deblur"):
        for model in results[task]["models"]:
            assert [e["epoch"] for e in model["epochs"]] == [1, 2]
            assert model["final"] == model["epochs"][-1]
            # eval.fid_every_epoch=false (the demo): PSNR every epoch, FID/KID at the last evaluation only
            assert all(e["psnr"] is not None for e in model["epochs"])
            assert model["epochs"][0]["fid"] is None and model["epochs"][0]["kid"] is None
            if results["fid"]["available"]:
                assert model["final"]["fid"] is not None
    lines = plots.read_jsonl(tiny_study.out_dir / "runs" / "asapnet" / "metrics.jsonl")
    assert any("eval/psnr" in line for line in lines)  # the per-epoch evaluation is logged with the losses
    assert plots.loss_series(lines)  # and the loss curves have data


@pytest.mark.slow  # trains the tiny study
def test_report_rerenders_from_results(tiny_study: study.StudyOutput) -> None:
    output = study.rerender_report(tiny_study.out_dir)
    assert output.table1 == tiny_study.table1 and html.missing_links(output.index) == []
    text = study.format_summary(output)
    assert "Table 1" in text and "Table 2" in text and "index.html" in text


@pytest.mark.skipif(browser_check.find_chromium() is None, reason="headless Chromium not installed (Debian `chromium`)")
@pytest.mark.slow  # trains the tiny study
def test_study_report_in_real_browser(tiny_study: study.StudyOutput, tmp_path: Path) -> None:
    check = browser_check.check_in_browser(tiny_study.index, screenshot=tmp_path / "report.png")
    assert check.broken_images == [] and check.total_images >= 10 and check.tables == 2
    assert check.screenshot is not None and not browser_check.screenshot_is_blank(check.screenshot)


@pytest.mark.slow  # trains the tiny study
def test_study_refuses_to_overwrite_runs(tiny_study: study.StudyOutput) -> None:
    with pytest.raises(PixelwiseError, match="already holds training runs"):
        study.run_study_preset("demo", tiny_study.out_dir, TINY)


@pytest.mark.slow  # trains a one-epoch study
def test_fid_unavailable_is_reported_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXELWISE_INCEPTION_WEIGHTS", str(tmp_path / "no-such-weights.pth"))
    from pixelwise.metrics import inception

    inception._cached_extractor.cache_clear()
    try:
        output = study.run_study_preset("demo", tmp_path / "out", [
            *TINY, "epochs=1", "bench.fullsize=false", "labels.models={asapnet: {name: ASAP-Net, preset: "
            "asapnet-tiny}}", "deblur.models={deblurgan-asap: {name: DeblurGAN-ASAP, preset: deblurgan-asap-tiny}}"])
    finally:
        inception._cached_extractor.cache_clear()
    row = output.table1["rows"][0]
    assert row["fid"] is None and "no-such-weights.pth" in row["fid_status"]
    assert row["psnr"] > 0 and output.table2["rows"][1]["psnr"] > 0
    md = (output.out_dir / "table1.md").read_text()
    assert "FID/KID unavailable" in md and "| n/a |" in md
    assert "fullsize_runtime_ms" not in [c["key"] for c in output.table1["columns"]]
    assert html.missing_links(output.index) == []


def test_load_study_config_and_errors() -> None:
    assert {"demo", "seed"} <= set(study_config.list_study_presets())
    config = study_config.load_study_config("demo", ["epochs=3", "labels.data.root=/x"])
    assert config.epochs == 3 and config.labels.data["root"] == "/x"
    assert list(config.models("deblur")) == ["deblurgan", "deblurgan-asap"]
    with pytest.raises(PixelwiseError, match="unknown study preset"):
        study_config.load_study_config("nope")
    with pytest.raises(PixelwiseError, match="unknown key"):
        study_config.load_study_config("demo", ["epoch=3"])
    with pytest.raises(PixelwiseError, match="outside"):
        study_config.load_study_config("demo", ["deblur.strengths=[0.5,2]"])
    with pytest.raises(PixelwiseError, match="unique"):
        study_config.load_study_config("demo", ["deblur.models={asapnet: {name: X, preset: deblurgan-tiny}}"])
    assert study_config.load_study_config("demo").deblur.pretrained_rows
    assert not study_config.load_study_config("demo", ["deblur.pretrained_rows=false"]).deblur.pretrained_rows
    with pytest.raises(PixelwiseError, match="labels.pretrained_rows"):
        study_config.load_study_config("demo", ["labels.pretrained_rows=true"])


def test_task_epochs_and_decay_reach_the_run_configs() -> None:
    import torch

    config = study_config.load_study_config("demo")
    assert config.eval.fid_every_epoch is False  # the demo: FID/KID after the last epoch only
    cpu = torch.device("cpu")
    label_run = study.build_run_config(config, "labels", config.models("labels")["asapnet"], cpu)
    deblur_run = study.build_run_config(config, "deblur", config.models("deblur")["deblurgan"], cpu)
    assert config.labels.epochs is not None and config.labels.decay_epochs > 0
    assert label_run.train.epochs + label_run.train.decay_epochs == config.labels.epochs
    assert label_run.train.decay_epochs == config.labels.decay_epochs and label_run.train.max_steps is None
    assert deblur_run.train.epochs + deblur_run.train.decay_epochs == config.deblur.epochs
    assert deblur_run.train.decay_epochs == config.deblur.decay_epochs > 0 and deblur_run.train.max_steps is None
    again = study_config.load_study_config("demo", ["epochs=2", "deblur.epochs=null", "deblur.decay_epochs=1"])
    run = study.build_run_config(again, "deblur", again.models("deblur")["deblurgan"], cpu)
    assert (run.train.epochs, run.train.decay_epochs) == (1, 1)  # the study's epochs, the last one decaying
    with pytest.raises(PixelwiseError, match="decay_epochs"):
        study_config.load_study_config("demo", ["deblur.epochs=3", "deblur.decay_epochs=4"])
    with pytest.raises(PixelwiseError, match="decay_epochs"):
        study_config.load_study_config("demo", ["epochs=null", "deblur.epochs=null"])
    with pytest.raises(PixelwiseError, match=r"labels\.epochs"):
        study_config.load_study_config("demo", ["labels.epochs=0"])


def test_seed_preset_resolves_with_paths(tmp_path: Path) -> None:
    import torch

    with pytest.raises(PixelwiseError, match=r"labels\.data\.root="):
        study.run_study_preset("seed", tmp_path / "out")
    config = study_config.load_study_config("seed", ["labels.data.root=/data/cityscapes",
                                                     "deblur.data.root=/data/sharp"])
    assert config.demo is False and config.epochs is None
    seen = {}
    for task in ("labels", "deblur"):
        for key, spec in config.models(task).items():
            run_config = study.build_run_config(config, task, spec, torch.device("cpu"))
            seen[key] = run_config
            assert run_config.train.epochs + run_config.train.decay_epochs >= 100  # the presets' full schedules
    assert seen["asapnet"].data.root == "/data/cityscapes" and seen["deblurgan"].data.format == "blur"
    assert (seen["asapnet"].data.load_height, seen["pix2pixhd"].data.load_height) == (256, 256)
    assert seen["pix2pixhd"].data.load_width == seen["asapnet"].data.load_width == 512
    assert seen["deblurgan-asap"].model.name == "deblurgan-asap" and seen["deblurgan-asap"].model.options == {}


def test_cli_commands_parse() -> None:
    from pixelwise.cli import parse_args

    args = parse_args(["study", "demo", "--out", "X", "epochs=2", "eval.fid=false"])
    assert args.preset == "demo" and args.out == "X" and args.overrides == ["epochs=2", "eval.fid=false"]
    args = parse_args(["study", "seed", "a.b=1", "--report-only", "c=2"])
    assert args.overrides == ["a.b=1", "c=2"] and args.report_only
    args = parse_args(["demo"])
    assert args.out == "runs/demo" and args.overrides == []
    args = parse_args(["demo", "--out", "D", "epochs=1"])
    assert args.out == "D" and args.overrides == ["epochs=1"]
    with pytest.raises(SystemExit):
        parse_args(["study", "demo", "--out", "D", "--nope"])
