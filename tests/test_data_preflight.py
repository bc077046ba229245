"""pixelwise.data.preflight: bad training data is found before the first step, all of it at once, in one report; a
DataLoader worker's error stays one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pixelwise.cli import main
from pixelwise.data import build_dataset
from pixelwise.data.config import DataConfig
from pixelwise.data.preflight import SHOWN, DataCheckError, check_dataset_files, find_problems, worker_errors
from pixelwise.errors import PixelwiseError

from .helpers import save_photo
from .test_train_loop import QUIET


def _png(path, h=40, w=40, seed=0):
    return save_photo(path, h, w, seed)


def _paired(root, n=4):
    for i in range(n):
        _png(root / "train" / "A" / f"{i:03d}.png", seed=i)
        _png(root / "train" / "B" / f"{i:03d}.png", seed=100 + i)
    return root


def _break_three(root):
    a = root / "train" / "A"
    data = (a / "000.png").read_bytes()
    (a / "000.png").write_bytes(data[: len(data) // 2])  # truncated
    (a / "001.png").write_text("this is not an image\n")  # a text file named .png
    _png(root / "train" / "B" / "002.png", h=40, w=48)  # A/B size mismatch


def _train_args(root, run, *extra):
    return ["train", "deblurgan-tiny", "--run-dir", str(run), *QUIET, "data.format=paired", f"data.root={root}",
            "data.crop_height=32", "data.crop_width=32", "train.max_steps=2", *extra]


def test_all_bad_files_are_reported_before_the_first_step(tmp_path, capsys):
    root = _paired(tmp_path / "data")
    _break_three(root)
    run = tmp_path / "run"
    assert main(_train_args(root, run)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().split("\n")
    assert "found 3 problems" in lines[0] and "data.validate=off" in lines[0]
    assert len(lines) == 4
    assert "000.png is truncated" in lines[1] and "re-download or replace it" in lines[1]
    assert "001.png" in lines[2] and "not an image file" in lines[2]
    assert "size mismatch" in lines[3] and "002.png" in lines[3]
    assert not (run / "checkpoints").exists()  # no step ran, nothing was written


def test_first_twenty_then_a_count(tmp_path):
    root = _paired(tmp_path / "data", n=SHOWN + 5)
    for i in range(SHOWN + 3):
        (root / "train" / "A" / f"{i:03d}.png").write_text("junk")
    dataset = build_dataset(DataConfig(format="paired", root=str(root)), "train", train=True)
    with pytest.raises(DataCheckError) as info:
        check_dataset_files(dataset, "headers")
    lines = str(info.value).split("\n")
    assert f"found {SHOWN + 3} problems" in lines[0]
    assert len(lines) == 1 + SHOWN + 1 and lines[-1].strip().startswith("... and 3 more")


def test_label_ids_and_headers_vs_full(tmp_path):
    root = tmp_path / "flat"
    for i in range(3):
        _png(root / "train_images" / f"{i}.png", seed=i)
        label = np.full((40, 40), i, dtype=np.uint8)
        Image.fromarray(label).save(save_photo(root / "train_labels" / f"{i}.png", 40, 40, channels=1))
    Image.fromarray(np.full((40, 40), 9, dtype=np.uint8)).save(root / "train_labels" / "2.png")  # id 9 >= 4
    config = DataConfig(format="flat", root=str(root), label_nc=4, instance_edge=False)
    dataset = build_dataset(config, "train", train=True)
    problems, files = find_problems(dataset, "headers")
    assert files == 6 and len(problems) == 1 and "contains label id 9" in problems[0] and "2.png" in problems[0]
    # damage inside a photo whose header and end marker are intact: only `full` decodes it
    photo = root / "train_images" / "1.png"
    data = bytearray(photo.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 200] = bytes(200)
    photo.write_bytes(bytes(data))
    assert len(find_problems(dataset, "headers")[0]) == 1
    problems = find_problems(dataset, "full")[0]
    assert len(problems) == 2 and "1.png" in problems[0] and "cannot read image" in problems[0]
    assert find_problems(dataset, "off") == ([], 0)


def test_crop_larger_than_an_image_is_found_up_front(tmp_path):
    root = _paired(tmp_path / "data")
    _png(root / "train" / "A" / "003.png", h=20, w=20)
    _png(root / "train" / "B" / "003.png", h=20, w=20)
    config = DataConfig(format="paired", root=str(root), crop_height=32, crop_width=32)
    problems, _ = find_problems(build_dataset(config, "train", train=True), "headers")
    assert len(problems) == 1 and "003.png is 20x20 after resizing, smaller than the crop 32x32" in problems[0]


def test_validate_option_is_checked():
    with pytest.raises(PixelwiseError, match="data.validate='some'"):
        DataConfig(validate="some")


def test_worker_error_is_the_same_one_line(tmp_path, capsys):
    root = _paired(tmp_path / "data")
    _break_three(root)
    assert main(_train_args(root, tmp_path / "run", "data.validate=off", "train.num_workers=1")) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and "DataLoader worker" not in err, err
    assert "cannot read image" in err and "re-download or replace it" in err


def test_worker_errors_unwraps_only_pixelwise_errors():
    class Broken(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            raise PixelwiseError("image x.png is bad; replace it")

    loader = torch.utils.data.DataLoader(Broken(), num_workers=1)
    with pytest.raises(PixelwiseError) as info:
        list(worker_errors(loader))
    assert str(info.value) == "image x.png is bad; replace it"
