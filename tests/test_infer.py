"""pixelwise.inference and `pixelwise infer`: padding, tiling, files in and PNGs out."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from pixelwise.cli import main
from pixelwise.errors import PixelwiseError
from pixelwise.inference import (
    blend_ramp,
    collect_inputs,
    crop_to,
    input_spec,
    pad_to_multiple,
    tile_starts,
    translate_files,
    translate_image,
)
from pixelwise.ops import random_label_maps
from pixelwise.registry import create_model

ASAP_TINY = dict(label_nc=6, downsampling=8, learned_ds_factor=4, lr_width=8, lr_max_width=16, lr_depth=1,
                 hr_width=8, hr_depth=3)


class Identity(nn.Module):
    size_multiple = 4

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-2] % 4 == 0 and x.shape[-1] % 4 == 0
        return x * self.scale


class Constant(Identity):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x, 0.25) * self.scale


def _labels(h: int, w: int, n: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    label, instance = random_label_maps(h, w, n, block=5, things_from=3, generator=torch.Generator().manual_seed(seed))
    return label[0, 0], instance[0, 0]


# --- padding and tiling primitives ------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize(("h", "w", "m"), [(5, 7, 4), (16, 16, 8), (3, 30, 16), (33, 1, 2)])
def test_pad_then_crop_is_identity(mode: str, h: int, w: int, m: int):
    for x in (torch.rand(2, 3, h, w), torch.randint(0, 9, (1, 1, h, w))):
        padded, size = pad_to_multiple(x, m, mode)
        assert padded.shape[-2] % m == 0 and padded.shape[-1] % m == 0 and padded.dtype == x.dtype
        assert torch.equal(crop_to(padded, size), x)


def test_padding_values():
    x = torch.rand(1, 2, 6, 5)
    padded, _ = pad_to_multiple(x, 8, "reflect")
    assert torch.equal(padded, F.pad(x, (0, 3, 0, 2), mode="reflect"))
    labels = torch.randint(0, 9, (1, 1, 6, 5))
    padded, _ = pad_to_multiple(labels, 8, "replicate")
    assert torch.equal(padded, F.pad(labels.float(), (0, 3, 0, 2), mode="replicate").long())
    tiny, _ = pad_to_multiple(torch.rand(1, 1, 2, 2), 8, "reflect")  # too small to mirror: replicate
    assert tiny.shape[-2:] == (8, 8)


def test_tile_starts_cover_and_align():
    for size, tile, overlap, m in [(100, 32, 8, 4), (64, 64, 16, 8), (200, 48, 40, 8), (40, 64, 8, 4)]:
        starts = tile_starts(size, min(tile, size), overlap, m)
        t = min(tile, size)
        assert starts[0] == 0 and starts[-1] + t == size
        assert all(s % m == 0 for s in starts[:-1])
        assert all(b - a <= t - overlap for a, b in zip(starts, starts[1:]))


@pytest.mark.parametrize("blend", ["cosine", "linear"])
def test_blend_ramps_are_complementary(blend: str):
    for length in (1, 2, 7, 16, 33):
        ramp = blend_ramp(length, blend)
        assert torch.allclose(ramp + ramp.flip(0), torch.ones(length))
        assert (ramp[: length // 4] == 0).all() and (ramp >= 0).all() and (ramp <= 1).all()


# --- tiling exactness and seams ----------------------------------------------------------------------------
@pytest.mark.parametrize("blend", ["cosine", "linear"])
def test_tiled_identity_model_gives_the_input_back(blend: str):
    x = torch.rand(2, 3, 50, 71) * 2 - 1
    model = Identity()
    assert torch.equal(translate_image(model, x), x)
    out = translate_image(model, x, tile=24, overlap=12, blend=blend)
    assert out.shape == x.shape
    assert (out - x).abs().max() <= 1e-6


def test_tiled_constant_model_gives_a_constant_image():
    out = translate_image(Constant(), torch.rand(3, 45, 90), tile=16, overlap=8)
    assert out.shape == (3, 45, 90)
    assert (out - 0.25).abs().max() <= 1e-6


def test_tiling_is_exact_for_a_local_model():
    """DeblurGAN with frozen BatchNorm (eval) is purely local: receptive-field radius 18 px, so an overlap of
    80 (>= 4 x 18: the zero-weight outer quarter covers each tile's border effects) reproduces the full image."""
    torch.manual_seed(0)
    model = create_model("deblurgan", ngf=4, n_blocks=1, norm="batch", dropout=False).eval()
    x = torch.rand(1, 3, 150, 230) * 2 - 1
    full = translate_image(model, x)
    tiled = translate_image(model, x, tile=128, overlap=80)
    assert (full - tiled).abs().max() <= 1e-5
    coarse = translate_image(model, x, tile=64, overlap=8)  # overlap below the receptive field: seams differ
    assert (full - coarse).abs().max() > 1e-3


def test_asapnet_label_maps_of_any_size_and_tiled():
    torch.manual_seed(0)
    model = create_model("asapnet", **ASAP_TINY).eval()
    label, instance = _labels(37, 53)
    out = translate_image(model, label, instance)
    assert out.shape == (3, 37, 53)
    padded, _ = pad_to_multiple(label[None, None], 8, "replicate")
    padded_inst, _ = pad_to_multiple(instance[None, None], 8, "replicate")
    with torch.no_grad():
        expected = model(model.dense_input(padded, padded_inst))[0, :, :37, :53]
    assert (out - expected).abs().max() <= 1e-5
    # tiling: runs, stitches, stays in range; the low-res stream sees each tile only, so results differ a little
    tiled = translate_image(model, label, instance, tile=24, overlap=8)
    assert tiled.shape == out.shape and torch.isfinite(tiled).all() and tiled.abs().max() <= 1
    assert torch.equal(translate_image(model, label, instance, tile=64), out)  # one tile = no tiling


def test_pix2pixhd_label_maps():
    torch.manual_seed(0)
    model = create_model("pix2pixhd", input_nc=7, ngf=4, n_downsample_global=2, n_blocks_global=1).eval()
    spec = input_spec(model)
    assert spec.kind == "labels" and spec.label_channels == 6 and spec.instance_edge and spec.multiple == 4
    label, instance = _labels(21, 30)
    out = translate_image(model, label, instance)
    from pixelwise.official import preprocess_semantic

    padded = pad_to_multiple(label[None, None], 4, "replicate")[0]
    padded_inst = pad_to_multiple(instance[None, None], 4, "replicate")[0]
    x = preprocess_semantic(padded, padded_inst, {"label_nc": 6, "no_instance": False}, family="pix2pixhd")
    with torch.no_grad():
        assert (out - model(x)[0, :, :21, :30]).abs().max() <= 1e-6
    assert input_spec(model, instance_edge=False).label_channels == 7


def test_pix2pixhd_config_records_its_input_layout():
    """A pix2pixHD trained without instance maps and with a dontcare channel is run on exactly that input: no
    edge channel is guessed, id 255 goes to the last one-hot channel."""
    from pixelwise.models.io import from_pretrained, save_pretrained
    from pixelwise.official import build

    torch.manual_seed(0)
    model = create_model("pix2pixhd", input_nc=7, ngf=4, n_downsample_global=2, n_blocks_global=1,
                         instance_edge=False, contain_dontcare_label=True).eval()
    spec = input_spec(model)
    assert (spec.kind, spec.label_channels, spec.instance_edge, spec.dontcare) == ("labels", 7, False, True)
    label, _ = _labels(16, 16)
    label[:4, :4] = 255
    out = translate_image(model, label)
    onehot = torch.nn.functional.one_hot(torch.where(label == 255, 6, label).long(), 7).permute(2, 0, 1)[None]
    with torch.no_grad():
        assert (out - model(onehot.float())[0]).abs().max() <= 1e-6
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(model, tmp)
        assert input_spec(from_pretrained(tmp)) == spec
    assert input_spec(build("pix2pixhd", {"label_nc": 0, "input_nc": 3, "no_instance": True})).kind == "photo"
    official = build("pix2pixhd", {"label_nc": 35, "no_instance": True}).config
    assert (official.input_nc, official.instance_edge, official.input_mode) == (35, False, "semantic")


def test_translate_image_errors():
    model = create_model("asapnet", **ASAP_TINY).eval()
    label, instance = _labels(16, 16)
    with pytest.raises(PixelwiseError, match="label id 6"):
        translate_image(model, torch.full_like(label, 6), instance, source="x.png")
    with pytest.raises(PixelwiseError, match="instance"):
        translate_image(model, label)
    with pytest.raises(PixelwiseError, match="integer ids"):
        translate_image(model, label.float(), instance)
    with pytest.raises(PixelwiseError, match="overlap"):
        translate_image(model, label, instance, tile=8, overlap=8)
    with pytest.raises(PixelwiseError, match="photos"):
        translate_image(Identity(), label)


# --- files and the command ---------------------------------------------------------------------------------
def _save_label(path, array: torch.Tensor, sixteen_bit: bool = False) -> None:
    data = array.numpy().astype(np.uint16 if sixteen_bit else np.uint8)
    Image.fromarray(data).save(path)


def test_infer_command_on_label_maps(tmp_path, capsys):
    torch.manual_seed(0)
    model = create_model("asapnet", **ASAP_TINY).eval()
    model.save_pretrained(str(tmp_path / "model"))
    data = tmp_path / "labels"
    data.mkdir()
    label_a, inst_a = _labels(30, 45, seed=1)
    label_b, inst_b = _labels(16, 24, seed=2)
    _save_label(data / "a_gtFine_labelIds.png", label_a)
    _save_label(data / "a_gtFine_instanceIds.png", inst_a, sixteen_bit=True)
    _save_label(data / "b_gtFine_labelIds.png", label_b)
    _save_label(data / "b_gtFine_instanceIds.png", inst_b, sixteen_bit=True)
    code = main(["infer", str(tmp_path / "model"), str(data), "--output", str(tmp_path / "out"), "--quiet"])
    assert code == 0 and "wrote 2 image(s)" in capsys.readouterr().out
    out_a = np.asarray(Image.open(tmp_path / "out" / "a_gtFine_labelIds.png"))
    assert out_a.shape == (30, 45, 3) and out_a.dtype == np.uint8
    expected = translate_image(model, label_a, inst_a)
    expected = ((expected + 1) * 127.5).round().clamp(0, 255).permute(1, 2, 0).numpy()
    assert np.abs(out_a.astype(float) - expected).max() <= 1
    # instance maps from a separate folder, a glob input, tiles
    inst_dir = tmp_path / "inst"
    inst_dir.mkdir()
    _save_label(inst_dir / "a.png", inst_a, sixteen_bit=True)
    written = translate_files(tmp_path / "model", [str(data / "a_*labelIds.png")], tmp_path / "out2",
                              instances=inst_dir, tile=16, overlap=8, progress=False)
    assert [p.name for p in written] == ["a_gtFine_labelIds.png"]
    # no input is overwritten: a label map, or an instance map an output would replace, is refused up front
    capsys.readouterr()
    before = {p: p.read_bytes() for p in data.iterdir()}
    assert main(["infer", str(tmp_path / "model"), str(data), "--output", str(data), "--quiet"]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    clash = tmp_path / "clash"
    clash.mkdir()
    _save_label(clash / "a_gtFine_labelIds.png", inst_a, sixteen_bit=True)  # the instance map of a's labels
    kept = (clash / "a_gtFine_labelIds.png").read_bytes()
    assert main(["infer", str(tmp_path / "model"), str(data / "a_gtFine_labelIds.png"), "--instances", str(clash),
                 "--output", str(clash), "--quiet"]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert (clash / "a_gtFine_labelIds.png").read_bytes() == kept
    assert {p: p.read_bytes() for p in data.iterdir()} == before
    # label maps -> JPEG at a quality; the second run skips what exists
    for _ in range(2):
        assert main(["infer", str(tmp_path / "model"), str(data), "-o", str(tmp_path / "jpg"), "--format", "jpg",
                     "--quality", "80", "--quiet"]) == 0
    assert Image.open(tmp_path / "jpg" / "a_gtFine_labelIds.jpg").format == "JPEG"
    assert "skipped 2 existing output(s)" in capsys.readouterr().out


def test_infer_command_errors(tmp_path, capsys):
    torch.manual_seed(0)
    create_model("asapnet", **ASAP_TINY).save_pretrained(str(tmp_path / "model"))
    label, _ = _labels(16, 16)
    _save_label(tmp_path / "lonely.png", label)
    Image.fromarray(np.random.randint(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "photo.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    _save_label(tmp_path / "big.png", torch.full((16, 16), 40))

    def error(*inputs: str, extra: tuple[str, ...] = ()) -> str:
        code = main(["infer", str(tmp_path / "model"), *inputs, "--output", str(tmp_path / "o"), "--quiet", *extra])
        assert code == 2
        return capsys.readouterr().err

    err = error(str(tmp_path / "lonely.png"))
    assert "lonely.png" in err and "--instances" in err
    err = error(str(tmp_path / "photo.png"), extra=("--instances-from-labels",))
    assert "photo.png" in err and "single-channel" in err
    assert "broken.png" in error(str(tmp_path / "broken.png"), extra=("--instances-from-labels",))
    err = error(str(tmp_path / "big.png"), extra=("--instances-from-labels",))
    assert "big.png" in err and "label id 40" in err
    assert "does not exist" in error(str(tmp_path / "missing.png"))
    assert "matches no image" in error(str(tmp_path / "*.jpg"))
    assert main(["infer", str(tmp_path / "nope"), str(tmp_path), "--output", str(tmp_path / "o")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_infer_photos_with_tiles(tmp_path):
    torch.manual_seed(0)
    model = create_model("deblurgan", ngf=4, n_blocks=1).eval()
    model.save_pretrained(str(tmp_path / "model"))
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, (h, w) in {"x": (37, 50), "y": (20, 20)}.items():
        Image.fromarray(np.random.randint(0, 255, (h, w, 3), dtype=np.uint8)).save(photos / f"{name}.jpg")
    code = main(["infer", str(tmp_path / "model"), str(photos), "-o", str(tmp_path / "out"), "--tile", "24",
                 "--tile-overlap", "8", "--blend", "linear", "--device", "cpu", "--quiet"])
    assert code == 0
    assert Image.open(tmp_path / "out" / "x.png").size == (50, 37)
    assert Image.open(tmp_path / "out" / "y.png").size == (20, 20)


def test_collect_inputs(tmp_path):
    folder = tmp_path / "gt"
    folder.mkdir()
    for name in ("a_gtFine_labelIds", "a_gtFine_instanceIds", "a_gtFine_color"):
        Image.new("L", (4, 4)).save(folder / f"{name}.png")
    assert [p.name for p in collect_inputs([folder], labels=True)] == ["a_gtFine_labelIds.png"]
    assert len(collect_inputs([folder])) == 3
    other = tmp_path / "other"
    other.mkdir()
    Image.new("L", (4, 4)).save(other / "a_gtFine_labelIds.png")
    with pytest.raises(PixelwiseError, match="would both be written"):
        collect_inputs([folder, other], labels=True)


def test_bfloat16_inference_close_to_float32():
    torch.manual_seed(0)
    model = create_model("asapnet", **ASAP_TINY).eval()
    label, instance = _labels(32, 40)
    reference = translate_image(model, label, instance)
    half = translate_image(model, label, instance, dtype="bfloat16")
    assert half.dtype == torch.float32 and next(model.parameters()).dtype == torch.bfloat16
    mse = (half - reference).pow(2).mean().item()
    assert 10 * np.log10(4 / mse) >= 35
