"""Bundled demo data from scikit-image's real photos: the Cityscapes stand-in and the deblurring set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from pixelwise.data import DataConfig, build_dataset, input_channels, network_input
from pixelwise.data.bundled import bundled_blur_root, bundled_labels_root, real_blurred_photo
from pixelwise.errors import PixelwiseError

K = 6


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXELWISE_CACHE", str(path))
        yield path


def _photo_of(name: str) -> str:
    return name.rsplit("_y", 1)[0]


def test_bundled_labels_stand_in(cache: Path) -> None:
    config = DataConfig(format="bundled-labels", label_nc=K)
    train = build_dataset(config, "train", train=False)
    test = build_dataset(config, "test", train=False)
    assert len(train) > 50 and len(test) > 10
    train_names = [r.name for r in train.records]
    test_names = [r.name for r in test.records]
    assert not {_photo_of(n) for n in train_names} & {_photo_of(n) for n in test_names}  # held-out photos
    assert bundled_labels_root(K).is_relative_to(cache)
    seen: set[int] = set()
    for i in range(0, len(train), 9):
        sample = train[i]
        label, instance = sample["label"], sample["instance"]
        assert label.shape == (1, 128, 256) and label.dtype == torch.int64 and instance.dtype == torch.int32
        assert int(label.min()) >= 0 and int(label.max()) < K
        seen |= set(label.unique().tolist())
        things = label >= K // 2  # Cityscapes encoding: id * 1000 + k for things, the plain id for stuff
        assert torch.equal((instance // 1000)[things], label[things])
        assert torch.equal(instance[~things], label[~things].int())
        assert sample["target"].shape == (3, 128, 256)
    assert seen == set(range(K))
    batch = next(iter(torch.utils.data.DataLoader(train, batch_size=2)))
    assert network_input(batch, config).shape == (2, input_channels(config), 128, 256) == (2, K + 1, 128, 256)


def test_bundled_labels_are_deterministic(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = bundled_labels_root(K)
    mtime = (first / "train_label").stat().st_mtime_ns
    assert bundled_labels_root(K) == first and (first / "train_label").stat().st_mtime_ns == mtime  # cached
    monkeypatch.setenv("PIXELWISE_CACHE", str(tmp_path))
    second = bundled_labels_root(K)
    assert second != first
    for folder in ("train_label", "test_inst"):
        names = sorted(p.name for p in (first / folder).iterdir())
        assert names == sorted(p.name for p in (second / folder).iterdir())
        for name in names[::9]:
            assert (first / folder / name).read_bytes() == (second / folder / name).read_bytes()


def test_bundled_blur(cache: Path) -> None:
    config = DataConfig(format="bundled-blur", crop_height=64, crop_width=64, blur_max_length=20)
    train = build_dataset(config, "train")
    test = build_dataset(config, config.resolved_eval_split, train=False)
    assert len(train) > 50 and len(test) > 10
    names = [train.records[i].name for i in range(len(train))] + [test.records[i].name for i in range(len(test))]
    assert not any("clock" in n for n in names)  # the real blurred photo has no sharp partner
    assert not {_photo_of(r.name) for r in train.records} & {_photo_of(r.name) for r in test.records}
    sample = train[0]
    assert sample["input"].shape == sample["target"].shape == (3, 64, 64)
    assert test[0]["input"].shape == (3, 256, 256)  # evaluation: whole tiles
    assert torch.equal(test[0]["input"], build_dataset(config, "test", train=False)[0]["input"])
    assert bundled_blur_root().is_relative_to(cache)
    clock = real_blurred_photo()
    assert clock.shape == (300, 400, 3) and clock.dtype == np.uint8


def test_bundled_errors(cache: Path) -> None:
    with pytest.raises(PixelwiseError, match=r"data.label_nc=65: bundled-labels .* supports 2..64"):
        build_dataset(DataConfig(format="bundled-labels", label_nc=65))
    with pytest.raises(PixelwiseError, match=r"bundled data has splits train and test"):
        build_dataset(DataConfig(format="bundled-blur"), "holdout")
