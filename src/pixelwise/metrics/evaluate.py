"""Evaluate a generator on a dataset: PSNR, SSIM, FID, KID (conventions in :mod:`pixelwise.metrics`),
per-image values, and a grid of the worst and best images by PSNR.

``pixelwise eval MODEL`` = :func:`load_eval_data_config` (which data) + :func:`evaluate_model` (the work).
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pixelwise.data.config import DataConfig
from pixelwise.errors import PixelwiseError
from pixelwise.output_plan import refuse_overwriting_inputs
from pixelwise.rundir import find_run_config
from pixelwise.runtime import json_safe, to_device
from pixelwise.tiling import pad_mode, pad_to_multiple

METRICS_FILE = "metrics.json"
GRID_FILE = "worst_best.png"


# --- which data ----------------------------------------------------------------------------------------------
def _normalise_overrides(overrides: Sequence[str]) -> list[str]:
    """``root=/x`` -> ``data.root=/x`` (the data section is the only one eval reads)."""
    out = []
    for item in overrides:
        key = item.partition("=")[0].strip()
        out.append(item if key.startswith("data.") else f"data.{item.strip()}")
    return out


def load_eval_data_config(data: str | Path | None = None, overrides: Sequence[str] = (),
                          model_path: str | Path | None = None) -> tuple[DataConfig, str]:
    """The data section to evaluate on and where it came from: ``data`` (a preset name or YAML file, either a
    run config with a ``data:`` section or a bare data section), else the training run's ``config.yaml`` next to
    ``model_path``, else the defaults; then ``overrides`` (``data.key=value`` or ``key=value``)."""
    from pixelwise.config import apply_overrides, from_dict, load_yaml

    if data is not None:
        from pixelwise.train.config import load_preset_dict

        loaded = load_preset_dict(data)
        section = loaded["data"] if isinstance(loaded.get("data"), dict) else loaded
        source = str(data)
    elif model_path is not None and (run_config := find_run_config(model_path)) is not None:
        section = load_yaml(run_config).get("data") or {}
        source = str(run_config)
    else:
        section, source = {}, "defaults"
    tree = apply_overrides({"data": dict(section)}, _normalise_overrides(overrides))
    if not isinstance(tree["data"], dict):
        raise PixelwiseError(f"{source}: the data section must be a mapping")
    return from_dict(DataConfig, tree["data"], where=f"{source}:data"), source


# --- helpers -----------------------------------------------------------------------------------------------
class _Extremes:
    """The k lowest and k highest PSNR images seen so far, with their pictures."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.worst: list[tuple[float, int, dict[str, Any]]] = []  # max-heap by psnr (stored negated)
        self.best: list[tuple[float, int, dict[str, Any]]] = []  # min-heap by psnr

    def add(self, psnr: float, index: int, item: dict[str, Any]) -> None:
        if self.k <= 0:
            return
        value = psnr if not math.isnan(psnr) else -math.inf
        for heap, key in ((self.worst, -value), (self.best, value)):
            entry = (key, -index, item)  # ties: the earlier image stays
            if len(heap) < self.k:
                heapq.heappush(heap, entry)
            elif entry[:2] > heap[0][:2]:
                heapq.heapreplace(heap, entry)

    def rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        worst = [item for _, _, item in sorted(self.worst, key=lambda e: (-e[0], -e[1]))]
        shown = {item["index"] for item in worst}
        best = [item for _, _, item in sorted(self.best, key=lambda e: (-e[0], -e[1])) if item["index"] not in shown]
        return worst, best  # an image among the worst is not repeated among the best (small N)


def _display_input(batch: Mapping[str, Any], data_config: DataConfig) -> torch.Tensor:
    """What the grid shows as the input: coloured label maps, or the input photo."""
    if data_config.resolved_task == "labels":
        from pixelwise.data.palette import colorize_labels

        return colorize_labels(batch["label"], data_config)
    return batch["input"]


# --- the evaluation ----------------------------------------------------------------------------------------
def dataset_files(dataset: Any) -> list[Path]:
    """Every file the samples of ``dataset`` (or a Subset of it) are read from: its records' paths."""
    while hasattr(dataset, "dataset") and hasattr(dataset, "indices"):  # torch Subset
        dataset = dataset.dataset
    files = []
    for record in getattr(dataset, "records", None) or []:
        values = dataclasses.asdict(record).values() if dataclasses.is_dataclass(record) else (
            record.values() if isinstance(record, Mapping) else record if isinstance(record, tuple) else ())
        files += [Path(v) for v in values if isinstance(v, Path)]
    return files


def evaluate_model(model: nn.Module, dataset: Any, data_config: DataConfig, device: torch.device | str = "cpu", *,
                   batch_size: int = 4, num_workers: int = 0, fid: bool = True, kid: bool = True,
                   ssim_matlab: bool = False, lpips: bool = False, kid_subset_size: int | None = None,
                   kid_subsets: int = 100, inception_weights: str | Path | None = None,
                   feature_extractor: Any | None = None, grid_count: int = 4, out_dir: str | Path | None = None,
                   info: Mapping[str, Any] | None = None, progress: bool = False) -> dict[str, Any]:
    """Run ``model`` over ``dataset`` (samples of :func:`pixelwise.data.build_dataset`), score every output
    against its target with :class:`MetricSuite`, and return the metrics with per-image values and the names of
    the ``grid_count`` worst and best images by PSNR. Images whose size the model cannot take are padded
    to the next multiple as ``pixelwise infer`` pads them (:func:`pixelwise.tiling.pad_mode`: photos reflect, label
    maps replicate) and the output is cropped back (counted in ``padded``). With ``out_dir``,
    also writes ``metrics.json`` and ``worst_best.png`` (input | output | target rows) there."""
    from torch.utils.data import DataLoader

    from pixelwise.data import input_channels, network_input
    from pixelwise.inference import input_spec
    from pixelwise.metrics.image import quantize
    from pixelwise.metrics.suite import MetricSuite

    if out_dir is not None:
        refuse_overwriting_inputs([Path(out_dir) / METRICS_FILE, Path(out_dir) / GRID_FILE], dataset_files(dataset),
                                  "choose an --out folder that does not hold the evaluation data")
    device = torch.device(device)
    spec = input_spec(model)
    expected, given = spec.channels, input_channels(data_config)
    if expected and expected != given:
        raise PixelwiseError(
            f"the model takes {expected} input channels but the data gives {given} (data.task="
            f"{data_config.resolved_task}, data.label_nc={data_config.label_nc}, data.instance_edge="
            f"{data_config.instance_edge}, data.contain_dontcare_label={data_config.contain_dontcare_label}); "
            f"set the data options the model was trained with"
        )
    if len(dataset) == 0:
        raise PixelwiseError("the evaluation dataset is empty; check data.root, the split and data.max_images")
    suite = MetricSuite(fid=fid, kid=kid, ssim_matlab=ssim_matlab, lpips=lpips, kid_subset_size=kid_subset_size,
                        kid_subsets=kid_subsets, inception_weights=inception_weights, device=device,
                        feature_extractor=feature_extractor)
    model = model.to(device).eval()
    multiple = spec.multiple
    extremes = _Extremes(grid_count)
    per_image: list[dict[str, Any]] = []
    padded = 0
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    if progress:
        from tqdm.auto import tqdm

        loader = tqdm(loader, desc="eval", unit="batch")
    with torch.inference_mode():
        for batch in loader:
            batch = to_device(batch, device)
            x = network_input(batch, data_config)
            h, w = x.shape[-2:]
            x, _ = pad_to_multiple(x, multiple, pad_mode(spec.kind))  # the padding `pixelwise infer` uses
            padded += x.shape[0] if x.shape[-2:] != (h, w) else 0
            try:
                pred = model(x)[..., :h, :w].float()
            except torch.cuda.OutOfMemoryError:
                raise PixelwiseError(f"out of GPU memory at batch size {batch_size} and {h}x{w}; "
                                     f"lower --batch-size or data.load_height/width") from None
            rows = suite.update(pred, batch["target"])
            names = batch.get("name") or [None] * len(rows)
            shown = quantize(_display_input(batch, data_config))
            outs, targets = quantize(pred), quantize(batch["target"])
            for i, row in enumerate(rows):
                index = len(per_image)
                per_image.append({"index": index, "name": names[i], **row})
                extremes.add(row["psnr"], index, {
                    "index": index, "name": names[i], "psnr": row["psnr"],
                    "images": [im[i].permute(1, 2, 0).cpu().numpy() for im in (shown, outs, targets)],  # HWC uint8
                })
    result = suite.compute()
    worst, best = extremes.rows()
    from pixelwise.metrics.suite import CONVENTIONS

    result.update(padded=padded, conventions=dict(CONVENTIONS), per_image=per_image,
                  worst=[{"index": r["index"], "name": r["name"], "psnr": r["psnr"]} for r in worst],
                  best=[{"index": r["index"], "name": r["name"], "psnr": r["psnr"]} for r in best])
    if info:
        result = {**dict(info), **result}
    if out_dir is not None:
        result["files"] = write_outputs(result, worst, best, out_dir, data_config)
    return result


def write_outputs(result: Mapping[str, Any], worst: Sequence[Mapping[str, Any]], best: Sequence[Mapping[str, Any]],
                  out_dir: str | Path, data_config: DataConfig) -> dict[str, str]:
    """``metrics.json`` (strict JSON: non-finite -> null) and the worst/best grid in ``out_dir``."""
    from pixelwise.fileio import atomic_write_json
    from pixelwise.imagegrid import save_image_grid

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"metrics": str(out_dir / METRICS_FILE)}
    rows = [*worst, *best]
    if rows:
        def label(kind: str, i: int, r: Mapping[str, Any]) -> str:
            name = str(r["name"] if r["name"] is not None else r["index"])
            name = name if len(name) <= 20 else "…" + name[-19:]
            return f"{kind} {i + 1}: {r['psnr']:.2f} dB\n{name}"

        labels = [label("worst", i, r) for i, r in enumerate(worst)] + [label("best", i, r) for i, r in enumerate(best)]
        first = "label map" if data_config.resolved_task == "labels" else "input"
        save_image_grid([r["images"] for r in rows], out_dir / GRID_FILE, [first, "output", "target"],
                        row_labels=labels, title=f"{len(worst)} worst and {len(best)} best images by PSNR "
                                                 f"(N={result.get('n')})")
        files["grid"] = str(out_dir / GRID_FILE)
    atomic_write_json(out_dir / METRICS_FILE, json_safe({**dict(result), "files": files}))
    return files


def eval_split(data_config: DataConfig, split: str | None = None, max_images: int | None = None) -> tuple[
        DataConfig, str]:
    """(config with ``max_images`` applied, the split to evaluate: ``split`` or the config's eval split)."""
    if max_images is not None:
        if max_images < 1:
            raise PixelwiseError(f"--max-images={max_images} must be >= 1")
        data_config = dataclasses.replace(data_config, max_images=max_images)
    return data_config, split or data_config.resolved_eval_split


__all__ = [
    "eval_split",
    "evaluate_model",
    "find_run_config",
    "load_eval_data_config",
    "write_outputs",
]
