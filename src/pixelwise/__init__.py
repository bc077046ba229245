"""pixelwise: fast image-to-image translation (ASAP-Net, pix2pixHD, DeblurGAN, DeblurGAN-ASAP)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

UNKNOWN_VERSION = "0+unknown"


def _version() -> str:
    """The installed distribution's version (package metadata); from a source checkout that is not installed
    (``PYTHONPATH=src``), the version its ``pyproject.toml`` declares; else ``0+unknown``."""
    from importlib import metadata

    try:
        return metadata.version("pixelwise")
    except metadata.PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return UNKNOWN_VERSION
    project = text.split("[project]", 1)[1].split("\n[", 1)[0] if "[project]" in text else ""
    if not re.search(r'^name\s*=\s*"pixelwise"', project, re.M):
        return UNKNOWN_VERSION
    found = re.search(r'^version\s*=\s*"([^"]+)"', project, re.M)
    return found.group(1) if found else UNKNOWN_VERSION


__version__ = _version()
__all__ = ["__version__", "create_model", "from_pretrained", "list_models"]


def __getattr__(name: str) -> Any:
    # Lazy: `pixelwise --help` should not pay for importing torch.
    if name in ("create_model", "list_models"):
        from pixelwise import registry

        return getattr(registry, name)
    if name == "from_pretrained":
        from pixelwise.models.io import from_pretrained

        return from_pretrained
    raise AttributeError(f"module 'pixelwise' has no attribute {name!r}")
