"""pixelwise.photo_io: photos read as displayed and written back as they came (orientation, alpha, 16 bits,
ICC, EXIF, grayscale, palette), output planning (collisions, inputs never overwritten, skip / resume), and the
commands beside deblur that write files (blur, eval) keeping their inputs safe."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms, ImageOps

from pixelwise import photo16
from pixelwise.cli import main
from pixelwise.data.preflight import input_problems
from pixelwise.data.transforms import read_photo as read_dataset_photo
from pixelwise.errors import PixelwiseError
from pixelwise.photo_io import DEFAULT_QUALITY, photo_header, plan_outputs, read_photo, write_photo

RNG = np.random.default_rng(0)


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_read_applies_exif_orientation_like_pillow(tmp_path: Path, orientation: int) -> None:
    stored = RNG.integers(0, 256, (6, 10, 3), dtype=np.uint8)
    path = tmp_path / "p.png"
    Image.fromarray(stored).save(path, exif=_exif(orientation))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    photo = read_photo(path)
    assert np.array_equal(photo.pixels, expected) and photo.orientation == orientation
    assert photo_header(path).size == expected.shape[:2]
    assert np.array_equal(read_dataset_photo(path), expected)  # the datasets see the photo upright too
    out = write_photo(tmp_path / "o.png", photo, photo.rgb)
    again = Image.open(out)
    assert again.getexif().get(0x0112, 1) == 1 and np.array_equal(np.asarray(again), expected)


def test_16bit_rgb_and_rgba_png_tiff_and_ppm_are_read_whole_and_written_at_16_bits(tmp_path: Path) -> None:
    for channels in (3, 4):
        samples = RNG.integers(0, 65536, (5, 7, channels), dtype=np.uint16)
        (tmp_path / "in.png").write_bytes(photo16.encode_png(samples))
        photo = read_photo(tmp_path / "in.png")
        assert photo.bit_depth == 16 and np.array_equal(photo.pixels, samples[..., :3])
        assert (photo.alpha is None) == (channels == 3)
        for suffix in (".png", ".tif") + ((".ppm",) if channels == 3 else ()):
            out = write_photo(tmp_path / f"out{suffix}", photo, photo.rgb)
            assert Image.open(out).format == {".png": "PNG", ".tif": "TIFF", ".ppm": "PPM"}[suffix]
            back = read_photo(out)
            assert back.bit_depth == 16 and np.array_equal(back.pixels, samples[..., :3]), suffix
            assert channels == 3 or np.array_equal(back.alpha, samples[..., 3])
            if suffix != ".ppm":  # Pillow's own reader sees the high bytes of what was written
                assert np.array_equal(np.asarray(Image.open(out)), (samples >> 8).astype(np.uint8))
    tifffile = pytest.importorskip("tifffile")  # an independent writer and reader
    samples = RNG.integers(0, 65536, (6, 9, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "t.tif", samples, compression="zlib")
    photo = read_photo(tmp_path / "t.tif")
    assert np.array_equal(photo.pixels, samples)
    write_photo(tmp_path / "t2.tif", photo, photo.rgb)
    assert np.array_equal(tifffile.imread(tmp_path / "t2.tif"), samples)
    for compression in (None, "zlib"):  # a sideways 16-bit TIFF is read upright (Pillow turns TIFFs itself)
        tifffile.imwrite(tmp_path / "o.tif", samples, compression=compression, extratags=[(274, "H", 1, 6, True)])
        photo = read_photo(tmp_path / "o.tif")
        assert photo.orientation == 6 and np.array_equal(photo.pixels, np.rot90(samples, -1))
        assert photo_header(tmp_path / "o.tif").size == (9, 6)


@pytest.mark.parametrize("orientation", [2, 5, 6, 8])
def test_8bit_tiff_orientation(tmp_path: Path, orientation: int) -> None:
    stored = RNG.integers(0, 256, (6, 10, 3), dtype=np.uint8)
    Image.fromarray(stored).save(tmp_path / "p.tif", exif=_exif(orientation))
    turn = {2: Image.Transpose.FLIP_LEFT_RIGHT, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
            8: Image.Transpose.ROTATE_90}[orientation]  # what EXIF orientation means (as ImageOps.exif_transpose)
    shown = np.asarray(Image.fromarray(stored).transpose(turn))
    photo = read_photo(tmp_path / "p.tif")
    assert np.array_equal(photo.pixels, shown) and photo_header(tmp_path / "p.tif").size == shown.shape[:2]


def test_16bit_values_change_only_by_the_model(tmp_path: Path) -> None:
    samples = RNG.integers(0, 65536, (8, 8, 3), dtype=np.uint16)
    (tmp_path / "in.png").write_bytes(photo16.encode_png(samples))
    photo = read_photo(tmp_path / "in.png")
    brighter = photo.rgb + 2 / 65535  # a "model" that adds one 16-bit level
    back = read_photo(write_photo(tmp_path / "out.png", photo, brighter)).pixels.astype(int)
    assert np.abs(back - np.minimum(samples.astype(int) + 1, 65535)).max() <= 1


def test_palette_cmyk_and_gray_alpha(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    palette.save(tmp_path / "p.png")
    photo = read_photo(tmp_path / "p.png")
    assert photo.pixels.shape == (6, 6, 3) and photo.alpha is None and not photo.grayscale
    assert np.array_equal(photo.pixels, np.asarray(palette.convert("RGB")))
    palette.save(tmp_path / "t.png", transparency=0)
    assert read_photo(tmp_path / "t.png").alpha is not None
    cmyk_icc = b"not an RGB profile"
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg", icc_profile=cmyk_icc)
    photo = read_photo(tmp_path / "c.jpg")
    assert photo.pixels.shape == (6, 6, 3) and photo.icc is None  # a CMYK profile would mislabel RGB pixels
    la = RNG.integers(0, 256, (4, 5, 2), dtype=np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    photo = read_photo(tmp_path / "la.png")
    assert photo.grayscale and np.array_equal(photo.alpha, la[..., 1]) and photo.rgb.shape == (3, 4, 5)
    assert torch.equal(photo.rgb[0], photo.rgb[2])  # the model sees gray replicated to 3 channels


def test_icc_and_exif_travel_and_jpeg_quality(tmp_path: Path) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "camera"
    Image.fromarray(RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "in.jpg", icc_profile=icc,
                                                                          exif=exif.tobytes())
    photo = read_photo(tmp_path / "in.jpg")
    for fmt in ("png", "jpg", "webp"):
        out = write_photo(tmp_path / f"out.{fmt}", photo, photo.rgb, format=fmt)
        written = Image.open(out)
        assert written.info.get("icc_profile") == icc and written.getexif().get(0x010F) == "camera", fmt
        assert written.getexif().get(0x0112) == 1
    sizes = [write_photo(tmp_path / f"q{q}.jpg", photo, photo.rgb, quality=q).stat().st_size for q in (20, 95)]
    assert sizes[0] < sizes[1] and DEFAULT_QUALITY == 95
    from pixelwise.commands.outputs import DEFAULT_QUALITY as STATED_IN_HELP

    assert STATED_IN_HELP == DEFAULT_QUALITY
    with pytest.raises(PixelwiseError, match="alpha channel, which JPEG cannot hold"):
        Image.new("RGBA", (4, 4)).save(tmp_path / "a.png")
        write_photo(tmp_path / "a.jpg", read_photo(tmp_path / "a.png"), torch.zeros(3, 4, 4))


def test_reset_orientation_keeps_every_other_byte() -> None:
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 8, "x"
    raw = exif.tobytes()  # with the "Exif\0\0" prefix, as JPEG files hold it
    fixed = photo16.reset_orientation(raw)
    assert fixed is not None and len(fixed) == len(raw)
    assert sum(a != b for a, b in zip(raw, fixed)) == 1
    assert photo16.reset_orientation(b"garbage") is None


def test_plan_outputs(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    a, b = tmp_path / "in" / "a.png", tmp_path / "in" / "a.jpg"
    Image.new("RGB", (2, 2)).save(a)
    Image.new("RGB", (2, 2)).save(b)
    with pytest.raises(PixelwiseError, match="would both be written as"):
        plan_outputs([a, b], tmp_path / "out")
    plan = plan_outputs([a, b], tmp_path / "out", format="same")
    assert [o.name for _, o in plan.jobs] == ["a.png", "a.jpg"] and not plan.skipped
    with pytest.raises(PixelwiseError, match=r"output .*in/a.png would overwrite the input .*in/a.png; nothing"):
        plan_outputs([a], tmp_path / "in")
    with pytest.raises(PixelwiseError, match=r"output .*a.png would go into the folder of its input .*a.jpg"):
        plan_outputs([b], tmp_path / "in")  # a.jpg -> in/a.png: not an input here, but the user's photo
    plan = plan_outputs([a], tmp_path / "in", suffix="_x")
    assert [o.name for _, o in plan.jobs] == ["a_x.png"]
    (tmp_path / "linked").mkdir()
    os.link(a, tmp_path / "linked" / "a.png")  # an output that is a hard link of an input
    with pytest.raises(PixelwiseError, match="would overwrite the input"):
        plan_outputs([a], tmp_path / "linked", overwrite=True)
    (tmp_path / "out").mkdir()
    Image.new("RGB", (2, 2)).save(tmp_path / "out" / "a.png")
    plan = plan_outputs([a], tmp_path / "out")
    assert not plan.jobs and len(plan.skipped) == 1 and "--overwrite" in plan.skipped_line()
    assert len(plan_outputs([a], tmp_path / "out", overwrite=True).jobs) == 1
    with pytest.raises(PixelwiseError, match="folder separator"):
        plan_outputs([a], tmp_path / "out", suffix="x/y")
    with pytest.raises(PixelwiseError, match="is a file"):
        plan_outputs([a], a)


def test_command_inputs_accept_alpha_and_16_bits_datasets_refuse_transparency(tmp_path: Path) -> None:
    Image.fromarray(RNG.integers(0, 256, (4, 4, 4), dtype=np.uint8)).save(tmp_path / "rgba.png")
    Image.fromarray(RNG.integers(0, 65536, (4, 4), dtype=np.uint16)).save(tmp_path / "gray16.png")
    assert input_problems([tmp_path / "rgba.png", tmp_path / "gray16.png"]) == []
    problems = input_problems([tmp_path / "rgba.png"], "dataset photo")
    assert len(problems) == 1 and "transparent alpha" in problems[0]
    assert read_dataset_photo(tmp_path / "gray16.png").dtype == np.uint8


def test_blur_resumes_refuses_other_settings_and_never_writes_into_its_input(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sharp = tmp_path / "sharp"
    sharp.mkdir()
    for i in range(3):
        Image.fromarray(RNG.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(sharp / f"s{i}.png")
    out = tmp_path / "out"
    args = ["blur", str(sharp), str(out), "--max-length", "6", "--seed", "1", "--no-progress"]
    assert main(args) == 0
    first = json.loads((out / "kernels.json").read_text())
    (out / "A" / "s1.png").unlink()
    before = (out / "A" / "s0.png").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert "skipped 2 photo(s)" in capsys.readouterr().out and (out / "A" / "s1.png").exists()
    assert (out / "A" / "s0.png").stat().st_mtime_ns == before
    assert json.loads((out / "kernels.json").read_text()) == first  # skipped kernels rebuilt from their seeds
    assert main([*args[:-2], "2", "--no-progress"]) == 2  # another seed into the same folder
    assert "other settings" in capsys.readouterr().err
    assert main([*args[:-2], "2", "--no-progress", "--overwrite"]) == 0
    inside = tmp_path / "data"
    (inside / "B").mkdir(parents=True)
    Image.fromarray(RNG.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(inside / "B" / "x.png")
    before = (inside / "B" / "x.png").read_bytes()
    assert main(["blur", str(inside / "B"), str(inside), "--no-progress"]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert (inside / "B" / "x.png").read_bytes() == before and not (inside / "A").exists()


def test_eval_never_writes_over_its_data(tmp_path: Path) -> None:
    from pixelwise import create_model
    from pixelwise.data import DataConfig, build_dataset
    from pixelwise.metrics.evaluate import evaluate_model

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / "worst_best.png")
    before = (folder / "worst_best.png").read_bytes()
    config = DataConfig(format="blur", root=str(folder))
    dataset = build_dataset(config, "train", train=False)
    model = create_model("deblurgan", ngf=4, n_blocks=1)
    with pytest.raises(PixelwiseError, match="would overwrite the input"):
        evaluate_model(model, dataset, config, out_dir=folder, fid=False, kid=False)
    assert (folder / "worst_best.png").read_bytes() == before
