"""The app's work without any UI, so that it is tested without a browser: label maps <-> canvas colours,
region fill, starting label maps, running the models with measured milliseconds (one at a time), deblurring
with an optional synthetic blur first, upload checks, and the Models table (params, GFLOPs, bench figures).

Uploads are read by the CLI's readers, so bad files get the CLI's one-line messages (with the browser's
temporary folder cut from the file name)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixelwise.app import _library as lib
from pixelwise.app.models import AppModel, LabelSet, default_photo_model

MAX_UPLOAD_MB = 20  # the web server refuses bigger files
MAX_PHOTO_PIXELS = 4096 * 4096  # deblurring input (photos above TILE_ABOVE pixels are processed in tiles)
MAX_LABEL_PIXELS = 2048 * 2048  # an uploaded label map becomes the canvas
TILE, TILE_OVERLAP = 1024, 64  # tile size / overlap for large photos
TILE_ABOVE = 1024 * 1024  # pixels
BENCH_RUNS, BENCH_WARMUP = 3, 1


def short_message(exc: BaseException, path: str | Path | None = None) -> str:
    """The one-line message of a PixelwiseError, with a temporary upload folder reduced to the file name."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if path is not None:
        text = text.replace(str(path), Path(path).name)
    return text


# --- label maps and canvas colours -------------------------------------------------------------------------
def colorize(ids: np.ndarray, labels: LabelSet) -> np.ndarray:
    """(H, W) ids -> (H, W, 3) uint8 colours."""
    return labels.table[np.clip(ids, 0, 255)]


def canvas_to_ids(canvas: np.ndarray, base: np.ndarray, labels: LabelSet) -> np.ndarray:
    """The label map painted on the canvas: ``base`` (the ids under the canvas background) where the canvas
    still shows their colour, elsewhere the paintable id of the nearest palette colour (so antialiased stroke
    edges become a neighbouring class, never an invented id). A canvas of another size is resized NEAREST."""
    rgb = np.asarray(canvas)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    rgb = rgb[..., :3]
    if rgb.shape[:2] != base.shape:
        from PIL import Image

        rgb = np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize(base.shape[::-1], Image.NEAREST))
    changed = (rgb != colorize(base, labels)).any(axis=-1)
    ids = base.copy()
    if changed.any():
        palette = labels.table[labels.ids].astype(np.int32)  # (K, 3)
        pixels = rgb[changed].astype(np.int32)  # (N, 3)
        nearest = ((pixels[:, None, :] - palette[None, :, :]) ** 2).sum(-1).argmin(1)
        ids[changed] = np.asarray(labels.ids)[nearest]
    return ids


def fill_region(ids: np.ndarray, y: int, x: int, new_id: int) -> np.ndarray:
    """Flood fill: the 4-connected region of equal ids around (y, x) gets ``new_id``."""
    from scipy import ndimage

    if not (0 <= y < ids.shape[0] and 0 <= x < ids.shape[1]):
        raise lib.PixelwiseError(f"fill point ({x}, {y}) is outside the {ids.shape[1]}x{ids.shape[0]} label map")
    regions, _ = ndimage.label(ids == ids[y, x])
    out = ids.copy()
    out[regions == regions[y, x]] = new_id
    return out


def _by_name(labels: LabelSet, *names: str) -> int | None:
    for name in names:
        for i, n in labels.names.items():
            if n == name:
                return i
    return None


def starting_labels(labels: LabelSet, size: tuple[int, int], bundled: bool = False) -> np.ndarray:
    """A label map to start painting on: a bundled label map (from the bundled photos, when the model was
    trained on them and they are on disk), a simple street scene for Cityscapes ids, else bands of classes."""
    h, w = size
    if bundled:
        folder = lib.bundled_labels_folder(labels.valid)
        files = sorted((folder / "test_label").glob("*.png")) if folder is not None else []
        if files:
            return lib.resize_label(lib.read_label(files[len(files) // 2]), size)
    sky, building, road = (_by_name(labels, "sky"), _by_name(labels, "building"), _by_name(labels, "road"))
    if sky is not None and building is not None and road is not None:
        ids = np.full((h, w), building, dtype=np.int64)
        ids[: int(0.3 * h)] = sky
        ids[int(0.6 * h):] = road
        for name, box in (("vegetation", (0.25, 0.62, 0.62, 1.0)), ("sidewalk", (0.6, 0.68, 0.0, 1.0)),
                          ("car", (0.55, 0.78, 0.15, 0.4))):
            cls = _by_name(labels, name)
            if cls is not None:
                y0, y1, x0, x1 = box
                ids[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)] = cls
        return ids
    paint = [i for i in labels.ids if i != 255] or [0]
    bands = np.linspace(0, len(paint), h, endpoint=False).astype(int).clip(0, len(paint) - 1)
    ids = np.asarray(paint)[bands][:, None].repeat(w, axis=1).astype(np.int64)
    return ids


def read_label_upload(path: str | Path, labels: LabelSet, multiple: int) -> np.ndarray:
    """An uploaded id PNG -> (H, W) ids, checked like ``pixelwise infer`` checks label maps; resized (NEAREST)
    to the model's size multiple when needed."""
    ids = lib.read_label(path)
    if ids.size > MAX_LABEL_PIXELS:
        raise lib.PixelwiseError(f"label map {path} is {ids.shape[1]}x{ids.shape[0]}: the app takes label maps "
                                 f"up to {MAX_LABEL_PIXELS / 1e6:.1f} megapixels; use `pixelwise infer` for larger")
    spec = lib.InputSpec("labels", multiple, labels.valid + int(labels.dontcare), dontcare=labels.dontcare)
    lib.check_labels(lib.label_to_tensor(ids), spec, f"label map {path}")
    h, w = ids.shape
    target = (-(-h // multiple) * multiple, -(-w // multiple) * multiple)
    return lib.resize_label(ids, target) if target != (h, w) else ids


def read_photo_upload(path: str | Path) -> np.ndarray:
    """An uploaded photo -> uint8 (H, W, 3), checked like ``pixelwise infer`` checks photos."""
    photo = lib.read_photo(path)
    if photo.shape[0] * photo.shape[1] > MAX_PHOTO_PIXELS:
        raise lib.PixelwiseError(f"photo {path} is {photo.shape[1]}x{photo.shape[0]}: the app takes photos up to "
                                 f"{MAX_PHOTO_PIXELS / 1e6:.1f} megapixels; use `pixelwise infer --tile` for larger")
    return photo


# --- running models ----------------------------------------------------------------------------------------
@dataclass
class Result:
    key: str
    image: np.ndarray  # uint8 (H, W, 3)
    ms: float
    tiled: bool = False


class Engine:
    """The loaded models and the one lock that keeps two requests from running a model at once."""

    def __init__(self, models: Sequence[AppModel], device: str = "cpu", note: str | None = None) -> None:
        self.models = list(models)
        self.device = device
        self.note = note
        self.lock = threading.Lock()
        self._flops: dict[tuple[str, int, int], float | None] = {}
        self.bench: dict[str, dict[str, Any]] = {}

    def by_key(self, key: str) -> AppModel:
        for m in self.models:
            if m.key == key:
                return m
        raise lib.PixelwiseError(f"no loaded model is called {key!r}; loaded: {[m.key for m in self.models]}")

    @property
    def label_models(self) -> list[AppModel]:
        """The label-map models painted together: those sharing the first one's label set (ASAP-Net first)."""
        found = sorted((m for m in self.models if m.task == "labels"), key=lambda m: not m.is_asap)
        return [m for m in found if m.labels.key() == found[0].labels.key()] if found else []

    @property
    def photo_models(self) -> list[AppModel]:
        """The deblurrers: the preselected one first (:func:`~pixelwise.app.models.default_photo_model`), then
        those named with --model, the shipped ones, the rest (DeblurGAN-ASAP before DeblurGAN in each group)."""
        photo = [m for m in self.models if m.task == "photo"]
        first = default_photo_model(photo)
        return sorted(photo, key=lambda m: (m is not first, not m.requested, m.shipped is None, not m.is_asap))

    def _timed(self, model: AppModel, data: Any, instance: Any = None, tile: int | None = None) -> tuple[Any, float]:
        import torch

        with self.lock:
            start = time.perf_counter()
            out = lib.translate_image(model.module, data, instance, tile=tile, overlap=TILE_OVERLAP,
                                      source="input")
            if str(self.device).startswith("cuda"):
                torch.cuda.synchronize()
            ms = (time.perf_counter() - start) * 1000.0
        size = tuple(int(s) for s in data.shape[-2:])
        model.timings.setdefault(size, []).append(ms)
        return out, ms

    def translate_labels(self, ids: np.ndarray, keys: Sequence[str] | None = None) -> list[Result]:
        """Every label model (or those in ``keys``) on the (H, W) id map; instance edges at label boundaries
        (as ``pixelwise infer --instances-from-labels``)."""
        label = lib.label_to_tensor(ids)
        results = []
        for model in self.label_models:
            if keys is not None and model.key not in keys:
                continue
            instance = label if model.spec.instance_edge else None
            out, ms = self._timed(model, label, instance)
            results.append(Result(model.key, lib.tensor_to_photo(out), ms))
        return results

    def blur(self, photo: np.ndarray, strength: float, seed: int = 0) -> np.ndarray:
        """A synthetic camera-shake blur of ``strength`` (0: none; 1: a 60-pixel path), from ``seed``."""
        lo, _ = lib.parse_strength(strength, where="blur strength")
        if lo == 0:
            return photo
        kernel = lib.sample_kernel(int(seed), lo).kernel
        blurred = lib.motion_blur(lib.photo_to_tensor(photo), kernel)
        return lib.tensor_to_photo(blurred)

    def deblur(self, key: str, photo: np.ndarray) -> Result:
        """Restore a uint8 photo with model ``key``; photos over TILE_ABOVE pixels go in TILE x TILE tiles."""
        model = self.by_key(key)
        if model.task != "photo":
            raise lib.PixelwiseError(f"{model.name} translates label maps, not photos")
        tiled = photo.shape[0] * photo.shape[1] > TILE_ABOVE
        out, ms = self._timed(model, lib.photo_to_tensor(photo), tile=TILE if tiled else None)
        return Result(key, lib.tensor_to_photo(out), ms, tiled)

    # --- the Models tab --------------------------------------------------------------------------------
    def gflops(self, model: AppModel, size: tuple[int, int]) -> float | None:
        """GFLOPs of one call at ``size`` as the app calls it (label ids in; bench's counting rules)."""
        import torch

        cache_key = (model.key, *size)
        if cache_key not in self._flops:
            try:
                with self.lock:
                    fn, args, _ = lib.prepare_call(model.module, size[0], size[1], torch.device(self.device),
                                                   torch.float32, label_input="ids")
                    self._flops[cache_key] = lib.count_flops(fn, *args) / 1e9
            except (RuntimeError, ValueError, lib.PixelwiseError):
                self._flops[cache_key] = None
        return self._flops[cache_key]

    def run_bench(self, sizes: dict[str, tuple[int, int]]) -> None:
        """``pixelwise bench`` (its function) for each model's architecture at its size in ``sizes``."""
        batches: list[list[AppModel]] = []  # one benchmark run per size and distinct registry names, so
        for model in self.models:  # that the ratios to pix2pixHD / DeblurGAN come from the same run
            size = tuple(sizes[model.key])
            batch = next((b for b in batches if tuple(sizes[b[0].key]) == size
                          and all(m.registry != model.registry for m in b)), None)
            if batch is None:
                batches.append([model])
            else:
                batch.append(model)
        for batch in batches:
            with self.lock:
                records = lib.run_benchmark([m.registry for m in batch], [tuple(sizes[batch[0].key])],
                                            device=self.device, runs=BENCH_RUNS, warmup=BENCH_WARMUP,
                                            label_input="ids",
                                            model_options={m.registry: lib.to_dict(m.module.config) for m in batch})
            for model, record in zip(batch, records):
                self.bench[model.key] = record

    def model_rows(self, sizes: dict[str, tuple[int, int]], flops: bool = True) -> list[list[Any]]:
        """One row per model for the Models table (see :data:`MODEL_COLUMNS`)."""
        rows = []
        for m in self.models:
            size = sizes[m.key]
            times = m.timings.get(size, [])
            study = m.study or {}
            bench = self.bench.get(m.key, {})
            g = self.gflops(m, size) if flops else None
            study_text = "no study"
            if study.get("runtime_ms") is not None:
                rs = study.get("runtime_size") or ["?", "?"]
                study_text = f"{study['runtime_ms']:.1f} ms @ {rs[0]}x{rs[1]}"
                if study.get("fullsize_runtime_ms") is not None and study.get("fullsize_size"):
                    fs = study["fullsize_size"]
                    study_text += f"; paper width {study['fullsize_runtime_ms']:.0f} ms @ {fs[0]}x{fs[1]}"
            bench_text = "not run"
            if bench.get("median_ms") is not None:
                bench_text = f"{bench['median_ms']:.1f} ms"
                if m.task == "photo" and bench.get("speedup_vs_deblurgan"):
                    bench_text += f" ({bench['speedup_vs_deblurgan']:.2f}x DeblurGAN)"
                elif m.task == "labels" and bench.get("speedup_vs_pix2pixhd"):
                    bench_text += f" ({bench['speedup_vs_pix2pixhd']:.2f}x pix2pixHD)"
            elif bench.get("error"):
                bench_text = f"error: {bench['error']}"
            rows.append([
                m.name, "label map -> photo" if m.task == "labels" else "photo -> photo", m.registry,
                f"{m.params / 1e6:.3f} M", f"{size[0]}x{size[1]}", "" if g is None else f"{g:.3f}",
                f"{float(np.median(times)):.1f} ms (n={len(times)})" if times else "no runs yet", bench_text,
                study_text, _source(m),
            ])
        return rows


def _source(model: AppModel) -> str:
    origin = model.origin.replace("`", "")
    if not origin or origin == "untrained" or model.shipped:
        return model.source
    return f"{origin}: {model.source}"


MODEL_COLUMNS = ["model", "task", "registry", "params", "shown size", "GFLOPs", "app median",
                 "bench median", "study bench", "source"]
