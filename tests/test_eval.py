"""pixelwise eval: evaluate_model on real (bundled) and synthetic data, worst/best selection, outputs, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from pixelwise import metrics
from pixelwise.cli import main
from pixelwise.data import DataConfig, build_dataset, network_input
from pixelwise.errors import PixelwiseError
from pixelwise.metrics import evaluate as evaluation
from pixelwise.registry import create_model

TINY_ASAP = dict(label_nc=8, downsampling=8, learned_ds_factor=8, lr_width=8, lr_max_width=16, lr_depth=1,
                 hr_width=8, hr_depth=2)


def _strict_json(path):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(path.read_text(), parse_constant=refuse)


class _Noisy(torch.utils.data.Dataset):
    """RGB pairs whose target differs from the input by a known, per-image noise level."""

    def __init__(self, levels, size=(30, 30)):
        g = torch.Generator().manual_seed(5)
        self.items = []
        for i, level in enumerate(levels):
            target = torch.rand(3, *size, generator=g) * 1.6 - 0.8
            noisy = (target + level * torch.randn(3, *size, generator=g)).clamp(-1, 1)
            self.items.append({"input": noisy, "target": target, "name": f"img{i}"})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class _Identity(nn.Module):
    def forward(self, x):
        return x


class _PooledFeatures:
    """A cheap stand-in for the Inception features (2x2 average-pooled colours: 12-d), so that the FID/KID
    plumbing is tested without a 2048x2048 eigen-decomposition; the real network is tested in test_metrics."""

    source = metrics.InceptionSource("path", Path("pooled-colours"), "stub")

    def __call__(self, images):
        return F.adaptive_avg_pool2d(images.double(), 2).flatten(1).numpy()


def test_evaluate_model_on_bundled_label_maps(tmp_path):
    extractor = _PooledFeatures()
    model = create_model("asapnet", **TINY_ASAP).eval()
    config = DataConfig(format="bundled-labels", label_nc=8, load_height=64, load_width=128, max_images=5)
    dataset = build_dataset(config, config.resolved_eval_split, train=False)
    result = evaluation.evaluate_model(model, dataset, config, "cpu", batch_size=2, feature_extractor=extractor,
                                       grid_count=2, out_dir=tmp_path, info={"model": "tiny"})
    assert result["n"] == 5 and result["model"] == "tiny" and result["padded"] == 0
    assert result["kid_subset_size"] == 5

    # the same numbers from the model and the metric functions directly
    psnrs, ssims, fakes, reals = [], [], [], []
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(dataset, batch_size=2):
            pred = model(network_input(batch, config))
            p, t = metrics.quantize(pred), metrics.quantize(batch["target"])
            psnrs.extend(metrics.psnr(p, t))
            ssims.extend(metrics.ssim(p, t))
            fakes.append(extractor(p))
            reals.append(extractor(t))
    assert result["psnr"] == pytest.approx(np.mean(psnrs), abs=1e-9)
    assert result["fid"] == pytest.approx(metrics.fid_from_features(np.concatenate(fakes), np.concatenate(reals)))
    assert result["kid_mean"] == pytest.approx(metrics.kid_from_features(np.concatenate(fakes),
                                                                         np.concatenate(reals))[0])
    assert result["ssim"] == pytest.approx(np.mean(ssims), abs=1e-9)
    assert [r["psnr"] for r in result["per_image"]] == pytest.approx(psnrs, abs=1e-9)
    assert [r["name"] for r in result["per_image"]] == [dataset[i]["name"] for i in range(5)]

    order = np.argsort(psnrs, kind="stable")
    assert [r["index"] for r in result["worst"]] == list(order[:2])
    assert [r["index"] for r in result["best"]] == list(order[::-1][:2])

    saved = _strict_json(tmp_path / evaluation.METRICS_FILE)
    assert saved["n"] == 5 and saved["fid"] == pytest.approx(result["fid"]) and len(saved["per_image"]) == 5
    assert saved["files"]["grid"].endswith(evaluation.GRID_FILE) and "per image" in saved["conventions"]["psnr"]
    with Image.open(tmp_path / evaluation.GRID_FILE) as grid:
        assert grid.size[0] > 200 and grid.size[1] > grid.size[0] / 2  # 4 rows of input | output | target
        pixels = np.asarray(grid.convert("RGB"))
    assert (pixels.min(axis=-1) > 245).mean() < 0.6  # the pictures are drawn, not a blank (white) figure


def test_worst_and_best_follow_psnr_and_odd_sizes_are_padded(tmp_path):
    levels = [0.05, 0.4, 0.01, 0.2, 0.1]
    data = _Noisy(levels)
    config = DataConfig(format="paired", root=str(tmp_path))
    result = evaluation.evaluate_model(_Identity(), data, config, "cpu", batch_size=2, fid=False, kid=False,
                                       grid_count=2, out_dir=tmp_path / "out")
    assert [r["name"] for r in result["worst"]] == ["img1", "img3"]
    assert [r["name"] for r in result["best"]] == ["img2", "img0"]
    assert "fid" not in result and "kid_mean" not in result

    deblur = create_model("deblurgan", ngf=4, n_blocks=1).eval()  # needs multiples of 4; images are 30x30
    padded = evaluation.evaluate_model(deblur, data, config, "cpu", batch_size=3, fid=False, kid=False, grid_count=0)
    assert padded["padded"] == 5 and padded["n"] == 5 and "files" not in padded
    assert padded["worst"] == [] and padded["best"] == []


def test_small_sets_do_not_repeat_an_image_in_worst_and_best(tmp_path):
    result = evaluation.evaluate_model(_Identity(), _Noisy([0.1, 0.3, 0.0]), DataConfig(format="paired", root="x"),
                                       "cpu", fid=False, kid=False, grid_count=2, out_dir=tmp_path)
    assert [r["name"] for r in result["worst"]] == ["img1", "img0"]
    assert [r["name"] for r in result["best"]] == ["img2"]
    saved = _strict_json(tmp_path / evaluation.METRICS_FILE)
    assert saved["per_image"][2]["psnr"] is None  # identical images: +inf in Python, null in JSON
    assert saved["best"][0]["psnr"] is None


def test_model_and_data_channels_must_agree():
    model = create_model("asapnet", **TINY_ASAP)
    config = DataConfig(format="bundled-labels", label_nc=12)
    with pytest.raises(PixelwiseError, match=r"9 input channels but the data gives 13.*data.label_nc=12"):
        evaluation.evaluate_model(model, [], config, "cpu", fid=False, kid=False)
    with pytest.raises(PixelwiseError, match="dataset is empty"):
        evaluation.evaluate_model(model, [], DataConfig(format="bundled-labels", label_nc=8), "cpu", fid=False)


def test_data_config_sources(tmp_path):
    config, source = evaluation.load_eval_data_config("deblurgan-tiny", ["load_height=32", "data.max_images=2"])
    assert (config.format, config.load_height, config.max_images, source) == ("bundled-blur", 32, 2,
                                                                               "deblurgan-tiny")
    bare = tmp_path / "data.yaml"
    bare.write_text("format: paired\nroot: /somewhere\n")
    config, _ = evaluation.load_eval_data_config(bare)
    assert (config.format, config.root) == ("paired", "/somewhere")
    run = tmp_path / "run"
    (run / "checkpoints" / "step_3").mkdir(parents=True)
    (run / "config.yaml").write_text("data:\n  format: bundled-labels\n  label_nc: 8\n")
    config, source = evaluation.load_eval_data_config(None, [], model_path=run / "checkpoints" / "step_3")
    assert (config.format, config.label_nc, source) == ("bundled-labels", 8, str(run / "config.yaml"))
    assert evaluation.load_eval_data_config(None, [], model_path=tmp_path / "elsewhere")[1] == "defaults"
    with pytest.raises(PixelwiseError, match="unknown key"):
        evaluation.load_eval_data_config(None, ["data.nope=1"])


def test_cli_eval_model_dir_and_run_dir(tmp_path, capsys):
    from pixelwise.train.checkpoint import save_checkpoint

    model = create_model("deblurgan", ngf=4, n_blocks=1)
    model_dir = tmp_path / "model"
    model.save_pretrained(str(model_dir))
    out = tmp_path / "eval"
    rc = main(["eval", str(model_dir), "--data", "deblurgan-tiny", "--max-images", "3", "--out", str(out),
               "--no-fid", "--no-kid", "--quiet", "--device", "cpu", "data.load_height=32", "load_width=32"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "PSNR" in printed and "N=3" in printed and "FID" not in printed
    saved = _strict_json(out / evaluation.METRICS_FILE)
    assert saved["n"] == 3 and saved["data_source"] == "deblurgan-tiny" and saved["registry_name"] == "deblurgan"
    assert (out / evaluation.GRID_FILE).is_file()

    run = tmp_path / "run"
    (run).mkdir()
    (run / "config.yaml").write_text("data:\n  format: bundled-blur\n  load_height: 32\n  load_width: 32\n")
    save_checkpoint(run, 1, model, create_model("patchgan", ndf=4), {})
    rc = main(["eval", str(run), "--out", str(tmp_path / "eval2"), "--max-images", "2", "--kid-subset-size", "2",
               "--quiet", "--grid", "1", "--no-fid"])  # KID only: the Inception path without a second FID's cost
    assert rc == 0
    printed = capsys.readouterr().out
    assert "KID" in printed and "(N=2)" in printed
    saved = _strict_json(tmp_path / "eval2" / evaluation.METRICS_FILE)
    assert saved["data_source"] == str(run / "config.yaml") and saved["kid_subset_size"] == 2
    assert saved["inception_weights"]

    assert main(["eval", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_evaluation_scores_the_images_infer_gives(tmp_path):
    """Odd sizes are padded as `pixelwise infer` pads them (photos reflect): the PSNR evaluation reports is the
    PSNR of what translate() returns for the same photo."""
    from pixelwise.inference import translate_image
    from pixelwise.metrics.image import psnr, quantize

    data = _Noisy([0.1, 0.3])
    deblur = create_model("deblurgan", ngf=4, n_blocks=1).eval()  # needs multiples of 4; images are 30x30
    result = evaluation.evaluate_model(deblur, data, DataConfig(format="paired", root=str(tmp_path)), "cpu",
                                       batch_size=2, fid=False, kid=False, grid_count=0)
    for i, row in enumerate(result["per_image"]):
        sample = data[i]
        with torch.inference_mode():
            out = translate_image(deblur, sample["input"])
        expected = psnr(quantize(out[None]), quantize(sample["target"][None]))[0]
        assert row["psnr"] == pytest.approx(float(expected), abs=1e-6)
