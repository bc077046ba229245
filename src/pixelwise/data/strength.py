"""Blur strength: a number in [0, 1] (0 = no blur, 1 = heavy) or a range to sample it from uniformly."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pixelwise.errors import PixelwiseError

# how a strength is drawn from a range: pixelwise.data.blur.draw_strength
STRENGTH_SAMPLINGS = ("uniform", "log", "mixed")


def parse_strength(value: float | str | Sequence[float], where: str = "--strength") -> tuple[float, float]:
    """``0.5`` / ``"0.5"`` -> (0.5, 0.5); ``[0.2, 0.8]`` / ``"0.2,0.8"`` / ``"0.2-0.8"`` -> (0.2, 0.8)."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"\s*[,:]\s*|(?<=\d)\s*-\s*(?=\d|\.)", value.strip()) if p != ""]
    elif isinstance(value, (int, float)):
        parts = [value]
    else:
        parts = list(value)
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) == 1:
        numbers = numbers * 2
    if len(numbers) != 2 or not all(0.0 <= n <= 1.0 for n in numbers) or numbers[0] > numbers[1]:
        raise PixelwiseError(
            f"{where}={value!r} is not a blur strength; give a number from 0 (no blur) to 1 (heavy) "
            f"or a range lo,hi (also lo-hi) with 0 <= lo <= hi <= 1, e.g. 0.2,0.8"
        )
    return numbers[0], numbers[1]


def strength_label(strength: float) -> str:
    """0.25 -> '0.25', 1.0 -> '1': how a blur strength names result keys (``psnr@0.25``) and files."""
    return f"{float(strength):g}"
