"""The fused Triton high-res kernel (pixelwise.kernels.asapnet_hr_triton) against ASAP-Net's reference path.

On CPU it runs in Triton's interpreter, in a subprocess (TRITON_INTERPRET must be set before triton is imported):
every case of tests/triton_cases.py within its tolerance (float32 <= 1e-5). The CUDA tests run the same cases
at full size on a GPU and skip without one. The dispatch tests need no triton at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pixelwise.errors import PixelwiseError
from pixelwise.kernels import TRITON_VERIFIED_ON_GPU, available_backends, install
from pixelwise.kernels.pixel_mlp import triton_importable
from pixelwise.registry import create_model

from .triton_cases import FIXTURES, LAYOUTS, TINY, _labels, _randomise

ROOT = Path(__file__).resolve().parents[1]
needs_triton = pytest.mark.skipif(not triton_importable(), reason="triton is not installed")
needs_cuda = pytest.mark.skipif(not (torch.cuda.is_available() and triton_importable()), reason="needs a CUDA GPU")


def _model(name: str = "edge_lr_instance"):
    return _randomise(create_model("asapnet", **{**TINY, **LAYOUTS[name]}), 0)


@needs_triton
def test_interpreter_matches_reference():
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "triton_cases.py")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    names = {r["case"] for r in results}
    assert len(results) >= 35 and {"rgb_global_residual", "strided_params", "s64/labels", "no_edge_s2/dense",
                                   "half/bfloat16_psnr_loss_db", "no_encoding_smoothed/labels",
                                   "one_frequency/labels"} <= names, sorted(names)
    if FIXTURES.is_dir():  # absent on a GPU machine that gets only the checkout (see scripts/gpu_check.sh)
        assert {"fixture/asapnet_semantic/labels", "fixture/asapnet_reflect/labels",
                "fixture/asapnet_rgb/dense"} <= names, sorted(names)
    bad = [r for r in results if not r["err"] <= r["tol"]]
    assert not bad, bad


def test_auto_picks_torch_until_verified_on_a_gpu():
    model = _model()
    assert TRITON_VERIFIED_ON_GPU is False  # flip only after scripts/gpu_check.sh matched on a GPU
    for device in ("cpu", "cuda"):
        assert install(model, "auto", device) == "torch" and model.hr_kernel is None
    assert available_backends("cpu") == ["torch"] or os.environ.get("TRITON_INTERPRET") == "1"


def test_explicit_triton_where_it_cannot_run_is_an_error():
    model = _model()
    with pytest.raises(PixelwiseError, match="cannot run here"):
        install(model, "triton", "cpu")
    with pytest.raises(PixelwiseError, match="unknown high-res backend"):
        install(model, "cuda-fast")
    assert model.hr_kernel is None


@needs_triton
def test_unsupported_configurations_are_errors():
    from pixelwise.kernels.asapnet_hr_triton import TritonHRKernel

    for overrides, match in ((dict(hr_depth=1), "hr_depth"), (dict(hr_width=320), "hr_width")):
        with pytest.raises(PixelwiseError, match=match):
            TritonHRKernel.check_config(create_model("asapnet", **{**TINY, **LAYOUTS["no_edge_s2"],
                                                                   **overrides}).config)
    with pytest.raises(PixelwiseError, match="block_pixels"):
        TritonHRKernel(block_pixels=24)


def test_package_imports_without_triton():
    code = ("import sys; sys.modules['triton'] = None\n"
            "from pixelwise.kernels import available_backends, install\n"
            "from pixelwise.registry import create_model\n"
            "m = create_model('asapnet', label_nc=3, downsampling=4, learned_ds_factor=4)\n"
            "assert available_backends('cuda') == ['torch'] and install(m) == 'torch'\n"
            "try:\n    install(m, 'triton', 'cuda')\nexcept ValueError as e:\n    assert 'not installed' in str(e)\n"
            "else:\n    raise SystemExit('no error')\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("TRITON_INTERPRET", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_hook_runs_only_for_inference_and_never_under_tracing():
    model = _model()
    label, instance = _labels(model.config, 1, 16, 16)
    x = model.dense_input(label, instance)
    calls = []
    reference = model(x).detach()

    def spy(config, params, **inputs):
        calls.append(sorted(k for k, v in inputs.items() if v is not None))
        return reference[:, :, :, :]

    model.set_execution(hr_kernel=spy)
    model(x).sum().backward()  # training: gradients flow through the torch path
    assert not calls
    with torch.no_grad():
        assert torch.equal(model(x), reference) and calls == [["pixels"]]
        model.forward_labels(label, instance)
        assert calls[-1] == ["label"]  # lr_instance: the edge does not reach the MLP
        calls.clear()
        torch.jit.trace(model, (x,), check_trace=False)
    assert not calls


@pytest.fixture
def _no_tf32_convs():
    """The low-res stream's convolutions in IEEE float32 too (cuDNN allows TF32 by default), so the reference
    and the kernel see the same parameters."""
    previous = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32 = previous


@needs_cuda
@pytest.mark.usefixtures("_no_tf32_convs")
def test_cuda_matches_reference():
    from .triton_cases import run_cases

    results = list(run_cases(torch.device("cuda"), full=True))
    for case, err, tol in results:
        print(f"cuda case {case}: err {err:.3g} (tol {tol:g})")
    bad = [r for r in results if not r[1] <= r[2]]
    assert len(results) >= (34 if FIXTURES.is_dir() else 29) and not bad, bad


@needs_cuda
@pytest.mark.usefixtures("_no_tf32_convs")
def test_cuda_full_width_float32_is_ieee():
    """With allow_tf32 off (the default) float32 stays within 1e-5 of the reference at full width."""
    model = _randomise(create_model("asapnet", label_nc=5, downsampling=16, learned_ds_factor=16, lr_depth=1), 0)
    model = model.cuda()
    label, instance = (t.cuda() for t in _labels(model.config, 1, 64, 128))
    assert not torch.backends.cuda.matmul.allow_tf32
    model.set_execution(lowres_channels_last=True)  # as install("triton"): the same low-res convolutions for both
    with torch.no_grad():
        model.hr_path = "reference"
        reference = model(model.dense_input(label, instance))
        model.hr_path = "fast"
        install(model, "triton", "cuda")
        assert (model.forward_labels(label, instance) - reference).abs().max() <= 1e-5


def test_lowres_options_and_bench_execution_fields():
    from pixelwise.bench import run_benchmark
    from pixelwise.kernels.lowres import CUDAGraphed, configure_lowres

    model = _model()
    label, instance = _labels(model.config, 1, 16, 16)
    x = model.dense_input(label, instance)
    with torch.no_grad():
        reference = model(x)
        assert configure_lowres(model, channels_last=True) == {"lowres_channels_last": True,
                                                               "lowres_cuda_graphs": False, "lowres_compile": False}
        assert (model(x) - reference).abs().max() <= 1e-5
    with pytest.raises(PixelwiseError, match="CUDA"):
        configure_lowres(model, cuda_graphs=True)
    graphed = CUDAGraphed(lambda t: t * 2)  # CPU tensors (and gradients) run eagerly
    assert torch.equal(graphed(torch.ones(2)), torch.full((2,), 2.0)) and not graphed._graphs
    if os.environ.get("TRITON_INTERPRET", "0") in ("", "0"):
        with pytest.raises(PixelwiseError, match="hr-backend triton"):
            run_benchmark(["asapnet"], [(32, 64)], device="cpu", hr_backend="triton", tiny=True)
    records = run_benchmark(["asapnet", "pix2pixhd"], [(32, 64)], device="cpu", runs=1, warmup=0, tiny=True,
                            lowres={"channels_last": True})
    assert [r["error"] for r in records] == [None, None]
    assert records[0]["hr_backend"] == "torch" and records[0]["lowres_channels_last"] is True
    assert records[1]["hr_backend"] is None and records[1]["lowres_compile"] is None
