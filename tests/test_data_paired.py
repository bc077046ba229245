"""Photo pairs: A/ + B/ folders, aligned A|B images, GoPro_Large; and their validation errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pixelwise.data import DataConfig, build_dataset, input_channels, network_input
from pixelwise.errors import PixelwiseError

from .helpers import random_photo

H, W = 12, 20


def _photo(seed: int, h: int = H, w: int = W) -> np.ndarray:
    return random_photo(h, w, seed)


def _as_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array)).permute(2, 0, 1).float() / 127.5 - 1


def _write_pairs(a_dir: Path, b_dir: Path, names: list[str], offset: int = 0) -> dict[str, tuple]:
    a_dir.mkdir(parents=True, exist_ok=True)
    b_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, name in enumerate(names):
        a, b = _photo(offset + 2 * i), _photo(offset + 2 * i + 1)
        Image.fromarray(a).save(a_dir / f"{name}.png")
        Image.fromarray(b).save(b_dir / f"{name}.png")
        out[name] = (a, b)
    return out


def _config(root: Path, **kw) -> DataConfig:
    return DataConfig(**{"format": "paired", "root": str(root), **kw})


def test_paired_folders_and_direction(tmp_path: Path) -> None:
    pairs = _write_pairs(tmp_path / "A", tmp_path / "B", ["b_img", "a_img", "c_img"])
    dataset = build_dataset(_config(tmp_path), "train", train=False)
    assert [dataset[i]["name"] for i in range(3)] == ["a_img", "b_img", "c_img"]
    sample = dataset[0]
    assert set(sample) == {"input", "target", "name"}
    assert torch.equal(sample["input"], _as_tensor(pairs["a_img"][0]))
    assert torch.equal(sample["target"], _as_tensor(pairs["a_img"][1]))
    reverse = build_dataset(_config(tmp_path, direction="BtoA"), "train", train=False)[0]
    assert torch.equal(reverse["input"], sample["target"]) and torch.equal(reverse["target"], sample["input"])
    config = _config(tmp_path)
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=3)))
    assert network_input(batch, config) is batch["input"] and input_channels(config) == 3


def test_paired_split_layouts(tmp_path: Path) -> None:
    first = _write_pairs(tmp_path / "one" / "train" / "A", tmp_path / "one" / "train" / "B", ["x"])
    _write_pairs(tmp_path / "one" / "test" / "A", tmp_path / "one" / "test" / "B", ["y", "z"], offset=10)
    second = _write_pairs(tmp_path / "two" / "A" / "train", tmp_path / "two" / "B" / "train", ["x"])
    assert len(build_dataset(_config(tmp_path / "one"), "test", train=False)) == 2
    a = build_dataset(_config(tmp_path / "one"), "train", train=False)[0]
    b = build_dataset(_config(tmp_path / "two"), "train", train=False)[0]
    assert torch.equal(a["input"], _as_tensor(first["x"][0])) and torch.equal(b["input"], _as_tensor(second["x"][0]))
    with pytest.raises(PixelwiseError, match=r"has split\(s\) \['train', 'test'\] but no 'val'"):
        build_dataset(_config(tmp_path / "one"), "val")


def test_crop_flip_keep_pairs_aligned(tmp_path: Path) -> None:
    _write_pairs(tmp_path / "A", tmp_path / "B", ["p"])
    full = build_dataset(_config(tmp_path), "train", train=False)[0]
    train = build_dataset(_config(tmp_path, crop_height=6, crop_width=8), "train", train=True)
    torch.manual_seed(0)
    for _ in range(6):
        crop = train[0]
        found = False
        for flip in (False, True):
            for top in range(H - 6 + 1):
                for left in range(W - 8 + 1):
                    window = [full[k][:, top:top + 6, left:left + 8] for k in ("input", "target")]
                    window = [w.flip(-1) if flip else w for w in window]
                    found |= torch.equal(window[0], crop["input"]) and torch.equal(window[1], crop["target"])
        assert found
    with pytest.raises(PixelwiseError, match=r"is 12x20 after resizing, smaller than the crop 16x8"):
        build_dataset(_config(tmp_path, crop_height=16, crop_width=8), "train", train=True)[0]


def test_aligned_side_by_side(tmp_path: Path) -> None:
    a, b = _photo(1), _photo(2)
    (tmp_path / "train").mkdir()
    Image.fromarray(np.concatenate([a, b], axis=1)).save(tmp_path / "train" / "pair.jpg", quality=100)
    Image.fromarray(np.concatenate([a, b], axis=1)).save(tmp_path / "train" / "pair2.png")
    dataset = build_dataset(DataConfig(format="aligned", root=str(tmp_path)), "train", train=False)
    assert len(dataset) == 2
    sample = dataset[1]
    assert sample["name"] == "pair2"
    assert torch.equal(sample["input"], _as_tensor(a)) and torch.equal(sample["target"], _as_tensor(b))
    swapped = build_dataset(DataConfig(format="aligned", root=str(tmp_path), direction="BtoA"), "train", False)
    assert torch.equal(swapped[1]["input"], _as_tensor(b))
    Image.fromarray(_photo(3, w=21)).save(tmp_path / "train" / "odd.png")
    with pytest.raises(PixelwiseError, match=r"aligned image .*odd.png is 21 pixels wide, which is odd"):
        build_dataset(DataConfig(format="aligned", root=str(tmp_path)), "train", train=False)[0]  # odd < pair


def _gopro(root: Path) -> dict[str, tuple]:
    out = {}
    for split, sequences in (("train", ["GOPR0372_07_00", "GOPR0374_11_00"]), ("test", ["GOPR0384_11_00"])):
        for s, sequence in enumerate(sequences):
            base = root / split / sequence
            for folder in ("blur", "blur_gamma", "sharp"):
                (base / folder).mkdir(parents=True)
            for f in range(2):
                name = f"{f:06d}"
                blur, gamma, sharp = _photo(100 * s + 3 * f), _photo(100 * s + 3 * f + 1), _photo(100 * s + 3 * f + 2)
                Image.fromarray(blur).save(base / "blur" / f"{name}.png")
                Image.fromarray(gamma).save(base / "blur_gamma" / f"{name}.png")
                Image.fromarray(sharp).save(base / "sharp" / f"{name}.png")
                out[f"{sequence}/{name}"] = (blur, gamma, sharp)
    return out


def test_gopro_layout(tmp_path: Path) -> None:
    frames = _gopro(tmp_path)
    config = DataConfig(format="gopro", root=str(tmp_path))
    assert config.resolved_eval_split == "test"
    train = build_dataset(config, "train", train=False)
    assert len(train) == 4 and len(build_dataset(config, "test", train=False)) == 2
    sample = train[3]
    assert sample["name"] == "GOPR0374_11_00/000001"
    blur, gamma, sharp = frames[sample["name"]]
    assert torch.equal(sample["input"], _as_tensor(blur)) and torch.equal(sample["target"], _as_tensor(sharp))
    gamma_sample = build_dataset(DataConfig(format="gopro", root=str(tmp_path), gopro_input="blur_gamma"),
                                 "train", train=False)[3]
    assert torch.equal(gamma_sample["input"], _as_tensor(gamma))


def test_gopro_errors(tmp_path: Path) -> None:
    _gopro(tmp_path)
    config = DataConfig(format="gopro", root=str(tmp_path))
    with pytest.raises(PixelwiseError, match=r"GoPro split folder .*/val does not exist \(found \['test', 'train'\]\)"):
        build_dataset(config, "val")
    (tmp_path / "test" / "GOPR0384_11_00" / "sharp" / "000001.png").unlink()
    with pytest.raises(PixelwiseError, match=r"GOPR0384_11_00/blur have no partner in .*sharp: 000001.png"):
        build_dataset(config, "test")
    for png in (tmp_path / "test" / "GOPR0384_11_00" / "sharp").iterdir():
        png.unlink()
    (tmp_path / "test" / "GOPR0384_11_00" / "sharp").rmdir()
    with pytest.raises(PixelwiseError, match=r"GOPR0384_11_00 has no sharp/ folder"):
        build_dataset(config, "test")


def test_paired_errors(tmp_path: Path) -> None:
    with pytest.raises(PixelwiseError, match=r"paired dataset root \(data.root\) folder .* does not exist"):
        build_dataset(_config(tmp_path / "missing"))
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    with pytest.raises(PixelwiseError, match=r"A \(inputs\) folder .*/A or its subfolders holds no png/jpg"):
        build_dataset(_config(tmp_path))
    _write_pairs(tmp_path / "A", tmp_path / "B", [f"img{i}" for i in range(8)])
    for i in range(7):
        (tmp_path / "B" / f"img{i}.png").rename(tmp_path / "B" / f"other{i}.png")
    with pytest.raises(PixelwiseError, match=r"7 file\(s\) in .*/A have no partner in .*/B: img0.png, img1.png, "
                                             r"img2.png, img3.png, img4.png and 2 more"):
        build_dataset(_config(tmp_path))


def test_paired_pixel_checks(tmp_path: Path) -> None:
    _write_pairs(tmp_path / "A", tmp_path / "B", ["a", "b", "c", "d"])
    Image.fromarray(_photo(9, h=H + 1)).save(tmp_path / "B" / "a.png")
    gray = np.random.default_rng(1).integers(0, 256, (H, W), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "A" / "b.png")
    Image.fromarray(gray.astype(np.uint16) * 200).save(tmp_path / "A" / "c.png")  # 16-bit single channel
    (tmp_path / "A" / "d.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    dataset = build_dataset(_config(tmp_path), "train", train=False)
    with pytest.raises(PixelwiseError, match=r"size mismatch: .*A/a.png is 12x20 .*B/a.png is 13x20"):
        dataset[0]
    gray_sample = dataset[1]["input"]  # grayscale photos are replicated to RGB
    assert gray_sample.shape == (3, H, W) and torch.equal(gray_sample[0], gray_sample[2])
    sixteen = dataset[2]["input"]  # a 16-bit grayscale photo is read (rounded to 8 bits for training)
    expected = ((gray.astype(np.uint32) * 200 + 128) // 257).astype(np.float32) / 127.5 - 1
    assert sixteen.shape == (3, H, W) and torch.allclose(sixteen[1], torch.from_numpy(expected))
    with pytest.raises(PixelwiseError, match=r"cannot read image .*A/d.png"):
        dataset[3]


def test_paired_label_maps(tmp_path: Path) -> None:
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    label = np.random.default_rng(0).integers(0, 5, (H, W), dtype=np.uint8)
    Image.fromarray(label).save(tmp_path / "A" / "x.png")
    Image.fromarray(_photo(0)).save(tmp_path / "B" / "x.png")
    config = DataConfig(format="paired", root=str(tmp_path), task="labels", label_nc=5, instance_edge=False)
    sample = build_dataset(config, "train", train=False)[0]
    assert torch.equal(sample["label"][0], torch.from_numpy(label.astype(np.int64)))
    assert network_input({"label": sample["label"][None]}, config).shape == (1, 5, H, W)
    with pytest.raises(PixelwiseError, match=r"paired has no instance maps but data.instance_edge is true"):
        build_dataset(DataConfig(format="paired", root=str(tmp_path), task="labels", label_nc=5))


def test_jpeg_label_maps_are_rejected_and_loaders_work_in_workers(tmp_path: Path) -> None:
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    Image.fromarray(np.full((H, W), 3, np.uint8)).save(tmp_path / "A" / "x.jpg")
    Image.fromarray(_photo(0)).save(tmp_path / "B" / "x.png")
    config = DataConfig(format="paired", root=str(tmp_path), task="labels", label_nc=5, instance_edge=False)
    with pytest.raises(PixelwiseError, match=r"label map .*x.jpg is a JPEG; .*export the map as PNG"):
        build_dataset(config, "train", train=False)[0]
    rgb = build_dataset(DataConfig(format="paired", root=str(tmp_path), crop_height=8, crop_width=8), "train")
    batch = next(iter(torch.utils.data.DataLoader(rgb, batch_size=1, num_workers=1)))  # picklable datasets
    assert batch["input"].shape == (1, 3, 8, 8) and batch["name"] == ["x"]
