"""Inference benchmark: models x resolutions x dtype (x channels_last / torch.compile), batch 1.

What is measured
----------------
- **Time**: the generator's ``forward`` on the prepared dense network input, batch 1, under
  ``torch.inference_mode``: ``warmup`` untimed calls, then ``runs`` timed calls; the median is reported (min and
  mean too). On CUDA each call is timed with CUDA events around the call after a device synchronisation
  (``cudnn.benchmark`` on, so the warm-up also autotunes); on CPU with ``time.perf_counter``. Building the input
  (label ids -> one-hot + instance edge, as the data pipeline does) is *not* timed; each record names the input
  representation that was timed.
- **Memory** (``memory_measure`` names it): on CUDA, ``torch.cuda.max_memory_allocated`` over the timed calls
  (weights + input + activations + workspace); on CPU (Linux), the growth of the process's peak resident set
  during one extra forward (``VmHWM`` from ``/proc/self/status``, reset through ``/proc/self/clear_refs``
  after ``malloc_trim``): activations and workspace only, since weights and input are already resident.
  Elsewhere memory is not measured (null).
- **Parameters** and **GFLOPs** (``torch.utils.flop_counter.FlopCounterMode``, one forward; a multiply-add counts
  2 FLOPs; convolutions and matrix products only, so elementwise work such as normalisation is not counted).
- **Speed-ups** within the same run: ``speedup_vs_pix2pixhd`` = pix2pixHD's median / the model's median at the
  same size, dtype and flags; ``speedup_vs_deblurgan`` likewise against DeblurGAN.

Model configuration per size: registry defaults (full widths). ASAP-Net models get the paper's parameter grid,
16 cells tall: S = H / 16 (S=16 at 256x512, 32 at 512x1024, 64 at 1024x2048), rounded down to the largest power
of two that divides both H and W, with ``learned_ds_factor`` = min(16, S). At 720x1280 that gives S = 16
(a 45 x 80 grid): 720 / 16 = 45 is not a power of two and 32 does not divide 720.
A combination that cannot run (size not divisible, out of memory, unsupported dtype) becomes a record with an
``error`` note instead of stopping the run.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pixelwise.cpuinfo import cpu_line, describe_cpu
from pixelwise.errors import PixelwiseError
from pixelwise.input_kind import InputKind
from pixelwise.ops import random_label_maps
from pixelwise.runtime import DTYPES, describe_device, dtype_name, machine_load, resolve_device
from pixelwise.timing import MEMORY_MEASURES, count_flops, measure

LABEL_SIZES: tuple[tuple[int, int], ...] = ((256, 512), (512, 1024), (1024, 2048))
DEBLUR_SIZES: tuple[tuple[int, int], ...] = ((720, 1280),)
DEFAULT_MODELS: tuple[str, ...] = ("asapnet", "asapnet-reference", "pix2pixhd", "pix2pixhd-local", "deblurgan",
                                   "deblurgan-asap")
REFERENCE_MODEL = "pix2pixhd"
DEBLUR_REFERENCE_MODEL = "deblurgan"
ASAP_GRID_ROWS = 16
# --- configuration -----------------------------------------------------------------------------------------
def parse_size(text: str) -> tuple[int, int]:
    """``"256x512"`` -> (256, 512): height x width."""
    parts = text.lower().replace(" ", "").split("x")
    try:
        height, width = (int(p) for p in parts)
    except ValueError:
        raise PixelwiseError(f"size {text!r} must look like HEIGHTxWIDTH, e.g. 256x512 or 720x1280") from None
    if height <= 0 or width <= 0:
        raise PixelwiseError(f"size {text!r} must be positive")
    return height, width


def asapnet_grid(height: int, width: int, rows: int = ASAP_GRID_ROWS) -> int:
    """The paper's S for an H x W input: H / rows, rounded down to the largest power of two dividing H and W."""
    s = 1
    while s * 2 <= max(height // rows, 2) and height % (s * 2) == 0 and width % (s * 2) == 0:
        s *= 2
    if s < 2:
        raise ValueError(f"ASAP-Net needs H and W divisible by 2 at least; got {height}x{width}")
    return s


def default_models() -> list[str]:
    """The default model list, keeping only registered names (``asapnet-reference`` may be absent)."""
    from pixelwise.registry import list_models

    known = set(list_models())
    return [name for name in DEFAULT_MODELS if name in known]


def model_options_for(name: str, height: int, width: int, tiny: bool = False,
                      options: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Config overrides for model ``name`` at ``height`` x ``width``: the ASAP-Net grid for the size, then the
    tiny preset, then ``options`` (keys: a model name, or "*" for every model that has the option)."""
    from pixelwise.registry import get_entry, model_config, option_names

    entry = get_entry(name)
    fields = option_names(name)
    user = {**dict((options or {}).get("*", {})), **dict((options or {}).get(name, {}))}
    user = {k: v for k, v in user.items() if k in fields}
    result: dict[str, Any] = {}
    if tiny:
        result.update(entry.config_cls.tiny_options() if hasattr(entry.config_cls, "tiny_options") else {})
    if "downsampling" in fields and "downsampling" not in user:
        s = asapnet_grid(height, width)
        base = model_config(name, **{k: v for k, v in user.items() if k != "learned_ds_factor"})
        result["downsampling"] = s
        result["learned_ds_factor"] = min(user.get("learned_ds_factor", base.learned_ds_factor), s)
    result.update(user)
    return result


def check_options(models: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None) -> None:
    """Every option must belong to a listed model (scoped) or to at least one of them ("*")."""
    from pixelwise.registry import option_names

    for scope, values in (options or {}).items():
        if scope == "*":
            valid = set().union(*(option_names(m) for m in models)) if models else set()
            where = "any of the models " + ", ".join(models)
        elif scope not in models:
            raise PixelwiseError(
                f"--model-option {scope}.KEY=VALUE: {scope!r} is not among the benchmarked models {list(models)}"
            )
        else:
            valid, where = option_names(scope), f"model {scope!r}"
        unknown = sorted(set(values) - valid)
        if unknown:
            raise PixelwiseError(f"option(s) {unknown} exist in no config of {where}; valid: {sorted(valid)}")


def input_kind(config: Any) -> InputKind:
    """:class:`InputKind` of a generator config (its ``input_spec``): label maps (one-hot + instance edge) or
    photos. Records store its value (``labels``/``photo``; older records' ``semantic``/``rgb`` read the same)."""
    if not hasattr(config, "input_spec"):
        raise PixelwiseError(f"bench does not know the input of {type(config).__name__}")
    return config.input_spec().kind


def semantic_layout(config: Any) -> tuple[int, bool]:
    """(one-hot channels, instance-edge channel?) of a semantic generator's dense input."""
    spec = config.input_spec()
    return spec.label_channels, spec.instance_edge


def dense_semantic(label: torch.Tensor, instance: torch.Tensor, n_labels: int, edge: bool) -> torch.Tensor:
    """Label (+ instance) ids -> one-hot (+ instance edge): the data pipeline's primitives."""
    from pixelwise.ops import semantic_input

    return semantic_input(label, n_labels, instance if edge else None)


def benchmark_input(config: Any, height: int, width: int, generator: torch.Generator | None = None) -> tuple[
        torch.Tensor, str]:
    """The dense (1, C, H, W) float32 network input for ``config`` and a description of it. Semantic models get
    random piecewise-constant label and instance maps turned into one-hot + instance edge; RGB models get a
    random image in [-1, 1]."""
    generator = generator or torch.Generator().manual_seed(0)
    if input_kind(config) is InputKind.PHOTO:
        channels = config.input_spec().channels
        return torch.rand(1, channels, height, width, generator=generator) * 2 - 1, f"RGB image ({channels} ch)"
    n_labels, edge = semantic_layout(config)
    dense = dense_semantic(*random_label_maps(height, width, n_labels, generator=generator), n_labels, edge)
    what = f"one-hot labels + instance edge ({n_labels + 1} ch)" if edge else f"one-hot labels ({n_labels} ch)"
    return dense, what + ", built outside the timing"


def prepare_call(model: nn.Module, height: int, width: int, device: torch.device, dtype: torch.dtype,
                 channels_last: bool = False, label_input: str = "dense",
                 generator: torch.Generator | None = None) -> tuple[Callable[..., Any], tuple[torch.Tensor, ...], str]:
    """(function, its arguments, description) for one timed call of ``model`` (already on device and dtype).

    ``label_input="dense"`` (default): every model gets its dense input, prepared once outside the timing.
    ``label_input="ids"``: semantic models get integer label and instance ids and the timing includes turning
    them into the network input: ``forward_labels`` where the model has it (ASAP-Net), else one-hot + edge + forward.
    """
    generator = generator or torch.Generator().manual_seed(0)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    kind = input_kind(model.config)
    if label_input not in ("dense", "ids"):
        raise PixelwiseError(f"label_input={label_input!r}: use 'dense' or 'ids'")
    if kind is InputKind.PHOTO or label_input == "dense":
        x, what = benchmark_input(model.config, height, width, generator)
        return model, (x.to(device=device, dtype=dtype).contiguous(memory_format=memory_format),), what
    n_labels, edge = semantic_layout(model.config)
    label, instance = (t.to(device) for t in random_label_maps(height, width, n_labels, generator=generator))
    if model.config.input_spec().label_fast_path:
        return model.forward_labels, (label, instance), "label + instance ids -> forward_labels (all inside the timing)"

    def from_ids(label: torch.Tensor, instance: torch.Tensor) -> torch.Tensor:
        dense = dense_semantic(label, instance, n_labels, edge).to(dtype).contiguous(memory_format=memory_format)
        return model(dense)

    return from_ids, (label, instance), "label + instance ids -> one-hot + edge -> forward (all inside the timing)"


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return "out of memory"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}: {first}"[:300]


# --- the benchmark -----------------------------------------------------------------------------------------
def _base_record(name: str, height: int, width: int, device: torch.device, dtype_name: str, runs: int,
                 warmup: int, channels_last: bool, compile: bool, options: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        "model": name, "height": height, "width": width, "dtype": dtype_name, "device": device.type,
        "device_name": describe_device(device, "short"), "torch_version": torch.__version__, "batch": 1,
        "channels_last": channels_last, "compile": compile, "runs": runs, "warmup": warmup,
        "options": dict(options or {}), "input": None, "params": None, "gflops": None, "median_ms": None,
        "min_ms": None, "mean_ms": None, "peak_memory_mb": None, "memory_measure": None,
        "speedup_vs_pix2pixhd": None, "speedup_vs_deblurgan": None, "input_kind": None, "error": None,
        "hr_backend": None, "lowres_channels_last": None, "lowres_cuda_graphs": None, "lowres_compile": None,
        "cpu": describe_cpu(), "load": machine_load(), "cpu_ms": None,
    }


def bench_one(name: str, height: int, width: int, device: torch.device, dtype: torch.dtype, runs: int,
              warmup: int, channels_last: bool = False, compile: bool = False, compile_backend: str = "inductor",
              options: Mapping[str, Any] | None = None, seed: int = 0, label_input: str = "dense",
              hr_backend: str = "auto", lowres: Mapping[str, bool] | None = None) -> dict[str, Any]:
    """Benchmark one model at one size; errors become an ``error`` field (never raised). ``hr_backend`` and
    ``lowres`` (options of :func:`pixelwise.kernels.lowres.configure_lowres`) apply to ASAP-Net models only."""
    from pixelwise.registry import create_model

    record = _base_record(name, height, width, device, dtype_name(dtype), runs, warmup, channels_last, compile, options)
    try:
        model = create_model(name, **dict(options or {})).eval()
        record["params"] = sum(p.numel() for p in model.parameters())
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        model = model.to(device=device, dtype=dtype, memory_format=memory_format)
        record.update(apply_execution(model, device, hr_backend, lowres))
        fn, args, record["input"] = prepare_call(model, height, width, device, dtype, channels_last, label_input,
                                                 torch.Generator().manual_seed(seed))
        record["gflops"] = count_flops(fn, *args) / 1e9  # also the first (eager) call: checks the size
        compiled = torch.compile(fn, backend=compile_backend) if compile else fn
        record.update(measure(lambda: compiled(*args), device, runs, warmup))
    except (RuntimeError, ValueError, TypeError, NotImplementedError, PixelwiseError) as exc:
        record["error"] = _error_text(exc)
    finally:
        model = fn = args = compiled = None  # drop the references before freeing cached device memory
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return record


def apply_execution(model: nn.Module, device: torch.device, hr_backend: str = "auto",
                    lowres: Mapping[str, bool] | None = None) -> dict[str, Any]:
    """ASAP-Net execution options (high-res backend, low-res stream options) set on ``model``; the record fields.
    The reference high-res path never uses a kernel, so it records ``torch``."""
    from pixelwise.kernels import install
    from pixelwise.kernels.lowres import configure_lowres
    from pixelwise.models.asapnet import ASAPNetGenerator

    if not isinstance(model, ASAPNetGenerator):
        return {}
    reference = model.hr_path == "reference"
    fields: dict[str, Any] = {"hr_backend": install(model, "torch" if reference else hr_backend, device)}
    fields.update(configure_lowres(model, device=device, **dict(lowres or {})))
    return fields


def add_speedups(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill ``speedup_vs_pix2pixhd`` / ``speedup_vs_deblurgan`` from references in the same run and setting."""

    def key(r: Mapping[str, Any]) -> tuple:
        return (r["height"], r["width"], r["dtype"], r["device"], r["channels_last"], r["compile"])

    # every model against pix2pixHD; RGB (deblurring) models also against DeblurGAN
    for field, reference, kinds in (("speedup_vs_pix2pixhd", REFERENCE_MODEL, tuple(InputKind)),
                                    ("speedup_vs_deblurgan", DEBLUR_REFERENCE_MODEL, (InputKind.PHOTO,))):
        base = {key(r): r["median_ms"] for r in records if r["model"] == reference and r["median_ms"]}
        for r in records:
            if r["median_ms"] and key(r) in base and InputKind(r.get("input_kind") or "photo") in kinds:
                r[field] = base[key(r)] / r["median_ms"]
    return records


def run_benchmark(models: Sequence[str] | None = None, sizes: Iterable[tuple[int, int]] | None = None,
                  device: str | torch.device = "cpu", dtype: str = "float32", runs: int = 10, warmup: int = 3,
                  channels_last: bool = False, compile: bool = False, compile_backend: str = "inductor",
                  model_options: Mapping[str, Mapping[str, Any]] | None = None, tiny: bool = False, seed: int = 0,
                  label_input: str = "dense", hr_backend: str = "auto", lowres: Mapping[str, bool] | None = None,
                  progress: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Benchmark ``models`` (default: :func:`default_models`) at ``sizes`` (default: 256x512, 512x1024,
    1024x2048 for label-map models, 720x1280 for RGB models). Returns one record per (model, size)."""
    from pixelwise.registry import get_entry, model_config

    models = list(models) if models else default_models()
    for name in models:
        get_entry(name)  # unknown names fail before any work
    if dtype not in DTYPES:
        raise PixelwiseError(f"dtype {dtype!r}: choose one of {sorted(DTYPES)}")
    if label_input not in ("dense", "ids"):
        raise PixelwiseError(f"label_input={label_input!r}: use 'dense' or 'ids'")
    if runs < 1 or warmup < 0:
        raise PixelwiseError(f"need runs >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    check_options(models, model_options)
    device = resolve_device(device)
    check_execution(device, hr_backend, lowres)
    size_list = [tuple(s) for s in sizes] if sizes is not None else None
    cudnn_benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = device.type == "cuda"
    records: list[dict[str, Any]] = []
    try:
        for name in models:
            kind = input_kind(model_config(name))
            for height, width in size_list or (LABEL_SIZES if kind is InputKind.LABELS else DEBLUR_SIZES):
                try:
                    options = model_options_for(name, height, width, tiny, model_options)
                except (ValueError, PixelwiseError) as exc:
                    record = _base_record(name, height, width, device, dtype, runs, warmup, channels_last, compile,
                                          None)
                    record["error"] = _error_text(exc)
                else:
                    record = bench_one(name, height, width, device, DTYPES[dtype], runs, warmup, channels_last,
                                       compile, compile_backend, options, seed, label_input, hr_backend, lowres)
                record["input_kind"] = kind.value
                records.append(record)
                if progress is not None:
                    progress(record)
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark
    return add_speedups(records)


def check_execution(device: torch.device, hr_backend: str, lowres: Mapping[str, bool] | None) -> None:
    """Execution options that cannot run on ``device`` fail before any work."""
    from pixelwise.kernels import BACKENDS, available_backends

    if hr_backend not in ("auto", *BACKENDS):
        raise PixelwiseError(f"--hr-backend {hr_backend!r}: use auto, {', '.join(BACKENDS)}")
    if hr_backend != "auto" and hr_backend not in available_backends(device):
        raise PixelwiseError(f"--hr-backend {hr_backend} cannot run on {device.type} here; use --hr-backend torch")
    if (lowres or {}).get("cuda_graphs") and device.type != "cuda":
        raise PixelwiseError("--lowres-cuda-graphs needs --device cuda")


# --- output ------------------------------------------------------------------------------------------------
def _fmt(value: Any, spec: str, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, spec) + suffix


def format_markdown(records: Sequence[Mapping[str, Any]]) -> str:
    """A markdown table of benchmark records, with a header line saying what was measured."""
    if not records:
        return "_no benchmark records_\n"
    first = next((r for r in records if r.get("device_name")), records[0])
    measures = sorted({r.get("memory_measure") for r in records if r.get("memory_measure")})
    lines = [
        f"Device: {first.get('device_name', first.get('device'))}; "
        f"torch {first.get('torch_version', torch.__version__)}; "
        f"batch 1; median of {first.get('runs', '?')} runs after {first.get('warmup', '?')} warm-up calls; "
        "time = the generator call on the input named in the table.",
        f"CPU: {cpu_line(first['cpu']) if first.get('cpu') else 'not recorded'}; "
        f"load average {(first.get('load') or {}).get('load1', '?')} at the start (cpu ms = the process's CPU time "
        "per call, less sensitive to other load than the wall-clock median).",
        "Memory: " + ("; ".join(MEMORY_MEASURES.get(m, m) for m in measures) if measures else "not measured") + ".",
        "",
        "| model | size (HxW) | input | dtype | flags | params (M) | GFLOPs | median ms | cpu ms | peak MB "
        "| × vs pix2pixHD | × vs DeblurGAN | note |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in records:
        flags = ",".join(f for f, on in (("channels_last", r.get("channels_last")), ("compile", r.get("compile")),
                                         ("hr:triton", r.get("hr_backend") == "triton"),
                                         ("lr:channels_last", r.get("lowres_channels_last")),
                                         ("lr:cuda_graphs", r.get("lowres_cuda_graphs")),
                                         ("lr:compile", r.get("lowres_compile"))) if on) or "–"
        options = r.get("options") or {}
        note = r.get("error") or (f"S={options['downsampling']}" if "downsampling" in options else "")
        params = r.get("params")
        lines.append(
            f"| {r['model']} | {r['height']}x{r['width']} | {r.get('input') or '–'} | {r['dtype']} | {flags} "
            f"| {_fmt(params / 1e6 if params else None, '.3g')} | {_fmt(r.get('gflops'), '.3g')} "
            f"| {_fmt(r.get('median_ms'), '.2f')} | {_fmt(r.get('cpu_ms'), '.0f')} "
            f"| {_fmt(r.get('peak_memory_mb'), '.0f')} "
            f"| {_fmt(r.get('speedup_vs_pix2pixhd'), '.2f')} | {_fmt(r.get('speedup_vs_deblurgan'), '.2f')} "
            f"| {note.replace('|', '/')} |"
        )
    return "\n".join(lines) + "\n"


def write_json(records: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Write the records (a JSON list) atomically."""
    from pixelwise.fileio import atomic_write_json

    atomic_write_json(path, [dict(r) for r in records])
    return Path(path)


__all__ = [
    "DEBLUR_SIZES", "DEFAULT_MODELS", "LABEL_SIZES", "asapnet_grid", "bench_one", "benchmark_input",
    "default_models", "format_markdown", "model_options_for", "parse_size", "run_benchmark", "write_json",
]
