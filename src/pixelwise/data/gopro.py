"""GoPro_Large (Nah et al., 2017): ``<split>/<sequence>/{blur,blur_gamma,sharp}/*.png``, blurred frames
averaged from a high-speed camera, paired with the sharp middle frame of the same name."""

from __future__ import annotations

from pathlib import Path

from pixelwise.data.files import keyed, list_images, pair, require_dir
from pixelwise.data.paired import PairRecord
from pixelwise.errors import PixelwiseError

_LAYOUT = "GoPro_Large's <split>/<sequence>/{blur,blur_gamma,sharp}/*.png"


def gopro_records(root: Path, split: str, blur_folder: str = "blur") -> list[PairRecord]:
    """(blurred, sharp) pairs of every sequence of ``split``, named ``<sequence>/<frame>``."""
    fix = f"point data.root at the unzipped GoPro_Large folder ({_LAYOUT})"
    require_dir(root, "GoPro root (data.root)", fix)
    split_dir = root / split
    if not split_dir.is_dir():
        present = sorted(p.name for p in root.iterdir() if p.is_dir())
        raise PixelwiseError(f"GoPro split folder {split_dir} does not exist (found {present}); {fix}")
    sequences = sorted(p for p in split_dir.iterdir() if p.is_dir())
    if not sequences:
        raise PixelwiseError(f"GoPro split folder {split_dir} holds no sequence folders; {fix}")
    records: list[PairRecord] = []
    for sequence in sequences:
        for needed in (blur_folder, "sharp"):
            if not (sequence / needed).is_dir():
                raise PixelwiseError(
                    f"GoPro sequence {sequence} has no {needed}/ folder; expected {_LAYOUT} (re-extract it or "
                    f"remove the sequence folder)"
                )
        blur = keyed(list_images(sequence / blur_folder, "GoPro blurred", fix), str(sequence / blur_folder))
        sharp = keyed(list_images(sequence / "sharp", "GoPro sharp", fix), str(sequence / "sharp"))
        for key in pair({str(sequence / blur_folder): blur, str(sequence / "sharp"): sharp}):
            records.append(PairRecord(f"{sequence.name}/{key}", blur[key], sharp[key]))
    return records
