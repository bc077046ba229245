"""Per-sample checks (run when a sample is loaded) and a whole-dataset check to run before long jobs.

Each failure is one :class:`PixelwiseError` naming the file and the option or action that fixes it, so a
bad id never reaches the device as a scatter assert and no file is skipped silently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from pixelwise.errors import PixelwiseError


def check_label_ids(label: np.ndarray, label_nc: int, contain_dontcare: bool, path: Path) -> None:
    """Every id must lie in ``[0, label_nc)`` (``[0, label_nc]`` with the dontcare channel)."""
    limit = label_nc + int(contain_dontcare)
    largest, smallest = int(label.max()), int(label.min())
    if smallest < 0:
        raise PixelwiseError(f"label map {path} contains negative id {smallest}; ids must be >= 0")
    if largest < limit:
        return
    channels = f"data.label_nc={label_nc}" + (" (+1 dontcare channel)" if contain_dontcare else "")
    hint = f"raise data.label_nc to at least {largest + 1}"
    if largest == 255 and not contain_dontcare:
        hint = "set data.contain_dontcare_label=true if 255 marks unlabelled pixels, or " + hint
    raise PixelwiseError(
        f"label map {path} contains label id {largest} but {channels} allows ids up to {limit - 1}; {hint} "
        f"(or remap the ids)"
    )


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
