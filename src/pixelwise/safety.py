"""Checking an archive before ``torch.jit.load`` opens it.

``torch.jit.load`` unpickles the archive's ``*.pkl`` members and compiles its TorchScript code; a crafted
archive can name arbitrary Python callables in those pickles. :func:`check_torchscript_archive` scans every
pickle (without running it) and refuses an archive whose pickles reference anything but TorchScript classes
(``__torch__.*``), torch's tensor/storage rebuilders and plain containers. It is a guard, not a sandbox: load
TorchScript files only from a source you trust (``weights_only=True`` ``.pth`` files are the safe format).
"""

from __future__ import annotations

import pickletools
import zipfile
from pathlib import Path

from pixelwise.errors import PixelwiseError

_ALLOWED_MODULES = ("torch._utils", "torch.jit._pickle", "collections", "torch")
_STRING_OPS = ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8", "SHORT_BINSTRING", "BINSTRING")


def _allowed(module: str, name: str) -> bool:
    if module.startswith("__torch__"):
        return True
    if module == "collections":
        return name == "OrderedDict"
    if module == "torch":
        return name.endswith("Storage") or name in ("device", "Size", "dtype", "float32", "float16", "bfloat16")
    return module in _ALLOWED_MODULES


def pickle_globals(data: bytes) -> list[tuple[str, str]]:
    """The (module, name) pairs a pickle would import, read from its opcodes (nothing is executed)."""
    found: list[tuple[str, str]] = []
    strings: list[str] = []
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name in _STRING_OPS:
            strings.append(str(arg))
        elif opcode.name in ("GLOBAL", "INST"):
            module, _, name = str(arg).partition(" ")
            found.append((module, name))
        elif opcode.name == "STACK_GLOBAL":
            found.append((strings[-2], strings[-1]) if len(strings) >= 2 else ("?", "?"))
    return found


def check_torchscript_archive(path: str | Path, option: str = "--inception-weights") -> None:
    """Raise one line unless ``path`` is a zip archive whose pickles import only allowed names."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.endswith(".pkl")]
            if not members:
                raise PixelwiseError(f"{path} ({option}) holds no TorchScript pickles; expected a TorchScript "
                                     f"archive (torch.jit.save) or torch-fidelity's .pth")
            for member in members:
                for module, name in pickle_globals(archive.read(member)):
                    if not _allowed(module, name):
                        raise PixelwiseError(
                            f"{path} ({option}) is refused: its {member} would import {module}.{name}, which a "
                            f"TorchScript model never needs (a crafted file can run code this way); use the "
                            f"original weights file from a trusted source")
    except (zipfile.BadZipFile, OSError) as exc:
        raise PixelwiseError(f"{path} ({option}) is not a TorchScript archive ({exc}); expected a TorchScript "
                             f"file (torch.jit.save) or torch-fidelity's .pth") from None
    except Exception as exc:  # a pickle pickletools cannot parse is not one torch wrote
        if isinstance(exc, PixelwiseError):
            raise
        raise PixelwiseError(f"{path} ({option}) has a damaged pickle ({type(exc).__name__}: {exc}); replace "
                             f"the file") from None
