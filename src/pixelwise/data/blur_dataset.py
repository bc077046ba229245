"""Sharp photos blurred on the fly: ``{"input": blurred, "target": sharp, "name"}`` in [-1, 1].

Training draws a new kernel (and crop, flip, noise) per access from torch's global generator, which
DataLoader seeds per worker; evaluation uses one fixed kernel per image from ``config.seed`` and the image
name, so every evaluation sees the same blurred inputs. The crop is blurred from a margin of real pixels
around it, so a sample equals "blur the whole resized photo, then crop" exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelwise.data.blur import image_seed, sample_kernel
from pixelwise.data.camera import blur_like_camera
from pixelwise.data.config import DataConfig
from pixelwise.data.files import keyed, list_images, split_folder
from pixelwise.data.transforms import (
    crop_box,
    crop_flip,
    load_size,
    photo_to_tensor,
    random_flip,
    read_photo,
    resize_photo,
)

PHOTO_CACHE_BYTES = 512 * 2**20  # per process: 24 photos at 720x1280 are 66 MB


@dataclass(frozen=True)
class SharpRecord:
    name: str
    path: Path


def sharp_records(root: Path, split: str) -> list[SharpRecord]:
    """Every photo under ``root/split`` (or ``root`` when it has no split folders), named by relative path."""
    fix = "point data.root at a folder of sharp photos (optionally in train/ and test/ subfolders)"
    folder = split_folder(root, split, "sharp photo root (data.root)", fix)
    files = keyed(list_images(folder, "sharp photo", fix, recursive=True), str(folder), base=folder)
    return [SharpRecord(k, p) for k, p in sorted(files.items())]


class MotionBlurDataset(Dataset):
    """Pairs (synthetically blurred, sharp) from sharp photos; see the module docstring."""

    def __init__(self, records: Sequence[SharpRecord], config: DataConfig, train: bool,
                 cache_bytes: int = PHOTO_CACHE_BYTES) -> None:
        self.records = list(records)
        self.config = config
        self.train = train
        # decoded, resized photos of this process (each DataLoader worker has its own), up to cache_bytes: a
        # small photo set is decoded once per worker instead of once per sample (half a sample's cost at 720 px)
        self.cache_bytes = cache_bytes
        self._photos: dict[int, np.ndarray] = {}
        self._cached = 0

    def sharp_photo(self, index: int) -> np.ndarray:
        """uint8 (H, W, 3) of record ``index`` at the load size (cached while the budget lasts)."""
        photo = self._photos.get(index)
        if photo is not None:
            return photo
        config = self.config
        photo = read_photo(self.records[index].path)
        photo = resize_photo(photo, load_size(*photo.shape[:2], config.load_height, config.load_width))
        if self._cached + photo.nbytes <= self.cache_bytes:
            self._photos[index] = photo
            self._cached += photo.nbytes
        return photo

    def __len__(self) -> int:
        return len(self.records)

    def kernel_seed(self, index: int) -> int:
        if self.train:
            return int(torch.randint(0, 2**31 - 1, ()).item())
        return image_seed(self.config.seed, self.records[index].name)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        config = self.config
        record = self.records[index]
        photo = self.sharp_photo(index)
        size = photo.shape[:2]
        crop = self.train or config.eval_crop
        top, left, h, w = crop_box(*size, config.crop_height if crop else None,
                                   config.crop_width if crop else None, self.train, where=str(record.path))
        seed = self.kernel_seed(index)
        kernel = sample_kernel(seed, config.blur_strength, config.blur_max_length, config.blur_strength_sampling).kernel
        margin = kernel.shape[0] // 2
        y0, x0 = max(0, top - margin), max(0, left - margin)
        y1, x1 = min(size[0], top + h + margin), min(size[1], left + w + margin)
        region = photo_to_tensor(photo[y0:y1, x0:x1])  # the crop and its margin, (3, y1 - y0, x1 - x0)
        # the camera's JPEG round trip (when on) sees the margin too, like a crop of a JPEG photo
        blurred = blur_like_camera(region, kernel, config.camera_options(), seed, signed=True)
        blurred = blurred[:, top - y0:top - y0 + h, left - x0:left - x0 + w]
        if config.blur_noise > 0:
            generator = torch.Generator().manual_seed(seed)
            noise = torch.randn(blurred.shape, generator=generator) * (2.0 * config.blur_noise)
            blurred = blurred + noise
        blurred = ((blurred.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1  # 8-bit levels, like a saved file
        flip = self.train and config.flip and random_flip()
        box = (0, 0, h, w)
        return {
            "input": crop_flip(blurred, box, flip),
            "target": crop_flip(region, (top - y0, left - x0, h, w), flip),
            "name": record.name,
        }
