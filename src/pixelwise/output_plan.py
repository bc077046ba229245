"""Where each output goes, decided before any work: :func:`plan_outputs`.

- Names: ``OUTPUT/<input stem><suffix>.<format's extension>``; two inputs that would get the same output are
  refused in one line.
- No input is ever overwritten: an output path that resolves to an input file (the same path, a symlink to
  it, a hard link of it) or to a ``protected`` file is refused in one line naming both and the fix, before
  anything is read or written. ``--output`` may be the inputs' own folder only with a ``suffix`` (e.g.
  ``--suffix _sharp``), so that no output can take the name of a photo there.
- Existing outputs are skipped (counted in :attr:`OutputPlan.skipped`) unless ``overwrite``, so an interrupted
  folder run started again resumes where it stopped. Outputs are written atomically (:mod:`pixelwise.fileio`),
  so an existing output is a whole file.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from pixelwise.errors import PixelwiseError

OUTPUT_FORMATS = ("png", "jpg", "webp", "same")  # --format choices; same: the input's own format
DEFAULT_FORMAT = "png"
PIL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
               ".bmp": "BMP", ".ppm": "PPM", ".pgm": "PPM", ".pbm": "PPM"}  # file suffix -> Pillow's format
EXTENSION = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp", "PPM": ".ppm"}


def output_format(fmt: str | None, path: str | Path, source_format: str | None = None) -> str:
    """Pillow's format name for ``fmt`` (png, jpg, webp; same: ``source_format``, the input's) or, when None,
    ``path``'s suffix."""
    if fmt is None:
        name = PIL_FORMATS.get(Path(path).suffix.lower())
    elif fmt == "same":
        name = source_format if source_format in EXTENSION else "PNG"
    else:
        name = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}.get(fmt.lower())
    if name is None:
        raise PixelwiseError(f"output {path}: format {fmt or Path(path).suffix!r} is not one of png, jpg, webp "
                             f"or same (the input's format)")
    return name


def output_suffix(fmt: str, source: Path) -> str:
    """The file suffix of an output in format ``fmt`` (png, jpg, webp; same: ``source``'s own suffix)."""
    if fmt == "same":
        return source.suffix if source.suffix.lower() in PIL_FORMATS else ".png"
    return EXTENSION[output_format(fmt, source)]


@dataclasses.dataclass
class OutputPlan:
    """(input, output) pairs to produce, and those skipped because the output exists."""

    output_dir: Path
    jobs: list[tuple[Path, Path]]
    skipped: list[tuple[Path, Path]]

    def skipped_line(self) -> str | None:
        """The one line a command prints about skipped outputs (None when nothing was skipped)."""
        if not self.skipped:
            return None
        return (f"skipped {len(self.skipped)} input(s) whose output already exists in {self.output_dir} "
                f"(--overwrite redoes them)")


class _Resolver:
    """``Path.resolve()`` with each folder resolved once (a folder of 10 000 photos: 10 000 lstat calls, not
    one per path component per file); a file that is itself a symlink is resolved in full."""

    def __init__(self) -> None:
        self.folders: dict[Path, Path] = {}

    def folder(self, path: Path) -> Path:
        if path not in self.folders:
            self.folders[path] = path.resolve()
        return self.folders[path]

    def __call__(self, path: Path) -> Path:
        return path.resolve() if path.is_symlink() else self.folder(path.parent) / path.name


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def refuse_overwriting_inputs(outputs: Iterable[Path], inputs: Iterable[Path], fix: str,
                              resolve: Callable[[Path], Path] | None = None) -> None:
    """One line if an output path is one of ``inputs``: the same path once resolved (symlinks followed), or
    the same file under another name (a hard link). Each file is looked at once."""
    resolve = resolve or _Resolver()
    inputs = [Path(p) for p in inputs]
    by_path = {resolve(p): p for p in inputs}
    by_id: dict[tuple[int, int], Path] | None = None
    for output in map(Path, outputs):
        hit = by_path.get(resolve(output))
        if hit is None and output.exists():
            if by_id is None:
                by_id = {key: p for p in inputs if (key := _file_id(p)) is not None}
            hit = by_id.get(_file_id(output) or (-1, -1))
        if hit is not None:
            raise PixelwiseError(f"output {output} would overwrite the input {hit}; nothing was written: {fix}")


def plan_outputs(inputs: Sequence[str | Path], output_dir: str | Path, *, suffix: str = "", format: str = "png",
                 overwrite: bool = False, protected: Iterable[str | Path] = (),
                 option: str = "--output") -> OutputPlan:
    """Plan ``OUTPUT/<stem><suffix>.<ext>`` for every input (see the module docstring). ``protected``: more
    files no output may replace (e.g. instance maps). Raises one line; creates and writes nothing."""
    if format not in OUTPUT_FORMATS:
        raise PixelwiseError(f"--format {format!r}: use one of {', '.join(OUTPUT_FORMATS)}")
    if os.sep in suffix or (os.altsep and os.altsep in suffix):
        raise PixelwiseError(f"--suffix {suffix!r} must be part of a file name, without a folder separator")
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise PixelwiseError(f"{option} {output_dir} is a file; give a folder for the outputs")
    inputs = [Path(p) for p in inputs]
    resolve = _Resolver()
    outputs: dict[Path, Path] = {}
    for path in inputs:
        target = output_dir / f"{path.stem}{suffix}{output_suffix(format, path)}"
        key = Path(os.path.normcase(resolve(target)))
        if key in outputs:
            raise PixelwiseError(f"inputs {outputs[key]} and {path} would both be written as {target}; translate "
                                 f"them into different {option} folders or rename one")
        outputs[key] = path
    pairs = [(path, output_dir / f"{path.stem}{suffix}{output_suffix(format, path)}") for path in inputs]
    fix = (f"choose another {option} folder, or add a --suffix (e.g. --suffix _out) so outputs get names of "
           f"their own")
    refuse_overwriting_inputs([out for _, out in pairs], [*inputs, *(Path(p) for p in protected)], fix, resolve)
    for path, out in pairs if not suffix else []:
        if resolve.folder(out.parent) == resolve.folder(path.parent):
            raise PixelwiseError(f"output {out} would go into the folder of its input {path} without a --suffix, "
                                 f"where it could replace another photo; nothing was written: {fix}")
    exists = [not overwrite and o.exists() for _, o in pairs]
    return OutputPlan(output_dir, [p for p, e in zip(pairs, exists) if not e], [p for p, e in zip(pairs, exists) if e])


__all__ = ["DEFAULT_FORMAT", "OUTPUT_FORMATS", "OutputPlan", "output_format", "output_suffix", "plan_outputs",
           "refuse_overwriting_inputs"]
