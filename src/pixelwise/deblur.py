"""Deblurring your own photos (``pixelwise deblur``): a photo -> photo model, by default the deblurrer shipped
inside the package, run over files with :func:`pixelwise.inference.translate_files`.

:data:`DEFAULT_DEBLUR_MODEL` is the one place that decides which shipped model ``pixelwise deblur`` uses
when no ``--model`` is given. Every problem that can be seen before the first image is processed is one
:class:`~pixelwise.errors.PixelwiseError` line: the default model is not shipped in this install, the model
turns label maps (not photos) into photos, an input does not exist or is not an image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pixelwise.errors import PixelwiseError
from pixelwise.hub import PACKAGED_ORG, packaged_names

if TYPE_CHECKING:  # torch is imported when a function runs: `pixelwise --help` reads the default name cheaply
    import torch
    from torch import nn

DEFAULT_DEBLUR_MODEL = "pixelwise/deblurgan-asap-small"  # the shipped deblurrer `pixelwise deblur` uses by default
EXAMPLE_DEBLUR_MODEL = "pixelwise/deblurgan-small"  # named in the message that refuses a label-map model


def default_model_dir(name: str = DEFAULT_DEBLUR_MODEL) -> Path:
    """The package folder of the shipped model ``name`` (``pixelwise/<name>``); one line when this install
    does not ship it."""
    from pixelwise import hub

    org, _, short = name.partition("/")
    if org != PACKAGED_ORG or short not in packaged_names():
        shipped = ", ".join(f"{PACKAGED_ORG}/{n}" for n in packaged_names()) or "none"
        raise PixelwiseError(f"the default deblurring model {name} is not shipped in this install of pixelwise "
                             f"(shipped: {shipped}): give a deblurring model folder with --model DIR")
    return hub.PACKAGED_ROOT / short


def check_photo_model(model: nn.Module, where: str) -> None:
    """Refuse (one line) a model that does not turn an RGB photo into an RGB photo."""
    from pixelwise.inference import input_spec

    spec = input_spec(model)
    output_nc = getattr(getattr(model, "config", None), "output_nc", 3)
    if spec.kind != "photo":
        raise PixelwiseError(f"{where} is a label-map model ({getattr(model, 'registry_name', None) or 'labels'}: "
                             f"label maps -> photos); deblurring needs a photo -> photo model such as "
                             f"{EXAMPLE_DEBLUR_MODEL} or a deblurgan / deblurgan-asap model folder")
    if spec.channels not in (0, 3) or output_nc != 3:
        raise PixelwiseError(f"{where} takes {spec.channels} and gives {output_nc} channels; deblurring needs an "
                             f"RGB -> RGB model such as {EXAMPLE_DEBLUR_MODEL}")


def load_deblur_model(model: str | Path | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """``model`` (a model dir, checkpoint dir, run dir, ``pixelwise/<shipped name>`` or Hub repo id; None: the
    shipped :data:`DEFAULT_DEBLUR_MODEL`) loaded in eval mode and checked to be a photo -> photo model."""
    from pixelwise.models.io import load_generator

    where = str(model) if model is not None else DEFAULT_DEBLUR_MODEL
    source = default_model_dir() if model is None else model
    loaded = load_generator(source, device=device)
    check_photo_model(loaded, where)
    return loaded


def check_scale(scale: float) -> None:
    """One line for a ``--scale`` outside (0, 1]."""
    if not 0 < scale <= 1:
        raise PixelwiseError(f"--scale {scale:g}: give a factor in (0, 1] (0.5: half size)")


def at_scale(model: nn.Module, scale: float) -> nn.Module:
    """``model`` run on the photo downscaled by ``scale`` (0 < scale <= 1), its correction upscaled and added to
    the full-size photo: ``x + up(G(down(x)) - down(x))``. A camera path of L px at full size is ``scale * L``
    px for the model, so a deblurrer trained on paths up to 60 px handles a 240-px shake at ``scale=0.25``; the
    photo's own detail is kept (only the model's change is resampled). ``scale=1``: the model itself."""
    import torch.nn.functional as F
    from torch import nn

    from pixelwise.inference import size_multiple
    from pixelwise.tiling import pad_mode, pad_to_multiple

    check_scale(scale)
    if scale == 1:
        return model
    multiple = size_multiple(model)

    class AtScale(nn.Module):
        size_multiple = 1  # any size: the downscaled photo is padded to the model's multiple inside

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            height, width = x.shape[-2:]
            small_h, small_w = max(1, round(height * scale)), max(1, round(width * scale))
            small = F.interpolate(x, (small_h, small_w), mode="bicubic", antialias=True, align_corners=False)
            padded, _ = pad_to_multiple(small, multiple, pad_mode("photo"))
            change = self.model(padded)[..., :small_h, :small_w] - small
            up = F.interpolate(change, (height, width), mode="bicubic", align_corners=False)
            return (x + up).clamp(-1.0, 1.0)

    return AtScale()


def deblur_files(inputs: Sequence[str | Path], output: str | Path, *, model: str | Path | nn.Module | None = None,
                 tile: int | None = None, overlap: int | None = None, device: str | torch.device | None = None,
                 dtype: str | torch.dtype | None = None, progress: bool = True, scale: float = 1.0,
                 format: str = "png", quality: int | None = None, suffix: str = "",
                 overwrite: bool = False, backend: str = "torch",
                 report: Callable[[str], None] | None = None, background_io: bool | None = None) -> list[Path]:
    """``pixelwise deblur``: deblur photos (files, folders, globs) into ``output/<stem><suffix>.<ext>`` with
    ``model`` (default: the shipped :data:`DEFAULT_DEBLUR_MODEL`); ``format`` png (default), jpg, webp or same
    (the input's), ``quality`` for jpg / webp. The inputs and the output names are checked before the model is
    loaded (an output that would replace an input is refused; existing outputs are skipped unless
    ``overwrite``), the model before anything is written. Returns the written paths (``.skipped``: the outputs
    left alone); photos keep their orientation, alpha, bit depth, ICC, EXIF and grayscale (see
    :func:`pixelwise.inference.translate_files`); tiling as :func:`translate_image`; ``scale`` < 1 runs the
    model on the downscaled photo (:func:`at_scale`: for shake longer than the model's training paths);
    ``backend`` torch (default), onnxruntime or auto (:mod:`pixelwise.onnx_runtime`; ``report`` gets the one
    line saying which runs); ``background_io``: the next photo decoded and the last output encoded while the
    model runs (default: on a GPU only, :func:`pixelwise.inference.translate_files`)."""
    from torch import nn

    from pixelwise.inference import DEFAULT_OVERLAP, collect_inputs, translate_files
    from pixelwise.onnx_runtime import apply_backend, check_backend
    from pixelwise.photo_io import check_quality, plan_outputs

    check_scale(scale)
    check_quality(format, quality)
    check_backend(backend)
    files = collect_inputs(inputs, unique_stems=False)  # a missing input is reported before any model is looked for
    plan_outputs(files, output, suffix=suffix, format=format, overwrite=overwrite)  # so is an input in the way
    if isinstance(model, nn.Module):
        check_photo_model(model, type(model).__name__)
        net = model
    else:
        net = load_deblur_model(model)
    source = (default_model_dir() if model is None else model) if not isinstance(model, nn.Module) else None
    net, device = apply_backend(net, backend, source=source, device=device, dtype=dtype, report=report)
    net = at_scale(net, scale)
    return translate_files(net, inputs, output, tile=tile, overlap=DEFAULT_OVERLAP if overlap is None else overlap,
                           device=device, dtype=dtype, progress=progress, format=format, quality=quality,
                           suffix=suffix, overwrite=overwrite, background_io=background_io)


__all__ = ["DEFAULT_DEBLUR_MODEL", "EXAMPLE_DEBLUR_MODEL", "at_scale", "check_photo_model", "check_scale",
           "deblur_files", "default_model_dir", "load_deblur_model"]
