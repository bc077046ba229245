"""pixelwise: fast image-to-image translation (ASAP-Net, pix2pixHD, DeblurGAN, DeblurGAN-ASAP)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["create_model", "from_pretrained", "list_models"]


def __getattr__(name: str) -> Any:
    # Lazy: `pixelwise --help` should not pay for importing torch.
    if name in ("create_model", "list_models"):
        from pixelwise import registry

        return getattr(registry, name)
    if name == "from_pretrained":
        from pixelwise.models.io import from_pretrained

        return from_pretrained
    raise AttributeError(f"module 'pixelwise' has no attribute {name!r}")
