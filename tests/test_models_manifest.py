"""pixelwise.models.manifest: every loader of run / checkpoint dirs verifies the manifest; config.json that does not
fit its weights, and invalid configs, are one line naming the tensor, both shapes and the likely field."""

from __future__ import annotations

import json

import pytest

from pixelwise.cli import main
from pixelwise.errors import PixelwiseError
from pixelwise.models.io import load_generator
from pixelwise.registry import create_model
from pixelwise.train import checkpoint
from pixelwise.train.recipes import init_generator

from .helpers import one_line_error, save_photo


def _run_with_two_checkpoints(tmp_path):
    run = tmp_path / "run"
    for step in (2, 4):
        g = create_model("deblurgan", ngf=4, n_blocks=1)
        d = create_model("patchgan", ndf=4, n_layers=1)
        checkpoint.save_checkpoint(run, step, g, d, {"step": step}, {"run_config": {}})
    return run


def _flip_one_bit(path):
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x40  # inside the last tensor: same size, still valid safetensors
    path.write_bytes(bytes(data))


@pytest.fixture
def damaged_run(tmp_path):
    run = _run_with_two_checkpoints(tmp_path)
    _flip_one_bit(run / "checkpoints" / "step_4" / "generator.safetensors")
    return run


def test_infer_refuses_a_bit_flipped_checkpoint_and_names_the_intact_one(damaged_run, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["infer", str(damaged_run), str(save_photo(tmp_path / "in.png")), "-o", str(out), "--quiet"]) == 2
    err = one_line_error(capsys)
    step4, step2 = damaged_run / "checkpoints" / "step_4", damaged_run / "checkpoints" / "step_2"
    assert f"{step4 / 'generator.safetensors'} does not match the SHA-256" in err
    assert f"newest intact earlier checkpoint is {step2}" in err
    assert not out.exists() or not list(out.iterdir())
    # the intact one it names loads; so does the damaged one's own dir after a good copy is restored
    assert main(["infer", str(step2), str(tmp_path / "in.png"), "-o", str(out), "--quiet"]) == 0


def test_export_init_from_and_the_shared_loader_verify_too(damaged_run, tmp_path, capsys):
    assert main(["export", str(damaged_run), "-o", str(tmp_path / "m.onnx"), "--no-verify"]) == 2
    assert "step_4" in one_line_error(capsys)
    assert not (tmp_path / "m.onnx").exists()
    with pytest.raises(PixelwiseError, match="model.init_from=.*does not match the SHA-256.*step_2"):
        init_generator(create_model("deblurgan", ngf=4, n_blocks=1), str(damaged_run))
    with pytest.raises(PixelwiseError, match="step_2"):  # eval and study open models through this function
        load_generator(damaged_run / "checkpoints" / "step_4")


def test_no_intact_checkpoint_and_partial_copy(tmp_path):
    run = _run_with_two_checkpoints(tmp_path)
    for step in (2, 4):
        path = run / "checkpoints" / f"step_{step}" / "generator.safetensors"
        path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(PixelwiseError, match="bytes but manifest.json records .*no earlier checkpoint"):
        load_generator(run)


def test_model_dirs_without_manifest_load_as_before(tmp_path):
    create_model("deblurgan", ngf=4, n_blocks=1).save_pretrained(tmp_path / "m")
    assert load_generator(tmp_path / "m").registry_name == "deblurgan"


# --- 11.3 ------------------------------------------------------------------------------------------------
def _model_dir(tmp_path, **config):
    create_model("deblurgan", ngf=8, n_blocks=1).save_pretrained(tmp_path / "m")
    record = json.loads((tmp_path / "m" / "config.json").read_text())
    record["config"].update(config)
    (tmp_path / "m" / "config.json").write_text(json.dumps(record))
    return tmp_path / "m"


def test_config_that_does_not_fit_its_weights_isone_line_error(tmp_path, capsys):
    model = _model_dir(tmp_path, ngf=16)
    assert main(["infer", str(model), str(save_photo(tmp_path / "in.png")), "-o", str(tmp_path / "o"), "--quiet"]) == 2
    err = one_line_error(capsys)
    assert "tensor " in err and "has shape [8, 3, 7, 7] in the file but [16, 3, 7, 7]" in err
    assert "ngf=8 (config.json says 16)" in err and str(model / "config.json") in err


def test_negative_and_non_power_of_two_configs_fail_when_built(tmp_path, capsys):
    model = _model_dir(tmp_path, ngf=-8)
    assert main(["infer", str(model), str(save_photo(tmp_path / "in.png")), "-o", str(tmp_path / "o"), "--quiet"]) == 2
    assert "ngf=-8 is invalid" in one_line_error(capsys)
    with pytest.raises(PixelwiseError, match="power of two"):
        create_model("asapnet", downsampling=12)
    with pytest.raises(PixelwiseError, match="n_blocks=-1"):
        create_model("deblurgan", n_blocks=-1)
