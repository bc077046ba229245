"""Verifying a folder against its ``manifest.json`` (size and SHA-256 of each file, written last by
:mod:`pixelwise.train.checkpoint`) before any of its files is used.

Every loader of model / checkpoint / run dirs (``infer``, ``eval``, ``export``, ``model.init_from``, ``study``)
goes through :func:`pixelwise.models.io.resolve_generator`, which calls :func:`verify_for_loading`: a folder
with a manifest must match it for the files that are loaded (generator weights and config.json); a damaged
one is refused with a message naming the file and the newest earlier checkpoint of the same run that is
intact. Folders without a manifest (model dirs from ``save_pretrained`` / ``convert``) are loaded as before.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

from pixelwise.errors import PixelwiseError
from pixelwise.rundir import MANIFEST

_STEP_DIR = re.compile(r"^step_(\d+)$")


class DamagedCheckpointError(PixelwiseError):
    """A file does not match its manifest entry (bit rot, a partial copy, an edit after saving)."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_problem(directory: Path, names: Iterable[str] | None = None) -> str | None:
    """What is wrong with ``directory`` against its manifest (None when it matches or has no manifest).
    ``names``: the files to check (default: every file the manifest lists)."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        files = json.loads(manifest_path.read_text())["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not a mapping")
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        return f"{manifest_path} is damaged ({exc})"
    for name in names if names is not None else list(files):
        file = directory / name
        expected = files.get(name)
        if expected is None:
            return f"{file} is not listed in {MANIFEST}"
        if not file.is_file():
            return f"{file} is missing"
        size = file.stat().st_size
        if size != expected.get("bytes"):
            return f"{file} is {size} bytes but {MANIFEST} records {expected.get('bytes')} (a partial copy?)"
        if sha256(file) != expected.get("sha256"):
            return f"{file} does not match the SHA-256 in {MANIFEST} (damaged on disk or edited after saving)"
    return None


def intact_earlier(directory: Path, names: Iterable[str]) -> Path | None:
    """The newest ``step_<N>`` sibling of ``directory`` older than it whose files match its manifest."""
    match = _STEP_DIR.match(directory.name)
    step = int(match.group(1)) if match else None
    siblings = []
    if directory.parent.is_dir():
        for path in directory.parent.iterdir():
            found = _STEP_DIR.match(path.name)
            usable = found and path.is_dir() and not path.is_symlink() and path.resolve() != directory.resolve()
            if usable and (step is None or int(found.group(1)) < step):
                siblings.append((int(found.group(1)), path))
    names = list(names)
    for _, path in sorted(siblings, reverse=True):
        if (path / MANIFEST).is_file() and manifest_problem(path, names) is None:
            return path
    return None


def verify_for_loading(directory: str | Path, names: Iterable[str]) -> None:
    """Raise :class:`DamagedCheckpointError` (naming the damaged file and an intact earlier checkpoint)
    unless ``directory`` has no manifest or ``names`` match it."""
    directory = Path(directory)
    names = list(names)
    problem = manifest_problem(directory, names)
    if problem is None:
        return
    earlier = intact_earlier(directory, names)
    fallback = (f"the newest intact earlier checkpoint is {earlier}: load that one instead" if earlier else
                "no earlier checkpoint of this run is intact: restore the file from a backup or retrain")
    raise DamagedCheckpointError(f"checkpoint {directory} is damaged: {problem}; {fallback}")
