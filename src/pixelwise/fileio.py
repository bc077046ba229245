"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename over the target.
A crash leaves either the old file or the new one, never a torn one.

The one place that decides how outputs are created: files get mode ``0666 & ~umask`` and folders
``0777 & ~umask``, as ``open()`` and ``mkdir`` would give them (``mkstemp``/``mkdtemp`` alone would leave them
private, 0600/0700). A failed write (disk full, read-only folder, a path that cannot be created) raises
:class:`OutputError`, one line naming the path and the fix, and leaves no temporary file behind.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pixelwise.errors import PixelwiseError


class OutputError(PixelwiseError):
    """An output could not be written (disk full, no permission, a path that cannot be created)."""


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new file under the current umask (what ``open(path, "w")`` gives)."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """Mode of a new folder under the current umask (what ``mkdir`` gives)."""
    return 0o777 & ~current_umask()


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def io_error_message(path: str | Path, exc: BaseException, action: str = "write") -> str:
    """One line for a failed write/mkdir: what failed, why (errno) and how to fix it."""
    path = Path(path)
    code = getattr(exc, "errno", None)
    reason = getattr(exc, "strerror", None) or str(exc)
    text = str(exc)
    if code in (errno.ENOSPC, errno.EDQUOT) or "unexpected pos" in text or "No space left" in text:
        folder = path.parent if path.parent.exists() else Path(".")
        free = _free_bytes(folder)
        left = f" ({free / 1e6:.1f} MB free)" if free is not None else ""
        return (f"cannot {action} {path}: the disk is full{left}; free some space or choose an output folder on "
                f"another disk (nothing was half-written: the previous file, if any, is unchanged)")
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        where = path.parent if action == "write" else path
        return (f"cannot {action} {path}: {where} is not writable ({reason}); choose a folder you can write to "
                f"or fix its permissions")
    if code in (errno.ENOTDIR, errno.EEXIST):
        return (f"cannot {action} {path}: a part of that path is a file, not a folder ({reason}); choose another "
                f"output path or move that file away")
    if code == errno.ENAMETOOLONG:
        return f"cannot {action} {path}: the name is too long ({reason}); choose a shorter output path"
    return f"cannot {action} {path} ({reason}); check that the output folder exists and is writable"


def is_io_failure(exc: BaseException) -> bool:
    """True for an OSError, or the RuntimeError torch.save raises when the disk fills up."""
    if isinstance(exc, OSError):
        return True
    return isinstance(exc, RuntimeError) and ("unexpected pos" in str(exc) or ("write" in str(exc).lower()
                                               and "file" in str(exc).lower()))


def make_dirs(path: str | Path) -> Path:
    """``mkdir -p`` (umask-honouring, as mkdir is) with a one-line :class:`OutputError` on failure."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(io_error_message(path, exc, "create folder")) from None
    if not path.is_dir():
        raise OutputError(io_error_message(path, OSError(errno.ENOTDIR, "not a directory"), "create folder"))
    return path


def make_temp_dir(parent: str | Path, prefix: str) -> Path:
    """A fresh hidden folder in ``parent`` for building a result that is renamed into place, with the mode
    an ordinary ``mkdir`` would give it (not mkdtemp's private 0700)."""
    parent = make_dirs(parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        os.chmod(tmp, dir_mode())
    except OSError as exc:
        raise OutputError(io_error_message(parent / prefix, exc, "create folder")) from None
    return tmp


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` and atomically move the result to ``path``."""
    path = Path(path)
    make_dirs(path.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(io_error_message(path, exc)) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            write(tmp)
            os.chmod(tmp, file_mode())  # after writing: some writers (safetensors) replace the file
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except (OSError, RuntimeError) as exc:
            if isinstance(exc, PixelwiseError) or not is_io_failure(exc):
                raise
            raise OutputError(io_error_message(path, exc)) from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
