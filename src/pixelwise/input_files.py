"""Which files a command works on: files, folders and glob patterns -> image files (``infer``, ``deblur``), and
the instance map that belongs to a label map."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

from pixelwise.errors import PixelwiseError

_GLOB_CHARS = ("*", "?", "[")


def collect_inputs(inputs: Sequence[str | Path], labels: bool = False, unique_stems: bool = True) -> list[Path]:
    """Files, folders (their images, not recursive) and globs -> image files, in order, without repeats.
    For label models a folder holding Cityscapes ``*_labelIds`` maps contributes only those. ``unique_stems``:
    refuse two inputs with the same stem (they would both be written as ``<stem>.png``; ``translate_files``
    leaves this to :func:`pixelwise.photo_io.plan_outputs`, which knows the output format)."""
    from pixelwise.data.transforms import IMAGE_EXTENSIONS

    found: list[Path] = []
    for item in inputs:
        text = str(item)
        if any(c in text for c in _GLOB_CHARS) and not Path(text).exists():
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
            files = [p for p in matches if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
            if not files:
                raise PixelwiseError(f"input pattern {text!r} matches no image files")
        elif Path(text).is_dir():
            folder = Path(text)
            files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                           and not p.name.startswith("."))
            if labels and any(p.stem.endswith("_labelIds") for p in files):
                files = [p for p in files if p.stem.endswith("_labelIds")]
            if not files:
                raise PixelwiseError(f"input folder {folder} holds no images "
                                     f"({'/'.join(e.lstrip('.') for e in IMAGE_EXTENSIONS[:4])})")
        elif Path(text).is_file():
            files = [Path(text)]
        else:
            raise PixelwiseError(f"input {text} does not exist (give image files, folders or glob patterns)")
        found += files
    unique = list(dict.fromkeys(found))
    stems: dict[str, Path] = {}
    for path in unique if unique_stems else []:
        if path.stem in stems:
            raise PixelwiseError(f"inputs {stems[path.stem]} and {path} would both be written as {path.stem}.png; "
                                 f"translate them into different --output folders")
        stems[path.stem] = path
    return unique


def find_instance_map(label_path: Path, instances: str | Path | None = None) -> Path | None:
    """The instance map of ``label_path``: in the ``instances`` folder the file with the same name (Cityscapes
    ``_gtFine_labelIds``/``_gtFine_instanceIds`` suffixes ignored); without a folder, the Cityscapes sibling
    ``*_instanceIds.png`` of a ``*_labelIds.png``, if it exists."""
    from pixelwise.data.files import pairing_key
    from pixelwise.data.transforms import IMAGE_EXTENSIONS

    if instances is not None:
        folder = Path(instances)
        if not folder.is_dir():
            raise PixelwiseError(f"--instances {folder} is not a folder of instance maps")
        key = pairing_key(label_path)
        for candidate in sorted(folder.iterdir()):
            if candidate.suffix.lower() in IMAGE_EXTENSIONS and pairing_key(candidate) == key:
                return candidate
        raise PixelwiseError(f"--instances {folder} holds no instance map named like {label_path.name} "
                             f"(looked for {key}.png or {key}_gtFine_instanceIds.png)")
    if label_path.stem.endswith("_labelIds"):
        sibling = label_path.with_name(label_path.stem[: -len("_labelIds")] + "_instanceIds" + label_path.suffix)
        if sibling.exists():
            return sibling
    return None


__all__ = ["collect_inputs", "find_instance_map"]
