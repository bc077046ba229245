"""The pre-flight data check: every file of a dataset is looked at once before the first training step, and
all problems are reported together (the first :data:`SHOWN`, then a count), each naming the file and the fix.

``data.validate`` chooses how deep it looks:

- ``headers`` (default): every image's header (format, size, mode / bit depth), a cheap end-of-file test that
  finds truncated PNG and JPEG files, the sizes of the files of one sample against each other and against the
  crop; label maps are decoded in full (their id range is checked against ``data.label_nc``).
- ``full``: additionally decodes every photo and instance map (finds damage inside a file, transparent
  photos).
- ``off``: no check (problems then surface when a sample is loaded, as before).

The check reads files only (no random numbers are drawn, so training streams are unchanged) and runs in a
thread pool. :func:`worker_errors` turns a DataLoader worker's wrapped :class:`PixelwiseError` (a 40-line
"Caught PixelwiseError in DataLoader worker process 0 ... Original Traceback" message) back into its one line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image
from torch.utils.data import Dataset, Subset

from pixelwise.data.config import DataConfig
from pixelwise.data.transforms import crop_box, load_size, read_label, read_photo
from pixelwise.data.validate import check_same_size
from pixelwise.errors import PixelwiseError
from pixelwise.photo_io import photo_header
from pixelwise.photo_io import read_photo as photo_io_read

MODES = ("full", "headers", "off")
SHOWN = 20  # problems listed in full; the rest are counted
_PNG_END = b"IEND\xaeB`\x82"
_PHOTO_MODES = ("1", "L", "P", "CMYK", "YCbCr", "RGB", "LAB", "HSV", "RGBA", "LA", "RGBa", "La", "PA")


class DataCheckError(PixelwiseError):
    """The pre-flight check found bad files; the message lists them."""


def _header(path: Path, what: str) -> Image.Image:
    """Open ``path`` lazily (header only) and test that its last bytes are where the format ends."""
    if not path.is_file():
        raise PixelwiseError(f"{what} {path} does not exist (was it moved or deleted while listing?)")
    try:
        image = Image.open(path)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise PixelwiseError(
            f"cannot read {what} {path} ({exc}); it is not an image file (or its header is damaged): "
            f"re-download or replace it"
        ) from None
    image.close()
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 4096))
        tail = handle.read()
    truncated = (image.format == "PNG" and _PNG_END not in tail[-64:]) or (
        image.format == "JPEG" and b"\xff\xd9" not in tail)
    if truncated:
        raise PixelwiseError(
            f"{what} {path} is truncated ({size} bytes, the {image.format} end marker is missing): re-download or "
            f"replace it"
        )
    return image


def _photo_size(path: Path, full: bool, what: str = "photo", command: bool = False) -> tuple[int, int]:
    """(height, width) as displayed (EXIF orientation applied). ``command``: an input of ``deblur`` / ``infer`` /
    ``blur``, read by :func:`pixelwise.photo_io.read_photo` (alpha and 16 bits kept); else a dataset photo,
    read by :func:`read_photo` (8-bit RGB, a transparent alpha refused)."""
    image = _header(path, what)
    if full:
        return photo_io_read(path).size if command else read_photo(path).shape[:2]
    header = photo_header(path)
    if image.mode not in _PHOTO_MODES or (header.has_alpha and not command):
        (photo_io_read if command else read_photo)(path)  # the reader's own message (a transparent dataset photo)
    return header.size


def _instance_size(path: Path, full: bool) -> tuple[int, int]:
    image = _header(path, "instance map")
    if full or image.format == "JPEG" or image.mode not in ("L", "P", "I", "I;16", "I;16B", "I;16L", "I;16N"):
        return read_label(path, "instance map").shape
    return image.height, image.width


def _check_crop(size: tuple[int, int], config: DataConfig, where: Path, train: bool) -> None:
    crop = train or config.eval_crop
    loaded = load_size(*size, config.load_height, config.load_width)
    crop_box(*loaded, config.crop_height if crop else None, config.crop_width if crop else None, False,
             where=str(where))


def _unwrap(dataset: Dataset) -> tuple[Dataset, list[int] | None]:
    indices = None
    while isinstance(dataset, Subset):
        inner = list(dataset.indices)
        indices = inner if indices is None else [inner[i] for i in indices]
        dataset = dataset.dataset
    if indices is not None:  # a repeated sample (data.repeat) is checked once
        indices = list(dict.fromkeys(indices))
    return dataset, indices


def sample_checks(dataset: Dataset, full: bool) -> tuple[list[Callable[[], None]], int]:
    """One callable per sample (raising its first problem) and the number of files they look at; an empty
    list for a dataset type this module does not know (a custom ``dataset=``), unless ``full``: then every
    sample is loaded once through ``dataset[i]``."""
    from pixelwise.data.blur_dataset import MotionBlurDataset
    from pixelwise.data.labelmap import LabelMapDataset
    from pixelwise.data.paired import PairedDataset

    base, indices = _unwrap(dataset)
    records = getattr(base, "records", None)
    if records is not None and indices is not None:
        records = [records[i] for i in indices]
    checks: list[Callable[[], None]] = []
    if isinstance(base, LabelMapDataset):
        config, train = base.config, base.train

        def label_check(record: Any) -> None:
            label = base._label(record)  # decodes; applies the id table and checks ids against label_nc
            photo = _photo_size(record.image, full)
            check_same_size(record.label, label.shape, record.image, photo)
            if config.uses_instances and record.instance is not None:
                check_same_size(record.label, label.shape, record.instance, _instance_size(record.instance, full))
            _check_crop(label.shape, config, record.image, train)

        checks = [lambda r=r: label_check(r) for r in records]
        files = len(records) * (2 + int(config.uses_instances))
    elif isinstance(base, PairedDataset):
        config, train = base.config, base.train

        def pair_check(record: Any) -> None:
            first = _photo_size(record.input, full)
            if record.target is None:
                if first[1] % 2:
                    raise PixelwiseError(
                        f"aligned image {record.input} is {first[1]} pixels wide, which is odd, so it cannot hold "
                        f"A|B side by side; aligned images are two equal halves (or use data.format=paired)")
                first = (first[0], first[1] // 2)
            else:
                check_same_size(record.input, first, record.target, _photo_size(record.target, full))
            _check_crop(first, config, record.input, train)

        checks = [lambda r=r: pair_check(r) for r in records]
        files = len(records) * 2
    elif isinstance(base, MotionBlurDataset):
        config, train = base.config, base.train

        def sharp_check(record: Any) -> None:
            _check_crop(_photo_size(record.path, full, "sharp photo"), config, record.path, train)

        checks = [lambda r=r: sharp_check(r) for r in records]
        files = len(records)
    elif full:
        checks = [lambda i=i: dataset[i] and None for i in range(len(dataset))]
        files = len(checks)
    else:
        files = 0
    return checks, files


def find_problems(dataset: Dataset, mode: str = "headers", progress: bool = False,
                  workers: int | None = None) -> tuple[list[str], int]:
    """Run every sample's check (threads); returns (problem messages in sample order, files looked at)."""
    if mode not in MODES:
        raise PixelwiseError(f"data.validate={mode!r} is not one of {list(MODES)}")
    if mode == "off":
        return [], 0
    checks, files = sample_checks(dataset, full=mode == "full")

    def run(check: Callable[[], None]) -> str | None:
        try:
            check()
        except PixelwiseError as exc:
            return str(exc)
        return None

    from tqdm import tqdm

    workers = workers or min(8, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(tqdm(pool.map(run, checks), total=len(checks), desc=f"checking data ({mode})",
                            disable=not progress, leave=False, unit="sample"))
    return [r for r in results if r is not None], files


def problems_message(problems: list[str], files: int, mode: str) -> str | None:
    """None when there are no problems, else the report: one line for one problem, else a summary line and
    one line per problem (the first :data:`SHOWN`, then how many more)."""
    if not problems:
        return None
    head = f"data check (data.validate={mode}) of {files} files"
    skip = "fix or remove the files (data.validate=off skips this check)"
    if len(problems) == 1:
        return f"{head}: {problems[0]}"
    lines = [f"{head} found {len(problems)} problems; {skip}:"]
    lines += [f"  - {p}" for p in problems[:SHOWN]]
    if len(problems) > SHOWN:
        lines.append(f"  ... and {len(problems) - SHOWN} more problem(s) of the same kinds")
    return "\n".join(lines)


def check_dataset_files(dataset: Dataset, mode: str = "headers", progress: bool = False) -> int:
    """Raise :class:`DataCheckError` listing every problem, else return the number of files looked at."""
    problems, files = find_problems(dataset, mode, progress)
    message = problems_message(problems, files, mode)
    if message:
        raise DataCheckError(message)
    return files


def raise_if(message: str | None) -> None:
    """Raise the report (broadcast from rank 0 under DDP) on every rank."""
    if message:
        raise DataCheckError(message)


def unwrap_worker_error(exc: BaseException) -> BaseException:
    """A DataLoader worker re-raises a :class:`PixelwiseError` as one with a traceback for a message; return
    a PixelwiseError with the original one-line message (``exc`` itself when it is not such a wrapper)."""
    text = str(exc)
    if not isinstance(exc, PixelwiseError) or "DataLoader worker" not in text or "Traceback" not in text:
        return exc
    lines = text.rstrip().split("\n")
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        name, sep, rest = line.partition(": ")
        if sep and name.startswith("pixelwise.") and name.endswith("Error"):
            return PixelwiseError("\n".join([rest, *lines[index + 1:]]))
    return exc


def worker_errors(batches: Iterable[Any]) -> Iterator[Any]:
    """Iterate a DataLoader, re-raising a worker's PixelwiseError as its original one line."""
    iterator = iter(batches)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except PixelwiseError as exc:
            clean = unwrap_worker_error(exc)
            if clean is exc:
                raise
            raise clean from None
        yield batch


def input_problems(paths: Iterable[Path], kind: str = "photo", what: str = "input") -> list[str]:
    """Problems of command-line inputs (``infer``, ``deblur``), found before any output is written: photos by
    header and end marker (RGBA, LA, 16-bit and palette photos accepted), label maps decoded (a photo given to a
    label model is reported as such). ``kind="dataset photo"``: photos as the datasets read them (``blur``: a
    transparent alpha refused)."""
    problems = []
    for path in paths:
        try:
            if kind == "labels":
                read_label(path)
            else:
                _photo_size(Path(path), False, what, command=kind != "dataset photo")
        except PixelwiseError as exc:
            problems.append(str(exc))
    return problems


def raise_input_problems(problems: list[str], total: int, what: str = "inputs") -> None:
    """One line for one problem; else a summary line and one line per problem (the first :data:`SHOWN`)."""
    if not problems:
        return
    if len(problems) == 1:
        raise PixelwiseError(f"{problems[0]} (nothing was written)")
    lines = [f"{len(problems)} of {total} {what} cannot be used; nothing was written (fix or remove them):"]
    lines += [f"  - {p}" for p in problems[:SHOWN]]
    if len(problems) > SHOWN:
        lines.append(f"  ... and {len(problems) - SHOWN} more")
    raise PixelwiseError("\n".join(lines))
