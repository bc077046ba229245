"""``--backend onnxruntime|auto`` for photo models (pixelwise.onnx_runtime): parity with torch through the whole
deblur path (padding, tiling), the cached graph (reused, keyed by the weights), the missing-extra line, the
``auto`` rule. One tiny random-weight DeblurGAN is exported once for the module (the export is the slow part)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import pixelwise
from pixelwise import photo16
from pixelwise.cli import main
from pixelwise.deblur import deblur_files
from pixelwise.errors import PixelwiseError
from pixelwise.extras import missing_modules
from pixelwise.inference import translate_image
from pixelwise.onnx_runtime import (
    BACKENDS,
    OnnxRuntimeForward,
    cached_onnx,
    choose_backend,
    graph_key,
    graph_path,
    model_folder,
    user_cache_dir,
    with_onnxruntime,
)

from .helpers import one_line_error, randomise_weights

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore::UserWarning")]
needs_ort = pytest.mark.skipif(bool(missing_modules("export")),
                               reason="onnxruntime / onnx / onnxscript not installed (pip install 'pixelwise[export]')")


def tiny_deblurgan(seed: int = 1, **options: object) -> torch.nn.Module:
    model = pixelwise.create_model("deblurgan", ngf=4, n_blocks=1, **options)
    return randomise_weights(model, seed=seed).eval()  # every layer matters, so a wrong graph shows


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny DeblurGAN with its graph exported once beside it."""
    folder = tmp_path_factory.mktemp("deblurgan") / "model"
    model = tiny_deblurgan()
    model.save_pretrained(folder)
    if not missing_modules("export"):
        cached_onnx(model, folder)
    return folder


def photo16_file(path: Path, height: int, width: int, seed: int = 0) -> Path:
    samples = np.random.default_rng(seed).integers(0, 65536, (height, width, 3), dtype=np.uint16)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(photo16.encode_png(samples))
    return path


def test_backend_names_agree() -> None:
    from pixelwise.commands.runtime_args import BACKEND_NAMES

    assert BACKEND_NAMES == BACKENDS


@needs_ort
def test_deblur_parity_through_padding_and_tiles(tmp_path: Path, model_dir: Path) -> None:
    """A 16-bit photo of an odd size (padded to the multiple), whole and in tiles: onnxruntime's output file equals
    torch's to 1e-4 (16 bits keep the difference visible; one step is 1.5e-5)."""
    src = photo16_file(tmp_path / "in" / "odd.png", 37, 53)
    for tile in (None, 24):
        outs = {}
        for backend in ("torch", "onnxruntime"):
            out_dir = tmp_path / f"{backend}-{tile}"
            written = deblur_files([src], out_dir, model=model_dir, tile=tile, overlap=8, backend=backend,
                                   progress=False)
            outs[backend] = photo16.read_16bit(written[0]).astype(np.float64) / 65535
        assert outs["torch"].shape == (37, 53, 3)
        assert np.abs(outs["torch"] - src_values(src)).max() > 0.05  # the model changes the photo
        assert np.abs(outs["torch"] - outs["onnxruntime"]).max() <= 1e-4


def src_values(path: Path) -> np.ndarray:
    return photo16.read_16bit(path).astype(np.float64) / 65535


@needs_ort
def test_translate_image_parity_and_threads(model_dir: Path) -> None:
    model = pixelwise.from_pretrained(model_dir)
    runner = with_onnxruntime(model, model_dir, threads=1)
    x = torch.rand(1, 3, 29, 42, generator=torch.Generator().manual_seed(3)) * 2 - 1
    for tile in (None, 16):
        expected = translate_image(model, x, tile=tile, overlap=8)
        got = translate_image(runner, x, tile=tile, overlap=8)
        assert got.shape == expected.shape == (1, 3, 29, 42)
        assert (got - expected).abs().max() <= 1e-4
    forward = runner.forward
    assert isinstance(forward, OnnxRuntimeForward)
    assert forward.session.get_session_options().intra_op_num_threads == 1
    assert not isinstance(model.forward, OnnxRuntimeForward)  # the torch model is left as it was


@needs_ort
def test_the_cached_graph_is_reused_and_keyed_by_the_weights(tmp_path: Path, model_dir: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    model = pixelwise.from_pretrained(model_dir)
    path = graph_path(model, model_dir)
    assert path.parent == model_dir and path.is_file()  # beside the model: its folder is writable
    before = path.stat()
    src = photo16_file(tmp_path / "in" / "a.png", 20, 24)
    assert main(["deblur", str(src), "--model", str(model_dir), "-o", str(tmp_path / "out"), "--backend",
                 "onnxruntime", "--threads", "1", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "backend: onnxruntime" in err and "cached" in err and "exported" not in err.replace("exported on", "")
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
    assert [p.name for p in model_dir.glob("*.onnx")] == [path.name]  # no second file
    changed = tiny_deblurgan()
    with torch.no_grad():
        next(changed.parameters()).view(-1)[0] += 1e-3  # one weight
    assert graph_key(changed) != graph_key(model) and graph_path(changed, model_dir) != path
    assert graph_key(tiny_deblurgan()) == graph_key(model)  # same weights, config and settings: same key
    assert graph_key(tiny_deblurgan(norm="batch")) != graph_key(model)


def test_the_graph_goes_to_the_user_cache_for_shipped_and_read_only_models(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from pixelwise import hub

    monkeypatch.setenv("PIXELWISE_CACHE", str(tmp_path / "cache"))
    model = tiny_deblurgan()
    assert user_cache_dir() == tmp_path / "cache" / "onnx"
    assert graph_path(model, None).parent == tmp_path / "cache" / "onnx"
    shipped = tmp_path / "pretrained" / "small"
    model.save_pretrained(shipped)
    monkeypatch.setattr(hub, "PACKAGED_ROOT", (tmp_path / "pretrained").resolve())
    assert model_folder(shipped) is None  # package data is never written into
    assert model_folder(tmp_path / "nowhere") is None
    own = tmp_path / "own"
    model.save_pretrained(own)
    assert model_folder(own) == own.resolve()
    assert graph_path(model, own).parent == own
    monkeypatch.setattr("pixelwise.onnx_runtime.os.access", lambda *a: False)  # a folder we may not write
    assert graph_path(model, own).parent == tmp_path / "cache" / "onnx"


def test_missing_onnxruntime_is_one_line_before_any_work(tmp_path: Path, model_dir: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture) -> None:
    import pixelwise.models.io as model_io

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails, find_spec finds nothing
    monkeypatch.setattr(model_io, "load_generator", lambda *a, **k: pytest.fail("no model may be loaded"))
    src = photo16_file(tmp_path / "in" / "a.png", 20, 24)
    for command in (["deblur", str(src), "--model", str(model_dir)], ["infer", str(model_dir), str(src)]):
        assert main([*command, "-o", str(tmp_path / "out"), "--backend", "onnxruntime"]) == 2
        err = one_line_error(capsys)
        assert "onnxruntime" in err and 'pip install "pixelwise[export]"' in err, err
    assert not (tmp_path / "out").exists()
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    backend, why = choose_backend(tiny_deblurgan(), "auto", "cpu")  # auto falls back and says why
    assert backend == "torch" and 'pip install "pixelwise[export]"' in why


@needs_ort
def test_auto_picks_onnxruntime_for_deblurgan_only() -> None:
    assert choose_backend(tiny_deblurgan(), "auto", "cpu")[0] == "onnxruntime"
    unet = pixelwise.create_model("deblurgan", architecture="unet", unet_width=4, unet_enc_blocks=(1,),
                                  unet_dec_blocks=(1,), unet_middle_blocks=1)
    assert choose_backend(unet, "auto", "cpu")[0] == "onnxruntime"
    asap = pixelwise.create_model("deblurgan-asap", lr_width=8, lr_max_width=8, lr_depth=1, hr_width=8, hr_depth=2)
    backend, why = choose_backend(asap, "auto", "cpu")
    assert backend == "torch" and "not measured faster" in why
    assert choose_backend(asap, "onnxruntime", "cpu")[0] == "onnxruntime"  # asked for: runs
    labels = pixelwise.create_model("asapnet", label_nc=4, lr_width=8, lr_max_width=8, lr_depth=1, hr_width=8,
                                    hr_depth=2)
    assert choose_backend(labels, "auto", "cpu")[0] == "torch"
    with pytest.raises(PixelwiseError, match="photo models only"):
        choose_backend(labels, "onnxruntime", "cpu")
    backend, why = choose_backend(tiny_deblurgan(), "auto", "cpu", "bfloat16")
    assert backend == "torch" and "float32" in why
    with pytest.raises(PixelwiseError, match="float32"):
        choose_backend(tiny_deblurgan(), "onnxruntime", "cpu", "float16")
    with pytest.raises(PixelwiseError, match="--compile"):
        choose_backend(tiny_deblurgan(), "onnxruntime", "cpu", torch_only="--compile")
    assert choose_backend(tiny_deblurgan(), "torch", "cpu")[0] == "torch"


@needs_ort
def test_auto_in_the_command_says_which_backend_ran(tmp_path: Path, model_dir: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    src = photo16_file(tmp_path / "in" / "a.png", 20, 24)
    assert main(["infer", str(model_dir), str(src), "-o", str(tmp_path / "out"), "--backend", "auto",
                 "--device", "cpu", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("backend: ") == 1 and "backend: onnxruntime (--backend auto" in err
    assert (tmp_path / "out" / "a.png").is_file()


@needs_ort
def test_the_memory_check_counts_onnxruntimes_larger_peak() -> None:
    """onnxruntime's arena needs more than torch's estimate (OOM at 12 MP untiled): the up-front check doubles it."""
    from pixelwise.limits import upper_bound_bytes

    model = tiny_deblurgan()
    runner = with_onnxruntime(model)
    assert upper_bound_bytes(runner, 3, 1, 3000, 4000) >= 2 * upper_bound_bytes(model, 3, 1, 3000, 4000) - 1
