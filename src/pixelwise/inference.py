"""Inference on images of any size (``pixelwise infer``): pad to the model's size multiple and crop back,
optional tiling with blended seams for images that do not fit, files in and files out.

Label maps are integer id maps (8/16-bit PNG, :func:`pixelwise.data.transforms.read_label`); photos are read
and written by :mod:`pixelwise.photo_io` (upright, alpha / 16 bits / ICC / EXIF / grayscale kept) as [-1, 1]
floats; outputs are [-1, 1] tensors or files planned by :func:`pixelwise.photo_io.plan_outputs`.

Padding (bottom and right, then cropped away): photos are reflect-padded, label and instance maps
replicate-padded (ids are never invented). The multiple is ASAP-Net's S, pix2pixHD's 2^n_downsample_global
(x 2^n_local_enhancers for the local enhancer), DeblurGAN's 2^n_downsampling (4).

Tiling (``tile=N``): the padded image is cut into N x N tiles (N rounded down to the multiple) whose starts
are multiples of the model's multiple (so ASAP-Net's cells stay on the full image's grid), overlapping by at
least ``overlap`` pixels. Only one tile at a time is on the device; outputs are accumulated on the CPU with
weights that ramp (``cosine`` or ``linear``) across the middle half of each overlap and are 0 in its outer
quarter, where a tile's own border padding shows. The weights of two neighbours sum to 1, so a model whose
output does not depend on the tiling (a per-pixel model, or a conv net whose receptive-field radius is at most
overlap/4 and whose normalisation is per pixel or frozen) gives the untiled result. The built-in generators
are not such models: ASAP-Net's low-res stream and every InstanceNorm see the whole input, so a tiled result
is a (usually close) approximation of the untiled one, not equal to it. Instance edges are computed on the
whole image before tiling, so tiles never invent edges at their borders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.input_files import collect_inputs, find_instance_map
from pixelwise.models.base import InputSpec, input_spec
from pixelwise.runtime import DTYPES, resolve_device, resolve_dtype
from pixelwise.tiling import BLENDS, axis_weights, blend_ramp, crop_to, pad_mode, pad_to_multiple, tile_starts

if TYPE_CHECKING:
    from pixelwise.photo_io import Photo

DEFAULT_OVERLAP = 64


# --- what a model takes (input_spec: pixelwise.models.base, re-exported here) ---------------------------------
def size_multiple(model: nn.Module) -> int:
    """H and W of the model's input must be multiples of this."""
    return input_spec(model).multiple


# --- running a model ---------------------------------------------------------------------------------------
def prepare_model(model: nn.Module, device: str | torch.device | None = None, dtype: str | torch.dtype | None = None,
                  compile: bool = False, hr_path: str | None = None) -> nn.Module:
    """Move ``model`` (in place) to ``device``/``dtype`` for inference, in eval mode. On CUDA: cudnn.benchmark,
    and ASAP-Net's low-res stream in channels_last. ``compile``: torch.compile the entry point used here.
    ``hr_path``: ASAP-Net's "fast" or "reference" high-res path (default: the model's)."""
    from pixelwise.kernels import install
    from pixelwise.models.asapnet import ASAPNetGenerator, set_execution

    target = resolve_device(device)
    model.to(device=target, dtype=resolve_dtype(dtype)).eval()
    asap = isinstance(model, ASAPNetGenerator)
    if hr_path is not None:
        if not asap:
            raise PixelwiseError(f"--hr-path applies to ASAP-Net models only, not {type(model).__name__}")
        set_execution(model, hr_path=hr_path)
    if target.type == "cuda":
        torch.backends.cudnn.benchmark = True
        if asap:
            set_execution(model, lowres_channels_last=True)
            model.to(memory_format=torch.channels_last)
    if asap:
        install(model)
    if compile:
        if input_spec(model).label_fast_path:
            model.forward_labels = torch.compile(model.forward_labels)
        else:
            model.forward = torch.compile(model.forward)
    return model


def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, p.dtype
    return torch.device("cpu"), torch.float32


def _as_batch(x: torch.Tensor, channels: int | None, what: str, source: str) -> tuple[torch.Tensor, bool]:
    """(H, W) / (C, H, W) / (B, C, H, W) -> (B, C, H, W), and whether the input was unbatched."""
    if x.dim() == 2 and channels in (None, 1):
        return x[None, None], True
    if x.dim() == 3:
        return x[None], True
    if x.dim() == 4:
        return x, False
    raise PixelwiseError(f"{source}: expected a {what} of shape (H, W), (C, H, W) or (B, C, H, W), "
                         f"got {tuple(x.shape)}")


def check_labels(label: torch.Tensor, spec: InputSpec, source: str = "label map") -> None:
    """Every id must have a one-hot channel (or be 255 with a dontcare channel), else a PixelwiseError
    (:func:`pixelwise.ops.check_label_range`)."""
    from pixelwise.ops import check_label_range

    check_label_range(label, spec.label_channels, source, "the model's label_nc", dontcare=spec.dontcare,
                      allow_255=spec.dontcare, fix="give the model's label ids (e.g. Cityscapes *_labelIds.png, not "
                                                   "*_trainIds or *_color.png) or remap them")


class _Runner:
    """Runs one padded region of the input through the model on its device; outputs float32 on the CPU."""

    def __init__(self, model: nn.Module, spec: InputSpec) -> None:
        self.model, self.spec = model, spec
        self.device, self.dtype = _model_device_dtype(model)

    def __call__(self, data: dict[str, torch.Tensor]) -> torch.Tensor:
        from pixelwise.ops import one_hot_labels

        with torch.inference_mode():
            if self.spec.kind == "photo":
                out = self.model(data["photo"].to(self.device, self.dtype))
            else:
                label = data["label"].to(self.device)
                edge = data["edge"].to(self.device, self.dtype) if "edge" in data else None
                if self.spec.label_fast_path:
                    out = self.model.forward_labels(label, edge=edge, dtype=self.dtype)
                else:
                    if self.spec.dontcare:  # id 255 -> the last one-hot channel
                        label = torch.where(label == 255, self.spec.label_channels - 1, label)
                    x = one_hot_labels(label, self.spec.label_channels).to(self.dtype)
                    out = self.model(x if edge is None else torch.cat([x, edge], dim=1))
        return out.float().cpu()


def translate_image(model: nn.Module, image_or_labels: torch.Tensor, instance: torch.Tensor | None = None, *,
                    tile: int | None = None, overlap: int = DEFAULT_OVERLAP, blend: str = "cosine",
                    device: str | torch.device | None = None, dtype: str | torch.dtype | None = None,
                    instance_edge: bool | None = None, progress: bool = False, source: str = "input") -> torch.Tensor:
    """Translate one image (or a batch) of any size; returns float32 [-1, 1] on the CPU, batched like the input.

    ``image_or_labels``: for photo models a float image in [-1, 1], (3, H, W) or (B, 3, H, W); for semantic
    models integer label ids, (H, W), (1, H, W) or (B, 1, H, W), with ``instance`` ids of the same shape when
    the model uses an instance edge map. The input is padded to the model's multiple and cropped back.
    ``tile``: process N x N tiles overlapping by ``overlap`` pixels with ``blend`` weights (see the module
    docstring: exact only for models without global context; ASAP-Net and InstanceNorm models change).
    ``device``/``dtype``: move the model there first (in place, like ``model.to``); default: where it is.
    ``source`` names the input in error messages."""
    if device is not None or dtype is not None:
        prepare_model(model, device, dtype)
    spec = input_spec(model, instance_edge)
    m = spec.multiple
    if spec.kind == "photo":
        if not image_or_labels.is_floating_point():
            raise PixelwiseError(f"{source}: this model translates photos (float, [-1, 1]); got integer data")
        x, unbatched = _as_batch(image_or_labels, None, "photo", source)
        padded, size = pad_to_multiple(x.float(), m, pad_mode(spec.kind))
        data = {"photo": padded}
    else:
        if image_or_labels.is_floating_point():
            raise PixelwiseError(f"{source}: this model translates label maps (integer ids); got float data")
        label, unbatched = _as_batch(image_or_labels, 1, "label map", source)
        check_labels(label, spec, source)
        padded, size = pad_to_multiple(label.long(), m, pad_mode(spec.kind))
        data = {"label": padded}
        if spec.instance_edge:
            if instance is None:
                raise PixelwiseError(f"{source}: this model uses an instance edge map; pass the instance map")
            inst, _ = _as_batch(instance, 1, "instance map", source)
            if inst.shape != label.shape:
                raise PixelwiseError(f"{source}: instance map shape {tuple(inst.shape)} differs from the label "
                                     f"map's {tuple(label.shape)}")
            from pixelwise.ops import instance_edges

            data["edge"] = instance_edges(pad_to_multiple(inst, m, pad_mode(spec.kind))[0])
    from pixelwise.limits import check_input_size, check_memory

    if tile is not None and tile < 1:
        raise PixelwiseError(f"--tile {tile} must be a positive tile size in pixels (e.g. --tile 512)")
    check_input_size(model, *size, m, source)
    channels = padded.shape[1] if spec.kind == "photo" else spec.label_channels + int(spec.instance_edge)
    check_memory(model, channels, padded.shape[0], *padded.shape[-2:], m, source, tile)
    run = _Runner(model, spec)
    height, width = padded.shape[-2:]
    if tile is None or (tile >= height and tile >= width):
        out = run(data)
    else:
        out = _run_tiled(run, data, height, width, tile, overlap, blend, m, progress)
    out = crop_to(out, size)
    return out[0] if unbatched else out


def _run_tiled(run: Callable[[dict[str, torch.Tensor]], torch.Tensor], data: dict[str, torch.Tensor], height: int,
               width: int, tile: int, overlap: int, blend: str, multiple: int, progress: bool) -> torch.Tensor:
    tile = max(multiple, tile // multiple * multiple)
    if overlap < 0 or overlap >= tile:
        raise PixelwiseError(f"--tile-overlap {overlap} must be >= 0 and smaller than the tile ({tile})")
    if blend not in BLENDS:
        raise PixelwiseError(f"blend {blend!r}: use one of {', '.join(BLENDS)}")
    th, tw = min(tile, height), min(tile, width)
    ys, xs = tile_starts(height, th, overlap, multiple), tile_starts(width, tw, overlap, multiple)
    out: torch.Tensor | None = None
    weight_sum = torch.zeros(height, width)
    boxes = [(i, j) for i in range(len(ys)) for j in range(len(xs))]
    bar = _progress(boxes, progress, "tiles")
    for i, j in bar:
        y, x = ys[i], xs[j]
        piece = run({k: v[..., y:y + th, x:x + tw] for k, v in data.items()})
        if out is None:
            out = torch.zeros(piece.shape[0], piece.shape[1], height, width)
        w = axis_weights(ys, i, th, blend)[:, None] * axis_weights(xs, j, tw, blend)[None, :]
        out[..., y:y + th, x:x + tw] += piece * w
        weight_sum[y:y + th, x:x + tw] += w
    assert out is not None
    return out.div_(weight_sum)  # in place: no second whole-image copy


def _progress(items: Iterable[Any], enabled: bool, unit: str, total: int | None = None) -> Iterable[Any]:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, unit=unit, leave=unit != "tiles", dynamic_ncols=True, total=total)


# --- files -------------------------------------------------------------------------------------------------
def write_png(path: str | Path, image: torch.Tensor) -> Path:
    """Atomically write a (3, H, W) [-1, 1] image as an 8-bit RGB PNG."""
    from pixelwise.photo_io import write_photo

    return write_photo(path, None, image, format="png")


class Written(list):
    """The paths :func:`translate_files` wrote (a list), with the outputs it ``skipped`` because they existed."""

    skipped: list[Path]

    def __init__(self, paths: Iterable[Path] = (), skipped: Iterable[Path] = ()) -> None:
        super().__init__(paths)
        self.skipped = list(skipped)


def translate_files(model: nn.Module | str | Path, inputs: Sequence[str | Path], output: str | Path, *,
                    instances: str | Path | None = None, instances_from_labels: bool = False,
                    instance_edge: bool | None = None, tile: int | None = None, overlap: int = DEFAULT_OVERLAP,
                    blend: str = "cosine", device: str | torch.device | None = None,
                    dtype: str | torch.dtype | None = None, compile: bool = False, hr_path: str | None = None,
                    progress: bool = True, format: str = "png", quality: int | None = None, suffix: str = "",
                    overwrite: bool = False, backend: str = "torch",
                    report: Callable[[str], None] | None = None, background_io: bool | None = None) -> Written:
    """``pixelwise infer``: translate label maps or photos (files, folders, globs) into
    ``output/<stem><suffix>.<ext>`` (``format``: png, jpg, webp or same, the input's; ``quality`` for jpg/webp).

    ``model``: a module, or a model dir / checkpoint dir / run dir (:func:`pixelwise.models.io.load_generator`).
    Photos are read and written by :mod:`pixelwise.photo_io`: upright (EXIF orientation), alpha kept byte for
    byte, 16 bits kept where the format holds them, ICC / EXIF carried, grayscale out for grayscale in. Before
    any output is written every input is checked and the outputs planned (:func:`pixelwise.photo_io.plan_outputs`):
    an output that would replace an input is refused; existing outputs are skipped unless ``overwrite``.
    Label models need instance maps when they use instance edges: from ``instances`` (a folder with matching
    names), Cityscapes ``*_instanceIds`` siblings, or ``instances_from_labels`` (edges at label boundaries
    only). Returns the written paths (``.skipped``: the existing outputs left alone). See
    :func:`translate_image` for padding and tiling. ``backend``: torch (default), onnxruntime or auto for photo
    models on the CPU (:mod:`pixelwise.onnx_runtime`; ``report`` gets its one line saying which runs).
    ``background_io``: decode the next input and encode the last output in a worker thread while the model runs
    (:mod:`pixelwise.overlap_io`; the same files either way); None (default): on a GPU only (on a CPU whose cores
    the model already keeps busy it measured no faster and held one more photo in memory, docs/speed.md)."""
    from pixelwise.data.transforms import label_to_tensor, read_label
    from pixelwise.onnx_runtime import apply_backend, check_backend
    from pixelwise.photo_io import check_quality, plan_outputs, read_photo, refuse_alpha_loss, write_photo

    check_quality(format, quality)
    check_backend(backend)
    source = None
    if not isinstance(model, nn.Module):
        from pixelwise.models.io import load_generator

        source, model = model, load_generator(model)
    torch_only = "--compile" if compile else "--hr-path" if hr_path else None
    model, device = apply_backend(model, backend, source=source, device=device, dtype=dtype, torch_only=torch_only,
                                  report=report)
    prepare_model(model, device, dtype, compile=compile, hr_path=hr_path)
    spec = input_spec(model, instance_edge)
    files = collect_inputs(inputs, labels=spec.kind == "labels", unique_stems=False)
    output = Path(output)
    from pixelwise.data.preflight import input_problems, raise_input_problems

    # every input checked before the first output: the real problem of a file first (a photo given to a label
    # model), then its instance map
    from pixelwise.fileio import make_dirs

    problems = input_problems(files, "photo", "photo") if spec.kind == "photo" else []
    for path in files if spec.kind == "labels" else []:
        try:
            check_labels(label_to_tensor(read_label(path)), spec, str(path))
        except PixelwiseError as exc:
            problems.append(str(exc))
    raise_input_problems(problems, len(files))
    instance_of: dict[Path, Path | None] = {}
    for path in files:  # find every instance map before the first forward, so a missing one fails fast
        inst_path = None
        if spec.kind == "labels" and spec.instance_edge and not instances_from_labels:
            inst_path = find_instance_map(path, instances)
            if inst_path is None:
                raise PixelwiseError(
                    f"{path}: the model uses an instance edge map but no instance map was found; pass --instances "
                    f"DIR (instance id maps with matching names), keep Cityscapes *_instanceIds.png beside "
                    f"*_labelIds.png, or use --instances-from-labels (edges at label boundaries only)"
                )
        instance_of[path] = inst_path
    plan = plan_outputs(files, output, suffix=suffix, format=format, overwrite=overwrite,
                        protected=[p for p in instance_of.values() if p is not None])
    if spec.kind == "photo":
        refuse_alpha_loss(plan.jobs)
    make_dirs(output)
    from pixelwise.overlap_io import WriteBehind, read_ahead

    if background_io is None:
        background_io = _model_device_dtype(model)[0].type == "cuda"

    def load(path: Path) -> tuple[Photo | None, torch.Tensor | None, torch.Tensor | None]:
        if spec.kind == "photo":  # decoded here; its float copy is made in the loop, so it can be freed there
            return read_photo(path), None, None
        labels = label_to_tensor(read_label(path))
        instance = None
        if spec.instance_edge:
            inst_path = instance_of[path]
            instance = labels if inst_path is None else label_to_tensor(read_label(inst_path, "instance map"))
            if instance.shape != labels.shape:
                raise PixelwiseError(f"instance map {inst_path} is {tuple(instance.shape[-2:])} but label map "
                                     f"{path} is {tuple(labels.shape[-2:])}; they must have the same size")
        return None, labels, instance

    outputs = dict(plan.jobs)
    written = Written(skipped=[out for _, out in plan.skipped])
    with WriteBehind(enabled=background_io) as writer:
        jobs = read_ahead([path for path, _ in plan.jobs], load, enabled=background_io)
        for path, (photo, data, instance) in _progress(jobs, progress, "image", total=len(plan.jobs)):
            data = photo.rgb if photo is not None else data
            image = translate_image(model, data, instance, tile=tile, overlap=overlap, blend=blend,
                                    instance_edge=instance_edge, progress=progress and tile is not None,
                                    source=str(path))
            data = instance = None  # free the input before the output is quantised and written
            writer.submit(write_photo, outputs[path], photo, image, quality=quality)
            photo = image = None
    written.extend(writer.results)
    return written


__all__ = [
    "BLENDS",
    "DTYPES",
    "InputSpec",
    "Written",
    "blend_ramp",
    "check_labels",
    "collect_inputs",
    "crop_to",
    "find_instance_map",
    "input_spec",
    "pad_to_multiple",
    "prepare_model",
    "resolve_device",
    "size_multiple",
    "tile_starts",
    "translate_files",
    "translate_image",
    "write_png",
]
