"""The shipped deblurrers as reference rows of Table 2 (``deblur.pretrained_rows``): every photo -> photo model
packaged with pixelwise (``pixelwise/<name>``, :func:`pixelwise.hub.packaged_names`, taken as found: no list
here), evaluated on the study's own evaluation sets with the same metrics and timed with the same benchmark at
the same size as the trained models, but not trained by the study: their rows are marked ``pretrained`` and
name their ``source``, so a reader sees what the study's training reached beside what the shipped models do."""

from __future__ import annotations

import time
from typing import Any

from pixelwise.errors import PixelwiseError
from pixelwise.runtime import machine_load
from pixelwise.study.config import StudyConfig
from pixelwise.study.evalsets import EvalSet, bench_trained, evaluate_sets, predict_samples
from pixelwise.study.results import EpochRecord, MachineLoad, ModelResult, StudyResults, scores_from_record

PRETRAINED_SUFFIX = " (pretrained)"  # after a pretrained row's name in the tables
PRETRAINED_KEY_PREFIX = "pretrained:"  # a pretrained row's key (never a runs/ folder name: those have no ':')


def shipped_deblurrers(device: Any = "cpu") -> list[tuple[str, Any]]:
    """(``pixelwise/<name>``, model in eval mode) for every model shipped in the package that turns a photo
    into a photo (the deblurrers: registry ``deblurgan`` / ``deblurgan-asap``), in name order; other shipped
    models (label map -> photo) are skipped."""
    from pixelwise.deblur import check_photo_model
    from pixelwise.hub import PACKAGED_ORG, packaged_names
    from pixelwise.models.io import load_generator

    out = []
    for name in packaged_names():
        source = f"{PACKAGED_ORG}/{name}"
        model = load_generator(source, device=device)
        try:
            check_photo_model(model, source)
        except PixelwiseError:  # not a photo -> photo model
            continue
        out.append((source, model.eval()))
    return out


class _Padded:
    """A model called on any size: the input padded (replicate) to the model's size multiple, the output cropped
    back (as :func:`pixelwise.metrics.evaluate.evaluate_model` does for the scores)."""

    def __init__(self, model: Any) -> None:
        from pixelwise.inference import size_multiple

        self.model, self.multiple = model, size_multiple(model)

    def __call__(self, x: Any) -> Any:
        import torch.nn.functional as F

        height, width = x.shape[-2:]
        pad_h, pad_w = -height % self.multiple, -width % self.multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        return self.model(x)[..., :height, :width]


def evaluate_pretrained(config: StudyConfig, results: StudyResults, sets: list[EvalSet],
                        grid_batches: list[tuple[EvalSet, list[dict[str, Any]]]], size: list[int],
                        device: Any, extractor: Any | None) -> list[tuple[ModelResult, list[list[Any]]]]:
    """Every shipped deblurrer scored on ``sets`` (all strengths in one pass, FID/KID when ``extractor``),
    timed at ``size`` with the study's bench settings, and run on the grid samples: (its row, its grid outputs
    per set)."""
    out = []
    for source, model in shipped_deblurrers(device):
        t0 = time.perf_counter()
        record = evaluate_sets(model, sets, device, extractor, config.eval.batch_size, config.eval.kid_subsets)
        eval_seconds = time.perf_counter() - t0
        results.timing.evaluation_s += eval_seconds
        outputs = [predict_samples(_Padded(model), batches, es.data_config, device) for es, batches in grid_batches]
        t0 = time.perf_counter()
        load = machine_load()
        results.bench.loads.append(MachineLoad(**load) if load else None)
        registry = getattr(model, "registry_name", None) or "?"
        bench = bench_trained(registry, model.config, size[0], size[1], device, config.bench)
        results.timing.bench_s += time.perf_counter() - t0
        final = scores_from_record(record, EpochRecord, epoch=0, step=0, eval_seconds=eval_seconds)
        name = source.split("/", 1)[1]
        row = ModelResult(key=f"{PRETRAINED_KEY_PREFIX}{name}", name=f"{name}{PRETRAINED_SUFFIX}",
                          registry=registry, params=sum(p.numel() for p in model.parameters()), final=final,
                          runtime_ms=bench.get("median_ms"), runtime_size=list(size),
                          runtime_error=bench.get("error"), gflops=bench.get("gflops"), pretrained=True,
                          source=source)
        if config.progress:
            print(f"pixelwise study: {source} (pretrained, not trained by the study): PSNR "
                  f"{final.psnr or 0:.2f} dB, SSIM {final.ssim or 0:.3f}"
                  + (f", FID {final.fid:.1f} (N={final.fid_n})" if final.fid is not None else ""), flush=True)
        out.append((row, outputs))
    return out


__all__ = ["PRETRAINED_KEY_PREFIX", "PRETRAINED_SUFFIX", "evaluate_pretrained", "shipped_deblurrers"]
