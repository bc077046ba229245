"""Finding image files and pairing them by name, with one clear error for every way a folder can be wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from pixelwise.data.transforms import IMAGE_EXTENSIONS
from pixelwise.errors import PixelwiseError

SPLIT_NAMES = ("train", "val", "test")
# Cityscapes file-name suffixes dropped when matching files across folders (SPADE matches on the stem prefix).
_SUFFIX = re.compile(r"_(leftImg8bit|gt(Fine|Coarse)_(labelIds|instanceIds|labelTrainIds|color|polygons))$")
_SHOWN = 5  # how many unpaired names an error lists


def pairing_key(path: Path, base: Path | None = None) -> str:
    """The name a file is matched by: its path under ``base`` without extension and Cityscapes suffix."""
    rel = path.relative_to(base) if base is not None else Path(path.name)
    stem = _SUFFIX.sub("", rel.with_suffix("").name)
    return (rel.parent / stem).as_posix() if rel.parent != Path(".") else stem


def require_dir(path: Path, what: str, fix: str) -> Path:
    """``path`` as an existing folder, or a PixelwiseError saying what was expected there and how to fix it."""
    if not path.exists():
        raise PixelwiseError(f"{what} folder {path} does not exist; {fix}")
    if not path.is_dir():
        raise PixelwiseError(f"{what} path {path} is a file, not a folder; {fix}")
    return path


def list_images(folder: Path, what: str, fix: str, recursive: bool = False, pattern: str = "*") -> list[Path]:
    """Image files in ``folder`` (sorted), or an error when the folder is missing or holds none."""
    require_dir(folder, what, fix)
    found = folder.rglob(pattern) if recursive else folder.glob(pattern)
    files = sorted(p for p in found if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                   and not p.name.startswith("."))
    if not files:
        ext = "/".join(e.lstrip(".") for e in IMAGE_EXTENSIONS[:4])
        where = f"{folder} or its subfolders" if recursive else str(folder)
        raise PixelwiseError(f"{what} folder {where} holds no {pattern if pattern != '*' else ext} images; {fix}")
    return files


def keyed(files: list[Path], what: str, base: Path | None = None) -> dict[str, Path]:
    """{pairing key: file}; two files with one key (``a.png`` and ``a.jpg``) are an error."""
    out: dict[str, Path] = {}
    for path in files:
        key = pairing_key(path, base)
        if key in out:
            raise PixelwiseError(
                f"{what}: {out[key]} and {path} have the same name {key!r}; keep one of them"
            )
        out[key] = path
    return out


def pair(groups: Mapping[str, Mapping[str, Path]], fix: str = "") -> list[str]:
    """The sorted keys shared by every group ({folder description: {key: path}}); any file without a partner
    is an error that lists a few of them."""
    names = list(groups)
    keysets = {name: set(groups[name]) for name in names}
    first = names[0]
    for other in names[1:]:
        only_first = sorted(keysets[first] - keysets[other])
        only_other = sorted(keysets[other] - keysets[first])
        if only_first or only_other:
            lines = []
            for side, missing, partner in ((first, only_first, other), (other, only_other, first)):
                if missing:
                    shown = ", ".join(groups[side][k].name for k in missing[:_SHOWN])
                    more = f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
                    lines.append(f"{len(missing)} file(s) in {side} have no partner in {partner}: {shown}{more}")
            raise PixelwiseError(
                "unpaired files: " + "; ".join(lines) + ". Files are matched by name (without extension and "
                "Cityscapes suffixes such as _leftImg8bit / _gtFine_labelIds); add the missing files or remove "
                "the extra ones" + (f" ({fix})" if fix else "")
            )
    return sorted(keysets[first])


def split_folder(root: Path, split: str, what: str, fix: str) -> Path:
    """``root/split`` when it exists; ``root`` itself when it has no split folders at all (then every split
    reads the same files); an error when other splits exist but this one does not."""
    require_dir(root, what, fix)
    candidate = root / split
    if candidate.is_dir():
        return candidate
    present = [s for s in SPLIT_NAMES if (root / s).is_dir()]
    if present:
        raise PixelwiseError(
            f"{what} {root} has split folder(s) {present} but no {split!r}; choose data.split/data.eval_split "
            f"among {present} or create {candidate}"
        )
    return root
