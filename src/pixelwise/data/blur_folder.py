"""``pixelwise blur``: a folder of sharp photos -> a paired, graded motion-blur dataset.

Writes ``OUT/A/<name>.png`` (blurred) and ``OUT/B/<name>.png`` (sharp, losslessly re-encoded) under the same
relative names, plus ``OUT/kernels.json`` with every kernel's parameters (each reproducible from its seed).
Load the result with ``data.format: paired``. Photos are read as the datasets read them
(:func:`pixelwise.data.transforms.read_photo`: upright, 8-bit RGB; a transparent alpha is refused). Existing
pairs are skipped unless ``overwrite``, so a stopped run resumes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from pixelwise.data.blur import image_seed, sample_kernel
from pixelwise.data.camera import CameraOptions, blur_like_camera
from pixelwise.data.files import keyed, list_images
from pixelwise.data.strength import parse_strength
from pixelwise.data.transforms import read_photo
from pixelwise.errors import PixelwiseError
from pixelwise.fileio import atomic_write, atomic_write_json


def blur_photo(photo: np.ndarray, seed: int, strength: tuple[float, float], max_length: float,
               noise: float, camera: CameraOptions | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """uint8 (H, W, 3) -> (blurred uint8 (H, W, 3), kernel parameters). Works in [0, 1] intensities; the noise
    is Gaussian with std ``noise`` added after blurring, then values are clipped and rounded to 8 bits.
    ``camera``: the realism options of :mod:`pixelwise.data.camera` (linear light, highlights, sensor noise,
    JPEG), applied with the same kernel."""
    kernel = sample_kernel(seed, strength, max_length)
    image = torch.from_numpy(np.array(photo, dtype=np.float32) / 255.0).permute(2, 0, 1)
    blurred = blur_like_camera(image, kernel.kernel, camera, seed)
    if noise > 0:
        generator = torch.Generator().manual_seed(seed)
        blurred = blurred + noise * torch.randn(blurred.shape, generator=generator)
    out = (blurred.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
    params = {**kernel.params, "noise_std": float(noise)}
    if camera is not None and camera.active:
        params["camera"] = dataclasses.asdict(camera)
    return out, params


def _save_png(array: np.ndarray, path: Path) -> None:
    atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


SETTINGS_FILE = ".pixelwise-blur.json"  # the settings a (possibly interrupted) run of OUT was started with


def _settings_check(out_dir: Path, settings: dict[str, Any], overwrite: bool) -> None:
    """Refuse (one line) to resume into ``out_dir`` when it was started with other settings."""
    import json

    for name in (SETTINGS_FILE, "kernels.json"):
        stamp = out_dir / name
        if overwrite or not stamp.is_file():
            continue
        try:
            old = json.loads(stamp.read_text())
        except (OSError, ValueError):
            old = {}
        before = {k: old.get(k) for k in settings}
        if before != settings:
            raise PixelwiseError(
                f"{out_dir} holds a blur dataset made with other settings ({before} in {stamp}, now {settings}); "
                f"nothing was written: use the same settings to resume, another output folder, or --overwrite")


def blur_folder(sharp_dir: str | Path, out_dir: str | Path, strength: float | str | list[float] = "0.2,1.0",
                seed: int = 0, max_length: float = 60.0, noise: float = 0.0, progress: bool = True,
                camera: CameraOptions | None = None, overwrite: bool = False,
                report: Callable[[str], None] | None = None) -> Path:
    """Blur every photo under ``sharp_dir`` (recursively) with its own random camera-shake kernel; strength
    is a number in [0, 1] or a range sampled uniformly per image. Returns the path of ``kernels.json``.

    No input is overwritten (an output folder inside the input folder, or an output that is an input, is
    refused before any work). Pairs whose A and B files exist are skipped unless ``overwrite`` (their kernels,
    rebuilt from their seeds, still go into ``kernels.json``), so a stopped run resumes; a folder started with
    other settings is refused. ``report`` receives the line about skipped pairs."""
    from tqdm import tqdm

    from pixelwise.photo_io import refuse_overwriting_inputs

    sharp_dir, out_dir = Path(sharp_dir).expanduser(), Path(out_dir).expanduser()
    lo, hi = parse_strength(strength)
    if max_length < 0 or noise < 0:
        raise PixelwiseError("--max-length and --noise must be >= 0")
    if out_dir.resolve().is_relative_to(sharp_dir.resolve()):
        raise PixelwiseError(
            f"output folder {out_dir} is inside the input folder {sharp_dir}; choose an output folder outside it"
        )
    fix = "give a folder of sharp photos (PNG/JPEG), searched recursively"
    files = keyed(list_images(sharp_dir, "sharp photo", fix, recursive=True), str(sharp_dir), base=sharp_dir)
    from pixelwise.data.preflight import input_problems, raise_input_problems

    raise_input_problems(input_problems(files.values(), "dataset photo", "sharp photo"), len(files), "sharp photos")
    outputs = {name: (out_dir / "A" / f"{name}.png", out_dir / "B" / f"{name}.png") for name in files}
    manifest = out_dir / "kernels.json"
    refuse_overwriting_inputs([*(p for pair in outputs.values() for p in pair), manifest,
                               out_dir / SETTINGS_FILE], files.values(),
                              "choose an output folder that does not hold the sharp photos")
    settings = {"strength": [lo, hi], "seed": seed, "max_length_px": max_length, "noise_std": noise,
                "camera": dataclasses.asdict(camera or CameraOptions())}
    _settings_check(out_dir, settings, overwrite)
    atomic_write_json(out_dir / SETTINGS_FILE, settings)
    skipped = {n for n, (a, b) in outputs.items() if not overwrite and a.exists() and b.exists()}
    if skipped and report is not None:
        report(f"skipped {len(skipped)} photo(s) whose blurred and sharp files already exist in {out_dir} "
               f"(--overwrite redoes them)")
    entries = []
    for name, path in tqdm(sorted(files.items()), desc="blurring", unit="img", disable=not progress):
        image_seed_value = image_seed(seed, name)
        if name in skipped:
            params = {**sample_kernel(image_seed_value, (lo, hi), max_length).params, "noise_std": float(noise)}
            if camera is not None and camera.active:
                params["camera"] = dataclasses.asdict(camera)
        else:
            photo = read_photo(path)
            blurred, params = blur_photo(photo, image_seed_value, (lo, hi), max_length, noise, camera)
            _save_png(blurred, outputs[name][0])
            _save_png(photo, outputs[name][1])
        entries.append({"name": f"{name}.png", "source": str(path.relative_to(sharp_dir)), **params})
    atomic_write_json(manifest, {
        **settings,
        "method": "Boracchi & Foi (2012) camera-shake trajectories; kernel sums to 1, centred on its centre of "
                  "mass; reflect padding; FFT convolution in [0, 1] intensities",
        "layout": "A/ blurred, B/ sharp, same names (load with data.format: paired)",
        "kernels": entries,
    })
    return manifest
