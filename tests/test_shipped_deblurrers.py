"""benchmarks/shipped_deblurrers.py: its metric, gain, table, card and bench helpers on tiny inputs (no
wallpapers needed), and one end-to-end run on the held-out wallpapers when they are installed."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pixelwise
from pixelwise.registry import get_entry

pytest.importorskip("torchmetrics")
pytest.importorskip("skimage")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import shipped_deblurrers as sd


def _save(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16, 3), value, dtype=np.uint8)).save(path)


def test_parse_strengths() -> None:
    assert sd.parse_strengths("0.25,0.5,0.75,1") == [0.25, 0.5, 0.75, 1.0]
    for bad in ("", "0", "1.5", "0.2,-1"):
        with pytest.raises(ValueError):
            sd.parse_strengths(bad)
    assert [sd.strength_label(s) for s in (0.25, 1.0)] == ["0.25", "1"]


def test_score_folder_uses_8bit_psnr_and_ssim(tmp_path: Path) -> None:
    for name in ("a.png", "b.png"):
        _save(tmp_path / "sharp" / name, 100)
        _save(tmp_path / "same" / name, 100)
    _save(tmp_path / "off" / "a.png", 110)  # MSE 100 -> 10 log10(255^2 / 100) dB
    _save(tmp_path / "off" / "b.png", 105)  # MSE 25
    off = sd.score_folder(tmp_path / "off", tmp_path / "sharp", ["a.png", "b.png"])
    expected = [10 * math.log10(255**2 / 100), 10 * math.log10(255**2 / 25)]
    assert off["psnr_per_image"] == pytest.approx(expected)
    assert off["psnr"] == pytest.approx(np.mean(expected))
    assert 0 < off["ssim"] < 1
    assert sd.score_folder(tmp_path / "same", tmp_path / "sharp", ["a.png"])["ssim"] == pytest.approx(1.0)


def _raw() -> dict:
    return {sd.INPUT: {"0.5": {"psnr": 30.0, "ssim": 0.80}, "1": {"psnr": 26.0, "ssim": 0.70}},
            "m": {"0.5": {"psnr": 31.5, "ssim": 0.85}, "1": {"psnr": 27.0, "ssim": 0.74}}}


def test_gains_and_tables() -> None:
    scores = sd.add_gains(_raw())
    assert scores["m"]["0.5"]["psnr_gain"] == pytest.approx(1.5)
    assert scores["m"]["1"]["ssim_gain"] == pytest.approx(0.04)
    assert scores["m"]["all"]["psnr"] == pytest.approx(29.25) and scores["m"]["all"]["psnr_gain"] == pytest.approx(1.25)
    assert scores[sd.INPUT]["all"]["psnr_gain"] == 0
    table = sd.results_table(scores, "psnr").splitlines()
    assert table[0] == "| PSNR dB | s=0.5 | s=1 | all |"
    assert table[2] == "| Blurred input (no model) | 30.00 | 26.00 | 28.00 |"
    assert table[3] == "| m | 31.50 (+1.50) | 27.00 (+1.00) | 29.25 (+1.25) |"
    assert "| m | 0.850 (+0.050) |" in sd.results_table(scores, "ssim")


def _tiny_folders(tmp_path: Path) -> dict[str, Path]:
    folders = {}
    for name, options in (("deblurgan", dict(ngf=4, n_blocks=1, zero_init_output=True)),
                          ("deblurgan-asap", {**get_entry("deblurgan-asap").config_cls.tiny_options(),
                                              "zero_init_output": True})):
        model = pixelwise.create_model(name, **options)
        model.save_pretrained(tmp_path / f"{name}-tiny")
        folders[name] = tmp_path / f"{name}-tiny"
    return folders


def test_bench_folder_times_the_saved_architecture(tmp_path: Path, one_thread: None) -> None:
    for name, folder in _tiny_folders(tmp_path).items():
        records = sd.bench_folder(folder, runs=1, warmup=0)
        assert [(r["height"], r["width"]) for r in records] == list(sd.BENCH_SIZES)
        params = pixelwise.from_pretrained(folder).num_parameters()
        for r in records:
            assert r["error"] is None and r["median_ms"] > 0 and r["model"] == name and r["params"] == params
        table = sd.bench_table(records)
        assert "| 256x256 |" in table and "| 512x512 |" in table


def test_card_results_names_the_command() -> None:
    result = {"command": "python benchmarks/shipped_deblurrers.py --write-cards", "date": "2026-12-03 10:00 UTC",
              "scores": sd.add_gains(_raw()),
              "setup": {"images": 16, "crop": 128, "width": 320, "max_length": 24.0, "seed": 0, "bench_runs": 10},
              "machine": {"cpu": "Some CPU", "torch": "2.14.1", "load": {"load1": 1.5}},
              "bench": {"m": [{"height": 256, "width": 256, "median_ms": 12.34,
                               "device_name": "Some CPU (2 threads)"}]}}
    text = sd.card_results(result, "m")
    assert "```bash\npython benchmarks/shipped_deblurrers.py --write-cards\n```" in text
    assert "| m | 31.50 (+1.50) |" in text and "--max-length 24" in text and "load average 1.5" in text
    assert "|---|---:|---|\n| 256x256 | 12.3 | Some CPU (2 threads) |" in text


@pytest.mark.slow
@pytest.mark.skipif(not sd.WALLPAPERS.is_dir(), reason="needs plasma-workspace-wallpapers in /usr/share/wallpapers")
def test_end_to_end_on_the_wallpapers(tmp_path: Path, one_thread: None, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = _tiny_folders(tmp_path)  # identity models: no gain, no loss
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1] / "src"))
    result = sd.main(["--models", ",".join(map(str, folders.values())), "--strengths", "0.5", "--out",
                      str(tmp_path / "out"), "--crop", "32", "--width", "96", "--bench-runs", "1", "--bench-warmup",
                      "0", "--threads", "1", "--write-cards"])
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["setup"]["images"] == 16 and saved["scores"].keys() == {sd.INPUT, *(f.name for f in folders.values())}
    for folder in folders.values():
        gain = saved["scores"][folder.name]["0.5"]["psnr_gain"]
        assert abs(gain) < 0.05, gain  # the identity model returns the blurred input
        assert saved["scores"][sd.INPUT]["0.5"]["psnr"] < 60  # the input really is blurred
        card = (folder / "README.md").read_text()
        assert "## Results" in card and result["command"] in card and "| 512x512 |" in card
