"""Images laid out in labelled grids (matplotlib, headless): evaluation's worst/best grid and the study's
qualitative grids draw with :func:`save_image_grid`; :func:`pyplot` and :func:`save_figure` serve every plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixelwise.errors import PixelwiseError
from pixelwise.extras import require
from pixelwise.fileio import atomic_write


def pyplot() -> Any:
    """matplotlib's pyplot on the headless Agg backend."""
    require("matplotlib", "train", "drawing figures")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """Save ``fig`` as a PNG atomically (tight bounding box) and close it."""
    plt = pyplot()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    finally:
        plt.close(fig)
    return path



def to_uint8_image(image: Any) -> np.ndarray:
    """A (3, H, W) / (1, H, W) / (H, W) / (H, W, 3) tensor or array in [-1, 1] (floats) or uint8 ->
    (H, W, 3) uint8."""
    if hasattr(image, "detach"):
        image = image.detach().to("cpu").float().numpy()
    array = np.asarray(image)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.transpose(array, (1, 2, 0))
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.dtype != np.uint8:
        import torch

        from pixelwise.data.transforms import quantize_photo

        array = quantize_photo(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))).numpy()
    return array


def save_image_grid(rows: Sequence[Sequence[Any]], path: str | Path, column_titles: Sequence[str],
                    row_labels: Sequence[str] | None = None, title: str | None = None) -> Path:
    """A grid of images with column titles (and optional row labels); images as in :func:`to_uint8_image`."""
    if not rows:
        raise PixelwiseError("save_image_grid: no rows to draw")
    plt = pyplot()
    images = [[to_uint8_image(im) for im in row] for row in rows]
    n_rows, n_cols = len(images), max(len(r) for r in images)
    h, w = images[0][0].shape[:2]
    cell_w = 2.0 if w >= h else 2.0 * w / h
    cell_h = cell_w * h / w
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * cell_w + 0.4, n_rows * cell_h + 0.7),
                             squeeze=False)
    for r, row in enumerate(images):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(row):
                ax.imshow(row[c], interpolation="nearest")
            if r == 0 and c < len(column_titles):
                ax.set_title(column_titles[c], fontsize=9)
            if c == 0 and row_labels is not None and r < len(row_labels):
                ax.set_ylabel(row_labels[r], fontsize=6)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, Path(path))


__all__ = ["pyplot", "save_figure", "save_image_grid", "to_uint8_image"]
