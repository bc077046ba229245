"""pixelwise.fileio: outputs honour the umask and I/O failures are one line with nothing half-written."""

from __future__ import annotations

import errno
import os
import stat
import tempfile

import pytest
import torch
from PIL import Image

from pixelwise.cli import main
from pixelwise.fileio import OutputError, atomic_write_bytes
from pixelwise.registry import create_model
from pixelwise.train import checkpoint

from .helpers import one_line_error, save_photo


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _tiny_model_dir(tmp_path):
    model = create_model("deblurgan", ngf=4, n_blocks=1)
    model.save_pretrained(tmp_path / "model")
    return tmp_path / "model"


# --- 11.6 umask -----------------------------------------------------------------------------------------
def test_atomic_writes_and_checkpoints_honour_the_umask(tmp_path, umask022):
    atomic_write_bytes(tmp_path / "a.bin", b"x")
    assert _mode(tmp_path / "a.bin") == 0o644  # was 0600 (mkstemp's mode)
    run = tmp_path / "run"
    state = {"step": 1, "rng": [checkpoint.capture_rng_state()]}
    path = checkpoint.save_checkpoint(run, 1, create_model("deblurgan", ngf=4, n_blocks=1),
                                      create_model("patchgan", ndf=4, n_layers=1), state, {})
    assert _mode(path) == 0o755  # was 0700 (mkdtemp's mode)
    assert {_mode(f) for f in path.iterdir()} == {0o644}
    os.umask(0o077)
    atomic_write_bytes(tmp_path / "b.bin", b"x")
    assert _mode(tmp_path / "b.bin") == 0o600  # a private umask stays private


def test_infer_outputs_honour_the_umask(tmp_path, umask022):
    model = _tiny_model_dir(tmp_path)
    assert main(["infer", str(model), str(save_photo(tmp_path / "in.png")), "-o", str(tmp_path / "out"),
                 "--quiet"]) == 0
    assert _mode(tmp_path / "out" / "in.png") == 0o644
    assert _mode(tmp_path / "out") == 0o755


# --- 11.5 I/O errors ----------------------------------------------------------------------------------
def test_disk_full_during_infer_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    model = _tiny_model_dir(tmp_path)
    inputs = [str(save_photo(tmp_path / f"in{i}.png")) for i in range(2)]
    real_save = Image.Image.save

    def full_disk(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)  # some bytes reached the disk, then it filled up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    out = tmp_path / "out"
    assert main(["infer", str(model), *inputs, "-o", str(out), "--quiet"]) == 2
    err = one_line_error(capsys)
    assert "disk is full" in err and str(out / "in0.png") in err and "free some space" in err
    assert list(out.iterdir()) == []  # no torn PNG, no temp file


def test_disk_full_during_checkpoint_save_keeps_the_previous_one(tmp_path, monkeypatch):
    run = tmp_path / "run"
    g, d = create_model("deblurgan", ngf=4, n_blocks=1), create_model("patchgan", ndf=4, n_layers=1)
    state = {"step": 1, "rng": [checkpoint.capture_rng_state()]}
    first = checkpoint.save_checkpoint(run, 1, g, d, state, {})
    real_save = torch.save

    def full_disk(obj, f, *args, **kwargs):  # what torch.save raises when the disk fills mid-write
        real_save(obj, f, *args, **kwargs)
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 4480 vs 4374")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OutputError) as info:
        checkpoint.save_checkpoint(run, 2, g, d, {**state, "step": 2}, {})
    assert "disk is full" in str(info.value) and "training_state.pt" in str(info.value)
    assert "\n" not in str(info.value)
    assert [s for s, _ in checkpoint.list_checkpoints(run)] == [1]
    assert checkpoint.latest_checkpoint(run) == first
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]


def test_read_only_output_dir_is_one_line(tmp_path, monkeypatch, capsys):
    model = _tiny_model_dir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()

    def read_only(*args, **kwargs):  # tests may run as root, where chmod 0500 does not stop writes
        raise PermissionError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    assert main(["infer", str(model), str(save_photo(tmp_path / "in.png")), "-o", str(out), "--quiet"]) == 2
    err = one_line_error(capsys)
    assert f"{out} is not writable" in err and "choose a folder you can write to" in err


def test_non_creatable_output_path_is_one_line(tmp_path, capsys):
    model = _tiny_model_dir(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = blocker / "sub" / "out"
    assert main(["infer", str(model), str(save_photo(tmp_path / "in.png")), "-o", str(out), "--quiet"]) == 2
    err = one_line_error(capsys)
    assert "is a file, not a folder" in err and str(out) in err


def test_non_creatable_run_dir_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["train", "deblurgan-tiny", "--run-dir", str(blocker / "run"), "train.max_steps=1",
                 "train.progress=false", "data.validate=off"]) == 2
    err = one_line_error(capsys)
    assert str(blocker / "run") in err and "not a folder" in err
