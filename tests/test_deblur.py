"""`pixelwise deblur`: the shipped default deblurrer (a fake one in tmp_path here), any photo -> photo model
folder with --model, one-line refusals before any work (default not shipped, label-map model, missing input),
fp16 weights loading into a float32 model, and the model card's extra sections."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import save_file

import pixelwise
from pixelwise import hub
from pixelwise.cli import main
from pixelwise.deblur import DEFAULT_DEBLUR_MODEL, deblur_files
from pixelwise.errors import PixelwiseError
from pixelwise.models import card
from pixelwise.models.io import write_model_card
from pixelwise.registry import get_entry

DEFAULT_SHORT = DEFAULT_DEBLUR_MODEL.split("/")[1]


def identity_deblurgan(directory: Path) -> Path:
    """An untrained deblurgan whose last conv is 0: with learn_residual its output is its input."""
    torch.manual_seed(0)
    model = pixelwise.create_model("deblurgan", ngf=4, n_blocks=1, zero_init_output=True, learn_residual=True)
    model.save_pretrained(directory)
    return directory


def photo(path: Path, height: int = 20, width: int = 27, seed: int = 0) -> np.ndarray:
    array = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return array


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def packaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty stand-in for the package's pretrained/ folder."""
    root = tmp_path / "pretrained"
    root.mkdir()
    monkeypatch.setattr(hub, "PACKAGED_ROOT", root)
    monkeypatch.setattr(hub, "download", lambda *a, **k: pytest.fail("nothing may be downloaded"))
    return root


def test_deblur_with_a_model_folder_runs_the_model(tmp_path: Path, one_thread: None) -> None:
    model = identity_deblurgan(tmp_path / "model")
    images = {name: photo(tmp_path / "in" / f"{name}.png", seed=i) for i, name in enumerate(("a", "b"))}
    assert main(["deblur", str(tmp_path / "in"), "--model", str(model), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    for name, array in images.items():
        out = np.asarray(Image.open(tmp_path / "out" / f"{name}.png").convert("RGB")).astype(int)
        assert out.shape == array.shape  # 20x27 padded to the multiple 4 and cropped back
        assert np.abs(out - array).max() <= 1  # the identity model: output == input within 1/255


def test_the_default_is_the_shipped_model(tmp_path: Path, packaged: Path, one_thread: None,
                                          capsys: pytest.CaptureFixture) -> None:
    identity_deblurgan(packaged / DEFAULT_SHORT)
    array = photo(tmp_path / "p.png")
    assert main(["deblur", str(tmp_path / "p.png"), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    out = np.asarray(Image.open(tmp_path / "out" / "p.png").convert("RGB")).astype(int)
    assert np.abs(out - array).max() <= 1
    capsys.readouterr()
    assert main(["models"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if DEFAULT_DEBLUR_MODEL in line]
    assert len(listed) == 1 and "deblurgan" in listed[0] and "shipped" in listed[0] and "default" in listed[0]


def test_a_default_model_that_is_not_shipped_is_one_line(tmp_path: Path, packaged: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    identity_deblurgan(packaged / "something-else")
    photo(tmp_path / "p.png")
    assert main(["deblur", str(tmp_path / "p.png"), "-o", str(tmp_path / "out")]) == 2
    line = one_error_line(capsys)
    assert DEFAULT_DEBLUR_MODEL in line and "not shipped" in line and "--model DIR" in line
    assert "pixelwise/something-else" in line  # what this install does ship
    assert not (tmp_path / "out").exists()


def test_a_label_map_model_is_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    labels = pixelwise.create_model("pix2pixhd", **get_entry("pix2pixhd").config_cls.tiny_options())
    labels.save_pretrained(tmp_path / "labels")
    photo(tmp_path / "p.png")
    assert main(["deblur", str(tmp_path / "p.png"), "--model", str(tmp_path / "labels"),
                 "-o", str(tmp_path / "out")]) == 2
    line = one_error_line(capsys)
    assert str(tmp_path / "labels") in line and "label-map model" in line and "pixelwise/deblurgan-small" in line
    assert not (tmp_path / "out").exists()


def test_missing_inputs_and_models_are_one_line(tmp_path: Path, packaged: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    # a missing photo is reported first, even when no default model is shipped
    assert main(["deblur", str(tmp_path / "nope.png"), "-o", str(tmp_path / "out")]) == 2
    line = one_error_line(capsys)
    assert "nope.png" in line and "does not exist" in line
    photo(tmp_path / "p.png")
    assert main(["deblur", str(tmp_path / "p.png"), "--model", str(tmp_path / "no-model"),
                 "-o", str(tmp_path / "out")]) == 2
    assert "no-model" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_fp16_weights_load_into_a_float32_model(tmp_path: Path, packaged: Path, one_thread: None) -> None:
    torch.manual_seed(1)
    model = pixelwise.create_model("deblurgan-asap", **get_entry("deblurgan-asap").config_cls.tiny_options())
    folder = packaged / DEFAULT_SHORT
    model.save_pretrained(folder)
    half = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    save_file({k: v.contiguous() for k, v in half.items()}, str(folder / "model.safetensors"))
    loaded = pixelwise.from_pretrained(DEFAULT_DEBLUR_MODEL)
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, half[key].float()), key
    assert not all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())  # really fp16
    photo(tmp_path / "p.png", 32, 32)
    written = deblur_files([tmp_path / "p.png"], tmp_path / "out", progress=False)
    assert [p.name for p in written] == ["p.png"] and Image.open(written[0]).size == (32, 32)


def test_deblur_files_refuses_a_label_module() -> None:
    labels = pixelwise.create_model("pix2pixhd", **get_entry("pix2pixhd").config_cls.tiny_options())
    with pytest.raises(PixelwiseError, match="label-map model"):
        deblur_files([__file__], "unused", model=labels)


def front(text: str) -> dict:
    return yaml.safe_load(text.split("---\n")[1])


def test_card_sections_training_and_results(tmp_path: Path) -> None:
    record = {"model": "deblurgan", "config": {"ngf": 4}}
    training = card.training_section("pixelwise train deblurgan-small --run-dir runs/x", budget="4000 steps",
                                     data="bundled photos", hardware="2-core CPU")
    table = card.markdown_table(["input", "PSNR dB", "SSIM"], [["blurred", 27.5, 0.8123], ["model", 29.0, None]],
                                digits=3)
    text = card.model_card(record, parameters=10, sections=[("Training", training), ("Results", table)],
                           metric_names=["psnr@0.5", "ssim@0.5"], datasets=["wallpapers"], title="Deblur small")
    meta = front(text)
    assert meta["library_name"] == "pixelwise" and meta["license"] == "mit"
    assert meta["metrics"] == ["psnr", "ssim"] and meta["datasets"] == ["wallpapers"]
    assert "deblurring" in meta["tags"]
    assert "# Deblur small\n" in text and card.MARK in text
    body = text.split(card.MARK, 1)[1]
    assert body.index("## Training") < body.index("## Results") < body.index("## Architecture config")
    assert "```bash\npixelwise train deblurgan-small --run-dir runs/x\n```" in text
    assert "- **Budget**: 4000 steps" in text and "- **Hardware**: 2-core CPU" in text
    assert "| input | PSNR dB | SSIM |\n|---|---:|---:|\n| blurred | 27.500 | 0.812 |\n| model | 29.000 |  |" in text
    with pytest.raises(ValueError, match="cells"):
        card.markdown_table(["a", "b"], [[1]])
    # the old call keeps working: no sections, no extra metrics
    plain = card.model_card(record)
    assert "## Training" not in plain and "metrics:" not in plain


def test_write_model_card_rewrites_only_pixelwise_cards(tmp_path: Path) -> None:
    folder = identity_deblurgan(tmp_path / "m")
    weights = (folder / "model.safetensors").read_bytes()
    assert write_model_card(folder, sections={"Results": "measured: yes"}, summary="A tiny deblurrer.")
    text = (folder / "README.md").read_text()
    assert "## Results\n\nmeasured: yes" in text and "A tiny deblurrer." in text
    assert (folder / "model.safetensors").read_bytes() == weights
    assert json.loads((folder / "config.json").read_text())["model"] == "deblurgan"
    (folder / "README.md").write_text("my own card\n")
    assert not write_model_card(folder, sections={"Results": "x"})
    assert (folder / "README.md").read_text() == "my own card\n"


def test_updating_a_card_keeps_its_other_sections(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    identity_deblurgan(folder)
    assert write_model_card(folder, sections={"Training": "trained for 4 steps"}, metrics={"psnr@0.5": 30.0})
    assert write_model_card(folder, update=True, sections={"Results": "first"}, metric_names=["ssim@0.5", "psnr"])
    assert write_model_card(folder, update=True, sections={"Results": "second"})
    text = (folder / "README.md").read_text()
    assert "trained for 4 steps" in text and "second" in text and "first" not in text
    assert text.count("## Results") == 1
    assert text.index("## Training") < text.index("## Results") < text.index("## Architecture config")
    assert front(text)["metrics"] == ["psnr", "ssim"] and front(text)["library_name"] == "pixelwise"
    assert '"ngf": 4' in text  # the architecture config is still there


def test_save_pretrained_can_store_float16_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    torch.manual_seed(2)
    model = pixelwise.create_model("deblurgan", ngf=4, n_blocks=1, norm="batch")  # int64 num_batches_tracked too
    model.save_pretrained(tmp_path / "half", weights_dtype=torch.float16)
    stored = load_file(str(tmp_path / "half" / "model.safetensors"))
    assert {v.dtype for v in stored.values()} == {torch.float16, torch.int64}
    loaded = pixelwise.from_pretrained(tmp_path / "half")
    for key, value in model.state_dict().items():
        assert loaded.state_dict()[key].dtype == value.dtype, key
        assert torch.equal(loaded.state_dict()[key], value.half().to(value.dtype) if value.is_floating_point()
                           else value), key
    with pytest.raises(PixelwiseError, match="floating dtype"):
        model.save_pretrained(tmp_path / "bad", weights_dtype=torch.int8)
    assert not (tmp_path / "bad").exists()


# --- --scale: the model at a reduced scale, its correction added back at full size --------------------------
class _AddConstant(torch.nn.Module):
    size_multiple = 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-2] % 8 == 0 and x.shape[-1] % 8 == 0  # padded to the model's multiple inside
        return x + 0.1


def test_at_scale_keeps_detail_and_resamples_only_the_change():
    from pixelwise.deblur import at_scale

    x = torch.rand(1, 3, 37, 50) * 1.6 - 0.8
    model = _AddConstant()
    assert at_scale(model, 1.0) is model
    scaled = at_scale(model, 0.25)
    out = scaled(x)
    assert out.shape == x.shape
    assert torch.allclose(out, x + 0.1, atol=1e-5)  # a constant change upsamples to itself; x's detail is kept
    identity = at_scale(torch.nn.Identity(), 0.5)
    assert torch.allclose(identity(x), x, atol=1e-6)
    with pytest.raises(PixelwiseError, match="--scale"):
        at_scale(model, 0.0)


def test_deblur_command_scale_flag(tmp_path):
    from PIL import Image

    model = pixelwise.create_model("deblurgan", ngf=4, n_blocks=1, zero_init_output=True)
    model.save_pretrained(str(tmp_path / "m"))
    photo = (np.random.default_rng(0).random((30, 44, 3)) * 255).astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "p.png")
    assert main(["deblur", str(tmp_path / "p.png"), "-o", str(tmp_path / "out"), "--model", str(tmp_path / "m"),
                 "--scale", "0.5", "--quiet"]) == 0
    out = np.asarray(Image.open(next((tmp_path / "out").glob("p*.png"))))
    assert out.shape == photo.shape and np.abs(out.astype(int) - photo).max() <= 1  # identity model: unchanged
