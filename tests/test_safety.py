"""pixelwise.safety and the checks before work: inputs are checked before any output is written; the real
problem is reported first; junk VGG files and crafted TorchScript archives are explained; export reports its
parity check."""

from __future__ import annotations

import pickle
import warnings
import zipfile

import pytest
import torch

from pixelwise.cli import main
from pixelwise.errors import PixelwiseError
from pixelwise.registry import create_model
from pixelwise.safety import check_torchscript_archive, pickle_globals

from .helpers import save_photo


def test_infer_checks_every_input_before_writing_any(tmp_path, capsys):
    create_model("deblurgan", ngf=4, n_blocks=1).save_pretrained(tmp_path / "m")
    good = [save_photo(tmp_path / f"a{i}.png") for i in range(2)]
    (tmp_path / "b.png").write_text("junk")
    data = good[0].read_bytes()
    (tmp_path / "c.png").write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    assert main(["infer", str(tmp_path / "m"), *map(str, good), str(tmp_path / "b.png"), str(tmp_path / "c.png"),
                 "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().split("\n")
    assert "2 of 4 inputs cannot be used; nothing was written" in err[0] and len(err) == 3
    assert "b.png" in err[1] and "c.png is truncated" in err[2]
    assert not out.exists() or not list(out.iterdir())


def test_blur_checks_every_photo_before_writing_any(tmp_path, capsys):
    sharp = tmp_path / "sharp"
    sharp.mkdir()
    save_photo(sharp / "a.png", 32, 32)
    (sharp / "z.png").write_text("junk")
    out = tmp_path / "out"
    assert main(["blur", str(sharp), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "z.png" in err and "nothing was written" in err
    assert not out.exists()


def test_photo_given_to_a_label_model_says_so_first(tmp_path, capsys):
    create_model("pix2pixhd", input_nc=7, ngf=4, n_downsample_global=2, n_blocks_global=1
                 ).save_pretrained(tmp_path / "m")  # 6 labels + instance edge
    photo = save_photo(tmp_path / "photo.png")
    assert main(["infer", str(tmp_path / "m"), str(photo), "-o", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "has 3 channel(s)" in err and "expected a single-channel integer id map" in err
    assert "instance" not in err.split("expected")[0]  # not "no instance map was found"


def test_junk_vgg_file_says_what_was_expected(tmp_path):
    from pixelwise.losses import VGG19Features

    junk = tmp_path / "vgg.pth"
    junk.write_bytes(b"\x93" * 1000)
    with pytest.raises(PixelwiseError) as info:
        VGG19Features(["relu1_1"], weights=str(junk))
    message = str(info.value)
    assert "VGG19 ImageNet weights" in message and "vgg19-dcbb9e9d.pth" in message and "=random" in message


def _scripted_archive(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(torch.nn.Conv2d(3, 4, 3)), str(path))
    return path


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_crafted_torchscript_archive_is_refused_before_loading(tmp_path):
    good = _scripted_archive(tmp_path / "good.pt")
    check_torchscript_archive(good)  # a real TorchScript archive passes
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(evil, "w") as dst:
        for name in src.namelist():
            payload = pickle.dumps(_Evil(), protocol=2) if name.endswith("data.pkl") else src.read(name)
            dst.writestr(name, payload)
    assert ("posix", "system") in pickle_globals(pickle.dumps(_Evil(), protocol=2)) or \
        ("os", "system") in pickle_globals(pickle.dumps(_Evil(), protocol=2))
    with pytest.raises(PixelwiseError, match="is refused: its .*data.pkl would import (posix|os).system"):
        check_torchscript_archive(evil)
    from pixelwise.metrics.inception import InceptionSource, inception_state_dict

    with pytest.raises(PixelwiseError, match="is refused"):
        inception_state_dict(InceptionSource("path", evil, "torchscript"))
    with pytest.raises(PixelwiseError, match="not a TorchScript archive"):
        check_torchscript_archive(save_photo(tmp_path / "x.png"))


def test_eval_help_warns_about_torchscript(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    assert "torch.jit.load, which can run code" in " ".join(capsys.readouterr().out.split())


def test_export_prints_its_parity_check(tmp_path, capsys):
    create_model("deblurgan", ngf=4, n_blocks=1).save_pretrained(tmp_path / "m")
    assert main(["export", str(tmp_path / "m"), "-o", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "onnxruntime parity: max |onnx - torch| = " in out and "tolerance 0.0001" in out
