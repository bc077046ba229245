"""Motion-blur synthesis: kernel properties, convolution, the blur dataset and the ``pixelwise blur`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from pixelwise.cli import main
from pixelwise.data import DataConfig, build_dataset
from pixelwise.data.blur import (
    draw_strength,
    image_seed,
    kernel_center_of_mass,
    kernel_spread,
    motion_blur,
    random_trajectories,
    sample_kernel,
)
from pixelwise.data.strength import parse_strength
from pixelwise.errors import PixelwiseError

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread


@pytest.mark.parametrize("strength", [0.0, 0.05, 0.3, 0.7, 1.0])
def test_kernel_sums_to_one_and_is_centred(strength: float) -> None:
    for seed in range(6):
        kernel = sample_kernel(seed, strength, max_length=40).kernel
        size = kernel.shape[0]
        assert kernel.shape == (size, size) and size % 2 == 1
        assert (kernel >= 0).all()
        assert abs(kernel.sum() - 1.0) < 1e-12
        row, col = kernel_center_of_mass(kernel)
        assert abs(row - size // 2) < 1e-9 and abs(col - size // 2) < 1e-9


def test_strength_zero_is_identity_and_extent_grows_with_strength() -> None:
    """DeblurGAN's regime: with the default 60-pixel path the mean RMS spread over 40 seeds grows with the
    exposure and reaches >= 5 px at strength 1 (Boracchi & Foi's default anxiety gave ~1.2 px)."""
    identity = sample_kernel(1, 0.0).kernel
    assert identity.max() == pytest.approx(1.0)
    strengths = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
    means = [np.mean([kernel_spread(sample_kernel(seed, s).kernel) for seed in range(40)]) for s in strengths]
    assert means[0] == 0.0
    assert all(b > a for a, b in zip(means, means[1:])), means
    assert means[-1] >= 5.0, means
    assert 1.5 < means[1] < 2.0  # a 6-px path: about the 1.73 px of a straight 6-px line
    # the exposure prefix of the same trajectory: a longer exposure never shrinks a given kernel's support
    assert kernel_spread(sample_kernel(7, 1.0, 40).kernel) > kernel_spread(sample_kernel(7, 0.1, 40).kernel)


def test_anxiety_is_one_of_deblurgans_levels() -> None:
    levels = {sample_kernel(seed, 1.0).params["anxiety"] for seed in range(60)}
    assert levels <= {0.01, 0.009, 0.008, 0.007, 0.005, 0.003} and len(levels) >= 4


def test_blurred_dot_keeps_mass_and_centre_for_many_seeds() -> None:
    image = torch.zeros(1, 96, 96, dtype=torch.float64)
    image[0, 48, 47] = 1.0
    rows, cols = torch.meshgrid(torch.arange(96.0, dtype=torch.float64), torch.arange(96.0, dtype=torch.float64),
                                indexing="ij")
    for seed in range(30):
        out = motion_blur(image, sample_kernel(seed, 1.0).kernel)[0]
        mass = float(out.sum())
        assert abs(mass - 1.0) < 0.01
        assert abs(float((out * rows).sum()) / mass - 48) < 0.5 and abs(float((out * cols).sum()) / mass - 47) < 0.5


def test_psnr_of_blurred_photos_falls_with_strength() -> None:
    """The bundled test photos (64x64, 30-px paths), each blurred as the evaluation set blurs it (its fixed
    kernel from the data seed and its name) for data seeds 0-2: the mean PSNR against the sharp photos falls
    at every step of strength."""
    from pixelwise.metrics import psnr, quantize

    config = DataConfig(format="bundled-blur", root="", load_height=64, load_width=64, blur_strength=0.0)
    dataset = build_dataset(config, "test", train=False)
    samples = [dataset[i] for i in range(len(dataset))]
    sharp = torch.stack([s["target"] for s in samples])
    means = []
    for strength in (0.0, 0.25, 0.5, 0.75, 1.0):
        values = []
        for data_seed in range(3):
            kernels = [sample_kernel(image_seed(data_seed, s["name"]), strength, 30).kernel for s in samples]
            blurred = torch.stack([motion_blur(x, k.astype(np.float32)) for x, k in zip(sharp, kernels)])
            values.append(np.mean(np.minimum(psnr(quantize(blurred), quantize(sharp)), 100.0)))
        means.append(float(np.mean(values)))
    assert means[0] == 100.0  # strength 0: the photos themselves
    assert all(b < a for a, b in zip(means, means[1:])), means
    assert means[-1] < 24.0, means  # strength 1 is heavy


def test_trajectory_has_fixed_length() -> None:
    paths, params = random_trajectories(np.random.default_rng(0), 3)
    lengths = np.abs(np.diff(paths, axis=1)).sum(axis=1)
    assert np.allclose(lengths, 1.0) and paths.shape == (3, 2000) and (paths[:, 0] == 0).all()
    assert set(params) >= {"inertia", "shake", "impulse_prob", "anxiety", "angle_rad"}


def test_same_seed_same_kernel() -> None:
    a, b = sample_kernel(11, (0.2, 0.9)), sample_kernel(11, (0.2, 0.9))
    assert np.array_equal(a.kernel, b.kernel) and a.params == b.params
    assert 0.2 <= a.params["strength"] <= 0.9
    assert not np.array_equal(sample_kernel(12, 0.9).kernel, sample_kernel(13, 0.9).kernel)
    assert image_seed(0, "a.png") == image_seed(0, "a.png") != image_seed(0, "b.png")
    assert image_seed(0, "a.png") != image_seed(1, "a.png")


def test_strength_sampling_uniform_log_and_mixed() -> None:
    u = np.linspace(0, 1, 10001)[:-1]
    assert np.allclose([draw_strength(x, 0.2, 0.8) for x in u[::500]], 0.2 + 0.6 * u[::500])  # the old way
    lengths = np.array([draw_strength(x, 0.0, 1.0, "log", 60.0) for x in u]) * 60
    assert lengths.min() == pytest.approx(1.0) and lengths.max() == pytest.approx(60.0, rel=1e-3)
    octaves = np.histogram(np.log2(lengths), bins=[0, 1, 2, 3, 4, 5])[0]
    assert octaves.max() - octaves.min() <= 2  # every octave of path length equally likely
    assert (lengths <= 12).mean() == pytest.approx(np.log(12) / np.log(60), abs=1e-3)  # 61%, uniform: 20%
    mixed = np.array([draw_strength(x, 0.0, 1.0, "mixed", 60.0) for x in u]) * 60
    assert (mixed <= 12).mean() == pytest.approx((0.2 + np.log(12) / np.log(60)) / 2, abs=1e-3)
    assert draw_strength(0.3, 0.5, 0.5, "log") == 0.5  # a single strength stays itself
    assert 0.5 <= draw_strength(0.0, 0.5, 1.0, "log", 60.0) <= draw_strength(0.99, 0.5, 1.0, "log", 60.0) <= 1
    with pytest.raises(ValueError, match="not one of"):
        draw_strength(0.5, 0, 1, "cubic")
    with pytest.raises(PixelwiseError, match="data.blur_strength_sampling='cubic' must be one of"):
        DataConfig(format="blur", blur_strength_sampling="cubic")
    a, b = sample_kernel(5, (0.0, 1.0), 60, "uniform"), sample_kernel(5, (0.0, 1.0), 60, "log")
    assert (a.params["angle_rad"], a.params["shake"]) == (b.params["angle_rad"], b.params["shake"])  # same path
    assert b.params["path_length_px"] == pytest.approx(60 * draw_strength(a.params["strength"], 0, 1, "log", 60))


@pytest.mark.parametrize("shape", [(3, 7, 40), (2, 3, 31, 9), (1, 3, 3)])
def test_constant_image_stays_constant(shape: tuple[int, ...]) -> None:
    kernel = sample_kernel(3, 1.0, 60).kernel  # wider than the tiny images: repeated reflection
    image = torch.full(shape, 0.37)
    assert torch.allclose(motion_blur(image, kernel), image, atol=1e-6)


def test_fft_blur_equals_direct_reflect_convolution() -> None:
    torch.manual_seed(0)
    image = torch.rand(2, 3, 23, 37, dtype=torch.float64)
    kernels = [torch.from_numpy(sample_kernel(s, 0.6, 16).kernel) for s in (1, 2)]
    size = max(k.shape[-1] for k in kernels)
    assert size // 2 < 23  # torch's reflect reference needs pad < image size
    kernels = torch.stack([F.pad(k, [(size - k.shape[-1]) // 2] * 4) for k in kernels])  # common odd size
    out = motion_blur(image, kernels)
    pad = size // 2
    for i in range(2):
        padded = F.pad(image[i:i + 1], (pad, pad, pad, pad), mode="reflect")
        direct = F.conv2d(padded, kernels[i].flip(0, 1).expand(3, 1, size, size), groups=3)
        assert torch.allclose(out[i:i + 1], direct, atol=1e-12)


def test_blur_keeps_alignment_and_energy() -> None:
    kernel = sample_kernel(5, 1.0, 30).kernel
    image = torch.zeros(1, 64, 80, dtype=torch.float64)
    image[0, 30, 41] = 1.0
    out = motion_blur(image, kernel)[0]
    rows, cols = torch.meshgrid(torch.arange(64.0, dtype=torch.float64), torch.arange(80.0, dtype=torch.float64),
                                indexing="ij")
    assert float(out.sum()) == pytest.approx(1.0, abs=1e-12)
    assert float((out * rows).sum()) == pytest.approx(30.0, abs=1e-9)
    assert float((out * cols).sum()) == pytest.approx(41.0, abs=1e-9)
    assert float(out.max()) < 0.5  # and it is blurred


def test_parse_strength() -> None:
    assert parse_strength("0.2,0.8") == parse_strength("0.2-0.8") == parse_strength([0.2, 0.8]) == (0.2, 0.8)
    assert parse_strength(0.5) == (0.5, 0.5)
    for bad in ("1.5", "0.8,0.2", "heavy", [0.1, 0.2, 0.3]):
        with pytest.raises(PixelwiseError, match="from 0 \\(no blur\\) to 1 \\(heavy\\)"):
            parse_strength(bad)


# ------------------------------------------------------------------------------------- on-the-fly dataset


def _photos(folder: Path, count: int = 2, h: int = 40, w: int = 60) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(count):
        pattern = ((np.sin(xx / (3 + i)) + np.cos(yy / 4)) * 60 + 128).clip(0, 255).astype(np.uint8)
        Image.fromarray(np.stack([pattern, pattern[::-1], 255 - pattern], -1)).save(folder / f"img{i}.png")


def test_blur_dataset_eval_is_deterministic_and_equals_full_blur_then_crop(tmp_path: Path) -> None:
    _photos(tmp_path / "test")
    _photos(tmp_path / "train", count=3)
    base = {"format": "blur", "root": str(tmp_path), "blur_strength": [0.5, 1.0], "blur_max_length": 20}
    full = build_dataset(DataConfig(**base), "test", train=False)
    assert len(full) == 2 and len(build_dataset(DataConfig(**base), "train")) == 3
    sample = full[0]
    assert sample["input"].shape == sample["target"].shape == (3, 40, 60)
    assert torch.equal(sample["input"], build_dataset(DataConfig(**base), "test", train=False)[0]["input"])
    assert (sample["input"] - sample["target"]).abs().mean() > 0.01
    kernel = sample_kernel(image_seed(0, "img0"), (0.5, 1.0), 20).kernel.astype(np.float32)
    expected = motion_blur(sample["target"], kernel).clamp(-1, 1)
    assert torch.allclose(sample["input"], expected, atol=1 / 127.5)  # up to 8-bit quantisation
    cropped = build_dataset(DataConfig(**base, crop_height=16, crop_width=24, eval_crop=True), "test", False)[0]
    assert torch.equal(cropped["input"], sample["input"][:, 12:28, 18:42])
    assert torch.equal(cropped["target"], sample["target"][:, 12:28, 18:42])
    other_seed = build_dataset(DataConfig(**base, seed=1), "test", train=False)[0]
    assert not torch.equal(other_seed["input"], sample["input"])


def test_blur_dataset_training_draws_new_kernels(tmp_path: Path) -> None:
    _photos(tmp_path)
    config = DataConfig(format="blur", root=str(tmp_path), blur_strength=[0.6, 1.0], blur_max_length=20,
                        crop_height=32, crop_width=32, flip=False, blur_noise=0.01)
    dataset = build_dataset(config, "train", train=True)
    torch.manual_seed(0)
    first, second = dataset[0], dataset[0]
    assert first["input"].shape == (3, 32, 32)
    assert not torch.equal(first["input"], second["input"])
    torch.manual_seed(0)
    assert torch.equal(dataset[0]["input"], first["input"])
    none = build_dataset(DataConfig(format="blur", root=str(tmp_path), blur_strength=0.0), "train", False)[1]
    assert torch.equal(none["input"], none["target"])


def test_repeat_makes_longer_training_epochs_of_fresh_draws_and_leaves_evaluation_alone(tmp_path: Path) -> None:
    from pixelwise.data.preflight import find_problems

    _photos(tmp_path / "train", count=3)
    base = {"format": "blur", "root": str(tmp_path), "blur_strength": [0.6, 1.0], "blur_max_length": 20,
            "crop_height": 32, "crop_width": 32}
    repeated = build_dataset(DataConfig(**base, repeat=4), "train", train=True)
    assert len(repeated) == 12 and len(build_dataset(DataConfig(**base, repeat=4), "train", train=False)) == 3
    names = [repeated[i]["name"] for i in range(12)]
    assert names == ["img0", "img1", "img2"] * 4  # every photo, 4 times an epoch
    torch.manual_seed(0)
    visits = [repeated[i]["input"] for i in (0, 3, 6)]  # the same photo: a fresh crop and kernel each visit
    assert not torch.equal(visits[0], visits[1]) and not torch.equal(visits[1], visits[2])
    problems, files = find_problems(repeated, "headers")
    assert problems == [] and files == 3  # each file checked once
    for bad in (0, -1, 1.5, True):
        with pytest.raises(PixelwiseError, match="data.repeat"):
            DataConfig(**base, repeat=bad)


def test_blur_dataset_decodes_each_photo_once_per_process_and_gives_the_same_samples(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    from pixelwise.data import blur_dataset
    from pixelwise.data.blur_dataset import MotionBlurDataset, sharp_records

    _photos(tmp_path, count=3)
    config = DataConfig(format="blur", root=str(tmp_path), blur_strength=[0.3, 1.0], blur_max_length=10,
                        crop_height=24, crop_width=24, load_width=48)
    decoded: list[Path] = []
    real_read = blur_dataset.read_photo
    monkeypatch.setattr(blur_dataset, "read_photo", lambda path: decoded.append(path) or real_read(path))
    records = sharp_records(tmp_path, "train")
    cached = MotionBlurDataset(records, config, train=True)
    uncached = MotionBlurDataset(records, config, train=True, cache_bytes=0)
    for index in (0, 1, 2, 0, 1, 2):
        torch.manual_seed(index)
        a = cached[index]
        torch.manual_seed(index)
        b = uncached[index]
        assert torch.equal(a["input"], b["input"]) and torch.equal(a["target"], b["target"])
    assert len(decoded) == 3 + 6  # the cached dataset read each photo once, the other one every time
    assert cached.sharp_photo(0).shape == (32, 48, 3)  # kept at the load size (40x60 -> 48 wide)


def test_blur_dataset_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PixelwiseError, match=r"sharp photo folder .*empty or its subfolders holds no"):
        build_dataset(DataConfig(format="blur", root=str(tmp_path / "empty")))
    with pytest.raises(PixelwiseError, match=r"data.blur_strength=\[0.9, 0.1\] is not a blur strength"):
        DataConfig(format="blur", blur_strength=[0.9, 0.1])


# ------------------------------------------------------------------------------------- pixelwise blur


def test_blur_command_writes_a_graded_paired_dataset(tmp_path: Path) -> None:
    source = tmp_path / "sharp"
    _photos(source, count=2)
    _photos(source / "nested", count=1, h=30, w=50)
    Image.open(source / "img1.png").save(source / "img2.jpg", quality=95)
    out = tmp_path / "out"
    assert main(["blur", str(source), str(out), "--strength", "0.2-0.8", "--seed", "4", "--max-length", "20",
                 "--no-progress"]) == 0
    names = sorted(p.relative_to(out / "A").as_posix() for p in (out / "A").rglob("*.png"))
    assert names == ["img0.png", "img1.png", "img2.png", "nested/img0.png"]
    assert names == sorted(p.relative_to(out / "B").as_posix() for p in (out / "B").rglob("*.png"))
    assert np.array_equal(np.asarray(Image.open(out / "B" / "img0.png")), np.asarray(Image.open(source / "img0.png")))
    manifest = json.loads((out / "kernels.json").read_text())
    assert [k["name"] for k in manifest["kernels"]] == names
    assert all(0.2 <= k["strength"] <= 0.8 and k["kernel_size"] >= 3 for k in manifest["kernels"])
    first = manifest["kernels"][0]
    again = sample_kernel(first["seed"], first["strength"], first["max_length_px"])
    assert again.params["spread_px"] == pytest.approx(first["spread_px"])  # reproducible from the JSON
    blurred = np.asarray(Image.open(out / "A" / "img0.png")).astype(int)
    assert np.abs(blurred - np.asarray(Image.open(source / "img0.png")).astype(int)).mean() > 1
    # same seed, same output; the result loads as a paired dataset
    again_dir = tmp_path / "again"
    main(["blur", str(source), str(again_dir), "--strength", "0.2-0.8", "--seed", "4", "--max-length", "20",
          "--no-progress"])
    assert (again_dir / "A" / "img1.png").read_bytes() == (out / "A" / "img1.png").read_bytes()
    assert len(build_dataset(DataConfig(format="paired", root=str(out)), "train", train=False)) == 4
    # strength 0: A equals B exactly
    zero = tmp_path / "zero"
    main(["blur", str(source), str(zero), "--strength", "0", "--no-progress"])
    assert (zero / "A" / "img0.png").read_bytes() == (zero / "B" / "img0.png").read_bytes()


def test_blur_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "sharp"
    _photos(source, count=1)
    assert main(["blur", str(source), str(source / "out"), "--no-progress"]) == 2
    assert "is inside the input folder" in capsys.readouterr().err
    assert main(["blur", str(tmp_path / "nope"), str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "sharp photo folder" in err and "nope does not exist" in err
    assert main(["blur", str(source), str(tmp_path / "o"), "--strength", "3", "--no-progress"]) == 2
    assert "--strength='3' is not a blur strength" in capsys.readouterr().err


# --- camera realism (pixelwise.data.camera) -----------------------------------------------------------------
def _camera_image() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(3, 48, 64, generator=generator) * 0.8 + 0.1


def test_camera_options_off_is_the_plain_blur():
    from pixelwise.data.blur import motion_blur, sample_kernel
    from pixelwise.data.camera import CameraOptions, degrade

    kernel = sample_kernel(3, 0.5, 20).kernel
    image = _camera_image()
    assert not CameraOptions().active
    plain = motion_blur(image, torch.as_tensor(kernel, dtype=torch.float32))
    assert torch.allclose(degrade(image, kernel, CameraOptions()), plain.clamp(0, 1), atol=1e-6)


def test_camera_linear_light_keeps_the_linear_energy_and_differs_from_display_blur():
    from pixelwise.data.blur import motion_blur, sample_kernel
    from pixelwise.data.camera import CameraOptions, degrade

    kernel = sample_kernel(5, 1.0, 16).kernel
    image = _camera_image()
    out = degrade(image, kernel, CameraOptions(gamma=2.2))
    linear_in, linear_out = image.pow(2.2), out.pow(2.2)
    assert abs(linear_out.mean().item() - linear_in.mean().item()) < 2e-3  # light is moved, not made or lost
    display = motion_blur(image, torch.as_tensor(kernel, dtype=torch.float32))
    assert (out - display).abs().mean() > 1e-3  # blurring light is not blurring stored values
    constant = torch.full((3, 32, 32), 0.3)
    assert torch.allclose(degrade(constant, kernel, CameraOptions(gamma=2.2)), constant, atol=1e-5)


def test_camera_highlights_smear_into_saturated_streaks():
    from pixelwise.data.blur import trajectory_kernel
    from pixelwise.data.camera import CameraOptions, degrade

    path = np.linspace(0, 1, 200) + 0j  # a straight 12-px horizontal path
    kernel = trajectory_kernel(path, 1.0, 12.0)
    image = torch.full((1, 32, 48), 0.2)
    image[:, 16, 24] = 1.0  # one clipped light
    plain = degrade(image, kernel, CameraOptions(gamma=2.2))
    bright = degrade(image, kernel, CameraOptions(gamma=2.2, highlight_gain=30.0))
    assert plain.max() < 0.6 and bright.max() >= 0.999  # the light stays saturated along its streak
    assert (bright[0, 16] >= 0.999).sum() >= 8


def test_camera_noise_follows_the_poisson_gaussian_variance_and_is_seeded():
    from pixelwise.data.camera import CameraOptions, degrade

    identity = np.ones((1, 1))
    flat = torch.full((1, 200, 200), 0.5)
    options = CameraOptions(shot_noise=0.01, read_noise=0.02)
    noisy = degrade(flat, identity, options, torch.Generator().manual_seed(1))
    expected = (0.01 * 0.5 + 0.02**2) ** 0.5
    assert abs(noisy.std().item() - expected) < 0.1 * expected
    again = degrade(flat, identity, options, torch.Generator().manual_seed(1))
    assert torch.equal(noisy, again)


def test_camera_jpeg_round_trip_at_the_asked_quality():
    from pixelwise.data.camera import CameraOptions, degrade

    image = _camera_image()
    identity = np.ones((1, 1))
    low = degrade(image, identity, CameraOptions(jpeg_quality=10))
    high = degrade(image, identity, CameraOptions(jpeg_quality=95))
    err_low, err_high = (low - image).abs().mean(), (high - image).abs().mean()
    assert err_high < err_low and err_high > 0
    with pytest.raises(PixelwiseError, match="JPEG"):
        CameraOptions(jpeg_quality=101)


def test_blur_dataset_camera_options_reach_the_samples(tmp_path):
    from PIL import Image

    from pixelwise.data.blur_dataset import MotionBlurDataset, sharp_records
    from pixelwise.data.config import DataConfig

    folder = tmp_path / "sharp" / "test"
    folder.mkdir(parents=True)
    array = (np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8)
    Image.fromarray(array).save(folder / "a.png")
    base = dict(format="blur", root=str(tmp_path / "sharp"), blur_strength=0.5, blur_max_length=8)
    plain = MotionBlurDataset(sharp_records(tmp_path / "sharp", "test"), DataConfig(**base), train=False)[0]
    noisy = MotionBlurDataset(sharp_records(tmp_path / "sharp", "test"),
                              DataConfig(**base, blur_gamma=2.2, blur_read_noise=0.05), train=False)[0]
    assert torch.equal(plain["target"], noisy["target"])
    assert (plain["input"] - noisy["input"]).abs().mean() > 0.02
    with pytest.raises(PixelwiseError, match="data.blur_"):
        DataConfig(**base, blur_highlight_gain=0.5)
