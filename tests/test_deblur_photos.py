"""Photos as users have them, through `pixelwise deblur` / `pixelwise infer` with an identity model (a
DeblurGAN whose last conv is 0 returns its input), so every change to a file is the tool's, not the model's:
no input overwritten (refused in one line, file untouched), resume and --overwrite, EXIF orientation 1-8
shown the same way as the input, ICC kept, alpha byte for byte, 16 bits in -> 16 bits out, grayscale in ->
grayscale out, JPEG at the asked quality. Only the CLI and PIL are used, so each test also shows the failure
on a pixelwise without these guarantees."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from pixelwise.cli import main
from tests.test_deblur import identity_deblurgan, one_error_line, photo


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return identity_deblurgan(tmp_path_factory.mktemp("identity") / "model")


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def deblur(model: Path, *args: str) -> int:
    return main(["deblur", *args, "--model", str(model), "--quiet", "--device", "cpu"])


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def test_output_folder_equal_to_input_folder_is_refused_and_nothing_changes(
        tmp_path: Path, model: Path, capsys: pytest.CaptureFixture, one_thread: None) -> None:
    folder = tmp_path / "photos"
    photo(folder / "a.png")
    photo(folder / "b.png", seed=1)
    before = {p.name: md5(p) for p in folder.iterdir()}
    assert deblur(model, str(folder), "--output", str(folder)) == 2
    line = one_error_line(capsys)
    assert "a.png" in line and "would overwrite the input" in line and "--suffix" in line
    assert {p.name: md5(p) for p in folder.iterdir()} == before  # untouched, nothing added
    # a symlinked output folder that is the input folder is the same folder
    (tmp_path / "link").symlink_to(folder)
    assert deblur(model, str(folder / "a.png"), "--output", str(tmp_path / "link")) == 2
    assert "would overwrite the input" in one_error_line(capsys)
    # --format same on a JPEG in its own folder collides as well
    Image.open(folder / "a.png").save(folder / "c.jpg", quality=90)
    before = {p.name: md5(p) for p in folder.iterdir()}
    assert deblur(model, str(folder / "c.jpg"), "-o", str(folder), "--format", "same") == 2
    assert "c.jpg" in one_error_line(capsys)
    assert {p.name: md5(p) for p in folder.iterdir()} == before
    # with a suffix the names cannot collide: allowed, inputs unchanged
    assert deblur(model, str(folder), "--output", str(folder), "--suffix", "_sharp") == 0
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "a_sharp.png", "b.png", "b_sharp.png", "c.jpg",
                                                        "c_sharp.png"]
    assert all(md5(folder / n) == h for n, h in before.items())


def test_existing_outputs_are_skipped_unless_overwrite(tmp_path: Path, model: Path,
                                                       capsys: pytest.CaptureFixture, one_thread: None) -> None:
    for i in range(3):
        photo(tmp_path / "in" / f"p{i}.png", seed=i)
    out = tmp_path / "out"
    assert deblur(model, str(tmp_path / "in"), "-o", str(out)) == 0
    capsys.readouterr()
    (out / "p1.png").unlink()  # as if the run had stopped before p1
    marker = Image.new("RGB", (3, 3))
    marker.save(out / "p2.png")  # an existing output is left alone: the run resumes
    kept = md5(out / "p2.png")
    assert deblur(model, str(tmp_path / "in"), "-o", str(out)) == 0
    printed = capsys.readouterr().out
    assert "wrote 1 " in printed and "skipped 2 existing output(s)" in printed
    assert (out / "p1.png").exists() and md5(out / "p2.png") == kept
    assert deblur(model, str(tmp_path / "in"), "-o", str(out), "--overwrite") == 0
    assert "wrote 3 " in capsys.readouterr().out
    assert Image.open(out / "p2.png").size == (27, 20)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_round_trips(tmp_path: Path, model: Path, orientation: int, one_thread: None) -> None:
    stored = photo(tmp_path / "stored.png", 16, 24)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "pixelwise test camera"  # Make: other EXIF travels too
    source = tmp_path / "in" / "phone.png"
    source.parent.mkdir()
    Image.fromarray(stored).save(source, exif=exif.tobytes())
    shown = np.asarray(ImageOps.exif_transpose(Image.open(source)))
    assert deblur(model, str(source), "-o", str(tmp_path / "out")) == 0
    out = Image.open(tmp_path / "out" / "phone.png")
    upright = np.asarray(ImageOps.exif_transpose(out)).astype(int)
    assert upright.shape == shown.shape and np.abs(upright - shown).max() <= 1  # shown as the input is shown
    assert out.getexif().get(0x0112, 1) == 1 and out.getexif().get(0x010F) == "pixelwise test camera"


def test_jpeg_from_a_phone_comes_out_upright_as_jpeg(tmp_path: Path, model: Path, one_thread: None) -> None:
    stored = photo(tmp_path / "s.png", 16, 32)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, shown upright
    Image.fromarray(stored).save(tmp_path / "in.jpg", exif=exif.tobytes(), quality=95)
    assert deblur(model, str(tmp_path / "in.jpg"), "-o", str(tmp_path / "out"), "--format", "same") == 0
    out = Image.open(tmp_path / "out" / "in.jpg")
    assert out.format == "JPEG" and out.size == (16, 32)  # upright: 16 wide, 32 tall
    assert out.getexif().get(0x0112, 1) == 1


def test_icc_profile_is_kept(tmp_path: Path, model: Path, one_thread: None) -> None:
    icc = srgb_profile()
    (tmp_path / "in").mkdir()
    Image.fromarray(photo(tmp_path / "p.png")).save(tmp_path / "in" / "p.png", icc_profile=icc)
    for fmt, name in (("png", "p.png"), ("jpg", "p.jpg"), ("webp", "p.webp")):
        assert deblur(model, str(tmp_path / "in"), "-o", str(tmp_path / fmt), "--format", fmt) == 0
        assert Image.open(tmp_path / fmt / name).info.get("icc_profile") == icc, fmt


def test_rgba_and_la_keep_their_alpha_byte_for_byte(tmp_path: Path, model: Path, one_thread: None) -> None:
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (20, 28, 4), dtype=np.uint8)
    rgba[:5, :, 3] = 0  # fully transparent rows and every other level
    (tmp_path / "in").mkdir()
    Image.fromarray(rgba, "RGBA").save(tmp_path / "in" / "logo.png")
    la = rng.integers(0, 256, (20, 28, 2), dtype=np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "in" / "gray.png")
    assert deblur(model, str(tmp_path / "in"), "-o", str(tmp_path / "out")) == 0
    out = Image.open(tmp_path / "out" / "logo.png")
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])
    assert np.abs(np.asarray(out)[..., :3].astype(int) - rgba[..., :3]).max() <= 1
    out = Image.open(tmp_path / "out" / "gray.png")
    assert out.mode == "LA" and np.array_equal(np.asarray(out)[..., 1], la[..., 1])
    assert np.abs(np.asarray(out)[..., 0].astype(int) - la[..., 0]).max() <= 1
    assert deblur(model, str(tmp_path / "in"), "-o", str(tmp_path / "webp"), "--format", "webp") == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "webp" / "logo.webp"))[..., 3], rgba[..., 3])


def test_alpha_into_jpeg_is_refused_before_any_work(tmp_path: Path, model: Path,
                                                    capsys: pytest.CaptureFixture, one_thread: None) -> None:
    Image.new("RGBA", (8, 8), (1, 2, 3, 4)).save(tmp_path / "a.png")
    assert deblur(model, str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--format", "jpg") == 2
    assert "alpha" in one_error_line(capsys) and not (tmp_path / "out").exists()


def test_16bit_in_16bit_out(tmp_path: Path, model: Path, one_thread: None) -> None:
    gray = np.random.default_rng(4).integers(0, 65536, (20, 24), dtype=np.uint16)
    (tmp_path / "in").mkdir()
    Image.fromarray(gray).save(tmp_path / "in" / "scan.png")
    assert Image.open(tmp_path / "in" / "scan.png").mode == "I;16"
    assert deblur(model, str(tmp_path / "in"), "-o", str(tmp_path / "out")) == 0
    out = Image.open(tmp_path / "out" / "scan.png")
    assert out.mode == "I;16"  # grayscale stays grayscale, 16 bits stay 16 bits
    assert np.abs(np.asarray(out).astype(int) - gray).max() <= 1


def test_grayscale_in_grayscale_out(tmp_path: Path, model: Path, one_thread: None) -> None:
    gray = np.random.default_rng(5).integers(0, 256, (20, 24), dtype=np.uint8)
    (tmp_path / "in").mkdir()
    Image.fromarray(gray).save(tmp_path / "in" / "bw.png")
    Image.fromarray(gray).save(tmp_path / "in" / "bw2.jpg", quality=95)
    assert deblur(model, str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--format", "same") == 0
    out = Image.open(tmp_path / "out" / "bw.png")
    assert out.mode == "L" and np.abs(np.asarray(out).astype(int) - gray).max() <= 1
    assert Image.open(tmp_path / "out" / "bw2.jpg").mode == "L"


def test_jpeg_output_at_the_asked_quality(tmp_path: Path, model: Path, one_thread: None) -> None:
    photo(tmp_path / "in" / "p.png", 64, 64)
    sizes = {}
    for quality in (30, 90):
        out = tmp_path / f"q{quality}"
        assert deblur(model, str(tmp_path / "in"), "-o", str(out), "--format", "jpg", "--quality", str(quality)) == 0
        written = Image.open(out / "p.jpg")
        assert written.format == "JPEG"
        reference = io.BytesIO()  # the quantisation tables Pillow's encoder uses at that quality
        Image.new("RGB", (8, 8)).save(reference, format="JPEG", quality=quality)
        assert written.quantization == Image.open(reference).quantization
        sizes[quality] = (out / "p.jpg").stat().st_size
    assert sizes[30] < sizes[90]


def test_help_states_the_default_format(capsys: pytest.CaptureFixture) -> None:
    for command in ("deblur", "infer"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--format {png,jpg,webp,same}" in text and "(default: png)" in text and "--overwrite" in text
