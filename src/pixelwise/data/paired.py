"""Photo -> photo pairs: ``A/`` + ``B/`` folders with matching names, or pix2pix's aligned A|B images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelwise.data.cityscapes import LabelRecord
from pixelwise.data.config import DataConfig
from pixelwise.data.files import SPLIT_NAMES, keyed, list_images, pair, require_dir, split_folder
from pixelwise.data.transforms import (
    crop_box,
    crop_flip,
    load_size,
    photo_to_tensor,
    random_flip,
    read_photo,
    resize_photo,
)
from pixelwise.data.validate import check_same_size
from pixelwise.errors import PixelwiseError


@dataclass(frozen=True)
class PairRecord:
    """One photo pair on disk (``target`` is None for the aligned layout: both halves are in ``input``)."""

    name: str
    input: Path
    target: Path | None = None


_PAIRED = "A/ + B/ (or <split>/A/ + <split>/B/, or A/<split>/ + B/<split>/) with the same file names"


def paired_folders(root: Path, split: str) -> tuple[Path, Path]:
    """The A and B folders of ``split``: ``root/split/{A,B}``, then ``root/{A,B}/split``, then ``root/{A,B}``
    (no split folders: every split reads the same files)."""
    require_dir(root, "paired dataset root (data.root)", f"point data.root at a folder holding {_PAIRED}")
    for a, b in ((root / split / "A", root / split / "B"), (root / "A" / split, root / "B" / split)):
        if a.is_dir() or b.is_dir():
            return a, b
    a, b = root / "A", root / "B"
    present = [s for s in SPLIT_NAMES if (root / s / "A").is_dir() or (a / s).is_dir()]
    if present:
        raise PixelwiseError(
            f"paired dataset {root} has split(s) {present} but no {split!r}; choose data.split/data.eval_split "
            f"among {present}"
        )
    return a, b


def paired_keys(root: Path, split: str) -> tuple[list[str], dict[str, Path], dict[str, Path]]:
    a_dir, b_dir = paired_folders(root, split)
    fix = f"expected {_PAIRED}"
    a = keyed(list_images(a_dir, "A (inputs)", fix, recursive=True), str(a_dir), base=a_dir)
    b = keyed(list_images(b_dir, "B (targets)", fix, recursive=True), str(b_dir), base=b_dir)
    return pair({str(a_dir): a, str(b_dir): b}), a, b


def paired_records(root: Path, split: str, direction: str) -> list[PairRecord]:
    keys, a, b = paired_keys(root, split)
    if direction == "BtoA":
        a, b = b, a
    return [PairRecord(k, a[k], b[k]) for k in keys]


def paired_label_records(root: Path, split: str, direction: str) -> list[LabelRecord]:
    """A/ label maps + B/ photos (``BtoA``: the other way round), no instance maps."""
    keys, a, b = paired_keys(root, split)
    if direction == "BtoA":
        a, b = b, a
    return [LabelRecord(k, a[k], b[k]) for k in keys]


def aligned_records(root: Path, split: str) -> list[PairRecord]:
    fix = "expected images with A and B side by side (A|B, pix2pix's combine_A_and_B layout)"
    folder = split_folder(root, split, "aligned dataset root (data.root)", fix)
    files = keyed(list_images(folder, "aligned A|B", fix), str(folder), base=folder)
    return [PairRecord(k, p) for k, p in sorted(files.items())]


class PairedDataset(Dataset):
    """Samples ``{"input": float (3,H,W) in [-1,1], "target": float (3,H,W) in [-1,1], "name": str}``; the
    same resize, crop and flip for both."""

    def __init__(self, records: Sequence[PairRecord], config: DataConfig, train: bool) -> None:
        self.records = list(records)
        self.config = config
        self.train = train

    def __len__(self) -> int:
        return len(self.records)

    def _pair(self, record: PairRecord) -> tuple[np.ndarray, np.ndarray]:
        first = read_photo(record.input)
        if record.target is not None:
            second = read_photo(record.target)
            check_same_size(record.input, first.shape, record.target, second.shape)
            return first, second
        width = first.shape[1]
        if width % 2:
            raise PixelwiseError(
                f"aligned image {record.input} is {width} pixels wide, which is odd, so it cannot hold A|B "
                f"side by side; aligned images are two equal halves (or use data.format=paired with A/ and B/)"
            )
        a, b = first[:, : width // 2], first[:, width // 2:]
        return (b, a) if self.config.direction == "BtoA" else (a, b)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        config = self.config
        record = self.records[index]
        source, target = self._pair(record)
        size = load_size(*source.shape[:2], config.load_height, config.load_width)
        crop = self.train or config.eval_crop
        box = crop_box(*size, config.crop_height if crop else None, config.crop_width if crop else None,
                       self.train, where=str(record.input))
        flip = self.train and config.flip and random_flip()
        return {
            "input": crop_flip(photo_to_tensor(resize_photo(source, size)), box, flip),
            "target": crop_flip(photo_to_tensor(resize_photo(target, size)), box, flip),
            "name": record.name,
        }
