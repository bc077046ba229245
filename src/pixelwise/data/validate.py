"""Per-sample checks (run when a sample is loaded) and a whole-dataset check to run before long jobs.

Each failure is one :class:`PixelwiseError` naming the file and the option or action that fixes it, so a
bad id never reaches the device as a scatter assert and no file is skipped silently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from pixelwise.errors import PixelwiseError
from pixelwise.ops import check_label_range


def check_label_ids(label: np.ndarray, label_nc: int, contain_dontcare: bool, path: Path) -> None:
    """Every id must lie in ``[0, label_nc)`` (``[0, label_nc]`` with the dontcare channel):
    :func:`pixelwise.ops.check_label_range` naming the file and ``data.label_nc``."""
    check_label_range(label, label_nc + int(contain_dontcare), f"label map {path}", "data.label_nc",
                      dontcare=contain_dontcare)


def check_same_size(first: Path, first_shape: tuple[int, ...], second: Path,
                    second_shape: tuple[int, ...]) -> None:
    """Two files of one sample must have the same height and width."""
    if tuple(first_shape[:2]) != tuple(second_shape[:2]):
        h1, w1 = first_shape[:2]
        h2, w2 = second_shape[:2]
        raise PixelwiseError(
            f"size mismatch: {first} is {h1}x{w1} (HxW) but its partner {second} is {h2}x{w2}; the files of "
            f"one sample must have the same size (re-export or resize them together)"
        )


def check_dataset(dataset: Dataset, progress: bool = True) -> int:
    """Load every sample once (decode, pair, id range, sizes); returns the count or raises the first error."""
    from tqdm import tqdm

    count = 0
    for index in tqdm(range(len(dataset)), desc="checking data", disable=not progress, leave=False):
        dataset[index]
        count += 1
    return count
