"""Cityscapes (released layout) and flat label/image folders: exact tensors, parity, and every bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pixelwise.data import DataConfig, build_dataset, input_channels, network_input
from pixelwise.errors import PixelwiseError

H, W = 16, 32
FRAMES = {"train": [("aachen", 0, 19), ("aachen", 1, 19), ("bremen", 0, 42)], "val": [("lindau", 0, 7)]}


def _annotation(path: Path, shift: int) -> dict:
    """Road / sky / building / static, two cars and a person (polygons shifted per frame)."""
    objects = [
        {"label": "sky", "polygon": [[0, 0], [W - 1, 0], [W - 1, 7], [0, 7]]},
        {"label": "building", "polygon": [[20, 0], [W - 1, 0], [W - 1, 9], [20, 9]]},
        {"label": "road", "polygon": [[0, 8], [W - 1, 8], [W - 1, H - 1], [0, H - 1]]},
        {"label": "static", "polygon": [[27, 13], [W - 1, 13], [W - 1, H - 1], [27, H - 1]]},  # ignored class
        {"label": "car", "polygon": [[2 + shift, 6], [9 + shift, 6], [9 + shift, 12], [2 + shift, 12]]},
        {"label": "car", "polygon": [[13, 6], [19, 6], [19, 12], [13, 12]]},
        {"label": "person", "polygon": [[24, 2 + shift], [27, 2 + shift], [27, 12], [24, 12]]},
    ]
    path.write_text(json.dumps({"imgHeight": H, "imgWidth": W, "objects": objects}))
    return objects


def _render(json_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Label and instance arrays rendered by cityscapesscripts (the official tooling) from polygons."""
    from cityscapesscripts.helpers.annotation import Annotation
    from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
    from cityscapesscripts.preparation.json2labelImg import createLabelImage

    annotation = Annotation()
    annotation.fromJsonFile(str(json_path))
    label = np.asarray(createLabelImage(annotation, "ids")).astype(np.uint8)
    instance = np.asarray(createInstanceImage(annotation, "ids")).astype(np.uint16)
    return label, instance


@pytest.fixture(scope="module")
def cityscapes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, np.ndarray]]]:
    root = tmp_path_factory.mktemp("cityscapes")
    rng = np.random.default_rng(0)
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for split, frames in FRAMES.items():
        for i, (city, seq, frame) in enumerate(frames):
            stem = f"{city}_{seq:06d}_{frame:06d}"
            image_dir = root / "leftImg8bit" / split / city
            label_dir = root / "gtFine" / split / city
            image_dir.mkdir(parents=True, exist_ok=True)
            label_dir.mkdir(parents=True, exist_ok=True)
            polygons = label_dir / f"{stem}_gtFine_polygons.json"
            _annotation(polygons, shift=i)
            label, instance = _render(polygons)
            photo = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
            Image.fromarray(photo).save(image_dir / f"{stem}_leftImg8bit.png")
            Image.fromarray(label).save(label_dir / f"{stem}_gtFine_labelIds.png")
            Image.fromarray(instance).save(label_dir / f"{stem}_gtFine_instanceIds.png")  # 16-bit PNG
            arrays[stem] = {"label": label, "instance": instance, "photo": photo}
    return root, arrays


def _config(root: Path, **kw) -> DataConfig:
    return DataConfig(**{"format": "cityscapes", "root": str(root), **kw})


def test_cityscapes_samples_are_exact(cityscapes) -> None:
    root, arrays = cityscapes
    dataset = build_dataset(_config(root), "train", train=False)
    assert len(dataset) == 3
    names = [dataset[i]["name"] for i in range(3)]
    assert names == ["aachen_000000_000019", "aachen_000001_000019", "bremen_000000_000042"]
    for i, name in enumerate(names):
        sample = dataset[i]
        assert sample["label"].dtype == torch.int64 and sample["label"].shape == (1, H, W)
        assert sample["instance"].dtype == torch.int32 and sample["instance"].shape == (1, H, W)
        assert sample["target"].dtype == torch.float32 and sample["target"].shape == (3, H, W)
        assert torch.equal(sample["label"][0], torch.from_numpy(arrays[name]["label"].astype(np.int64)))
        assert torch.equal(sample["instance"][0], torch.from_numpy(arrays[name]["instance"].astype(np.int32)))
        expected = torch.from_numpy(arrays[name]["photo"]).permute(2, 0, 1).float() / 127.5 - 1
        assert torch.allclose(sample["target"], expected, atol=1e-6)
        assert sample["target"].min() >= -1 and sample["target"].max() <= 1
    # the instance maps really carry Cityscapes' id * 1000 + k encoding (two cars: 26000, 26001)
    assert {26000, 26001, 24000} <= set(np.unique(dataset[0]["instance"].numpy()).tolist())
    assert len(build_dataset(_config(root), "val", train=False)) == 1


def test_without_instances_no_instance_key(cityscapes) -> None:
    root, _ = cityscapes
    config = _config(root, instance_edge=False)
    sample = build_dataset(config, "val", train=False)[0]
    assert "instance" not in sample
    assert input_channels(config) == 35


def _flatten(root: Path, out: Path, names: tuple[str, str, str], keep_suffix: bool) -> Path:
    for split in ("train", "val"):
        for src in sorted((root / "leftImg8bit" / split).rglob("*_leftImg8bit.png")):
            stem = src.name.replace("_leftImg8bit.png", "")
            label_src = next((root / "gtFine" / split).rglob(f"{stem}_gtFine_labelIds.png"))
            inst_src = next((root / "gtFine" / split).rglob(f"{stem}_gtFine_instanceIds.png"))
            for folder, source in zip(names, (label_src, src, inst_src)):
                target_dir = out / folder.format(split=split)
                target_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, target_dir / (source.name if keep_suffix else f"{stem}.png"))
    return out


def test_flat_layouts_equal_the_released_layout(cityscapes, tmp_path: Path) -> None:
    root, _ = cityscapes
    pix2pixhd = _flatten(root, tmp_path / "p2p", ("{split}_label", "{split}_img", "{split}_inst"), True)
    spade = _flatten(root, tmp_path / "spade", ("{split}_labels", "{split}_images", "{split}_instances"), False)
    reference = build_dataset(_config(root), "train", train=False)
    for flat_root in (pix2pixhd, spade):
        flat = build_dataset(_config(flat_root, format="flat"), "train", train=False)
        assert len(flat) == len(reference)
        for i in range(len(reference)):
            a, b = reference[i], flat[i]
            assert a["name"] == b["name"]
            for key in ("label", "instance", "target"):
                assert torch.equal(a[key], b[key]), key


def test_train_ids_and_dontcare(cityscapes) -> None:
    from cityscapesscripts.helpers.labels import id2label

    root, arrays = cityscapes
    config = _config(root, label_set="train_ids", label_nc=19, contain_dontcare_label=True)
    sample = build_dataset(config, "train", train=False)[0]
    raw = arrays[sample["name"]]["label"]
    expected = np.vectorize(lambda i: id2label[int(i)].trainId)(raw)
    expected = np.where((expected < 0) | (expected == 255), 19, expected)  # dontcare -> label_nc
    assert torch.equal(sample["label"][0], torch.from_numpy(expected.astype(np.int64)))
    assert int(sample["label"].max()) == 19  # "static" (train id 255) became the dontcare id
    assert input_channels(config) == 19 + 1 + 1
    with pytest.raises(PixelwiseError, match=r"contains label id 255.*contain_dontcare_label=true"):
        build_dataset(_config(root, label_set="train_ids", label_nc=19), "train", train=False)[0]


def test_network_input_equals_official_preprocessing(cityscapes) -> None:
    from pixelwise.official import preprocess_semantic

    root, _ = cityscapes
    loader = torch.utils.data.DataLoader(build_dataset(_config(root), "train", train=False), batch_size=3)
    batch = next(iter(loader))
    assert batch["label"].shape == (3, 1, H, W) and isinstance(batch["name"], list)
    config = _config(root)
    x = network_input(batch, config)
    assert x.shape == (3, input_channels(config), H, W) == (3, 36, H, W)
    official = preprocess_semantic(batch["label"], batch["instance"], {"label_nc": 35})
    assert torch.equal(x, official)
    assert torch.equal(x, preprocess_semantic(batch["label"], batch["instance"], {"label_nc": 35},
                                              family="pix2pixhd"))
    assert x[:, :35].sum(1).eq(1).all()  # exactly one hot
    assert x[:, 35].max() == 1 and x[:, 35].min() == 0  # instance edges present
    # dontcare variant
    dc = _config(root, label_set="train_ids", label_nc=19, contain_dontcare_label=True)
    batch = next(iter(torch.utils.data.DataLoader(build_dataset(dc, "train", train=False), batch_size=3)))
    expected = preprocess_semantic(batch["label"], batch["instance"], {"label_nc": 19,
                                                                        "contain_dontcare_label": True})
    assert torch.equal(network_input(batch, dc), expected)


def test_resize_nearest_bicubic_and_synchronised_crop_flip(cityscapes) -> None:
    root, arrays = cityscapes
    resized = _config(root, load_height=8, load_width=16)
    sample = build_dataset(resized, "train", train=False)[0]
    raw = arrays[sample["name"]]
    assert sample["label"].shape == (1, 8, 16)
    assert set(sample["label"].unique().tolist()) <= set(np.unique(raw["label"]).tolist())  # NEAREST: no blends
    bicubic = np.array(Image.fromarray(raw["photo"]).resize((16, 8), Image.BICUBIC))
    assert torch.allclose(sample["target"], torch.from_numpy(bicubic).permute(2, 0, 1).float() / 127.5 - 1)
    # one side given: the other follows the aspect ratio
    assert build_dataset(_config(root, load_width=16), "train", False)[0]["label"].shape == (1, 8, 16)

    full = build_dataset(_config(root), "train", train=False)[1]
    train = build_dataset(_config(root, crop_height=8, crop_width=12), "train", train=True)
    torch.manual_seed(3)
    seen_flip = seen_plain = False
    for _ in range(12):
        crop = train[1]
        assert crop["label"].shape == (1, 8, 12)
        matches = []
        for flip in (False, True):
            for top in range(H - 8 + 1):
                for left in range(W - 12 + 1):
                    def cut(t: torch.Tensor, top=top, left=left, flip=flip) -> torch.Tensor:
                        out = t[..., top:top + 8, left:left + 12]
                        return out.flip(-1) if flip else out
                    if all(torch.equal(cut(full[k]), crop[k]) for k in ("label", "instance", "target")):
                        matches.append(flip)
        assert matches, "train crop is not one window (with the same flip) of label, instance and photo"
        seen_flip |= True in matches
        seen_plain |= False in matches
    assert seen_flip and seen_plain
    torch.manual_seed(5)
    first = train[0]["target"]
    torch.manual_seed(5)
    assert torch.equal(first, train[0]["target"])  # reproducible under torch's seed
    centred = build_dataset(_config(root, crop_height=8, crop_width=12, eval_crop=True), "train", False)[1]
    assert torch.equal(centred["target"], full["target"][:, 4:12, 10:22])


def test_max_images(cityscapes) -> None:
    root, _ = cityscapes
    assert len(build_dataset(_config(root, max_images=2), "train", train=False)) == 2


# ----------------------------------------------------------------------------------- validation errors


def _copy_tree(cityscapes, tmp_path: Path) -> Path:
    root, _ = cityscapes
    out = tmp_path / "cs"
    shutil.copytree(root, out)
    return out


def test_missing_root_and_folders(cityscapes, tmp_path: Path) -> None:
    with pytest.raises(PixelwiseError, match=r"does not exist; point data.root at the Cityscapes download"):
        build_dataset(_config(tmp_path / "nowhere"))
    with pytest.raises(PixelwiseError, match=r"data.root is empty"):
        build_dataset(_config(""))
    root = _copy_tree(cityscapes, tmp_path)
    shutil.rmtree(root / "gtFine")
    with pytest.raises(PixelwiseError, match=r"gtFine/train does not exist; unzip gtFine_trainvaltest.zip"):
        build_dataset(_config(root))
    with pytest.raises(PixelwiseError, match=r"leftImg8bit/test does not exist.*splits present: \['train', 'val'\]"):
        build_dataset(_config(root), "test")


def test_empty_folder(cityscapes, tmp_path: Path) -> None:
    root = _copy_tree(cityscapes, tmp_path)
    for png in (root / "leftImg8bit" / "val").rglob("*.png"):
        png.unlink()
    with pytest.raises(PixelwiseError, match=r"leftImg8bit/val or its subfolders holds no \*_leftImg8bit.png"):
        build_dataset(_config(root), "val")


def test_unpaired_files_are_listed(cityscapes, tmp_path: Path) -> None:
    root = _copy_tree(cityscapes, tmp_path)
    (root / "gtFine" / "train" / "bremen" / "bremen_000000_000042_gtFine_labelIds.png").unlink()
    with pytest.raises(PixelwiseError, match=r"1 file\(s\) in .*leftImg8bit/train have no partner in .*"
                                             r"bremen_000000_000042_leftImg8bit.png"):
        build_dataset(_config(root, instance_edge=False))
    # instance maps missing for one frame
    root2 = _copy_tree(cityscapes, tmp_path / "b")
    (root2 / "gtFine" / "train" / "aachen" / "aachen_000001_000019_gtFine_instanceIds.png").unlink()
    with pytest.raises(PixelwiseError, match=r"no partner in .*gtFine/train \(\*_gtFine_instanceIds.png\): "
                                             r"aachen_000001_000019_leftImg8bit.png"):
        build_dataset(_config(root2))
    assert len(build_dataset(_config(root2, instance_edge=False))) == 3


def test_size_mismatch(cityscapes, tmp_path: Path) -> None:
    root = _copy_tree(cityscapes, tmp_path)
    path = root / "leftImg8bit" / "val" / "lindau" / "lindau_000000_000007_leftImg8bit.png"
    Image.fromarray(np.zeros((H, W + 2, 3), np.uint8)).save(path)
    with pytest.raises(PixelwiseError, match=r"size mismatch: .*lindau_000000_000007_gtFine_labelIds.png is "
                                             r"16x32 .*lindau_000000_000007_leftImg8bit.png is 16x34"):
        build_dataset(_config(root), "val", train=False)[0]


def test_label_id_too_large_names_file_id_and_option(cityscapes) -> None:
    root, _ = cityscapes
    dataset = build_dataset(_config(root, label_nc=20), "train", train=False)  # building: 11, car: 26
    with pytest.raises(PixelwiseError, match=r"aachen_000000_000019_gtFine_labelIds.png contains label id 26 "
                                             r"but data.label_nc=20 .*raise data.label_nc to at least 27"):
        dataset[0]


def test_network_input_rejects_out_of_range_ids() -> None:
    config = DataConfig(format="cityscapes", label_nc=4, instance_edge=False)
    batch = {"label": torch.tensor([[[[0, 5]]]])}
    with pytest.raises(PixelwiseError, match=r"label id 5 .*data.label_nc"):
        network_input(batch, config)


def test_truncated_and_unreadable_images(cityscapes, tmp_path: Path) -> None:
    root = _copy_tree(cityscapes, tmp_path)
    path = root / "leftImg8bit" / "val" / "lindau" / "lindau_000000_000007_leftImg8bit.png"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(PixelwiseError, match=r"cannot read image .*lindau_000000_000007_leftImg8bit.png .*"
                                             r"truncated or not an image"):
        build_dataset(_config(root), "val", train=False)[0]
    path.write_text("not a png")
    with pytest.raises(PixelwiseError, match=r"cannot read image .*lindau_000000_000007_leftImg8bit.png"):
        build_dataset(_config(root), "val", train=False)[0]


def test_wrong_channel_counts(cityscapes, tmp_path: Path) -> None:
    root = _copy_tree(cityscapes, tmp_path)
    label_path = root / "gtFine" / "val" / "lindau" / "lindau_000000_000007_gtFine_labelIds.png"
    colour = np.zeros((H, W, 3), np.uint8)
    colour[..., 0] = 128
    Image.fromarray(colour).save(label_path)
    with pytest.raises(PixelwiseError, match=r"label map .*lindau_000000_000007_gtFine_labelIds.png has 3 "
                                             r"channel\(s\).*single-channel"):
        build_dataset(_config(root), "val", train=False)[0]
    # a gray id map saved as RGB is fine
    Image.fromarray(np.repeat(np.full((H, W, 1), 7, np.uint8), 3, axis=2)).save(label_path)
    assert int(build_dataset(_config(root), "val", train=False)[0]["label"].max()) == 7
    photo_path = root / "leftImg8bit" / "val" / "lindau" / "lindau_000000_000007_leftImg8bit.png"
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = 10
    Image.fromarray(rgba).save(photo_path)
    with pytest.raises(PixelwiseError, match=r"photo .*leftImg8bit.png has a transparent alpha channel"):
        build_dataset(_config(root), "val", train=False)[0]


def test_flat_errors(cityscapes, tmp_path: Path) -> None:
    root, _ = cityscapes
    flat = _flatten(root, tmp_path / "p2p", ("{split}_label", "{split}_img", "{split}_inst"), True)
    shutil.rmtree(flat / "train_inst")
    with pytest.raises(PixelwiseError, match=r"instance_edge is true but .* no instance folder \(train_inst/\)"):
        build_dataset(_config(flat, format="flat"))
    assert len(build_dataset(_config(flat, format="flat", instance_edge=False))) == 3
    with pytest.raises(PixelwiseError, match=r"no 'test' label folder; expected test_label/ \+ test_img/"):
        build_dataset(_config(flat, format="flat"), "test")
    (flat / "train_img" / "extra_photo.png").write_bytes((flat / "val_img").iterdir().__next__().read_bytes())
    with pytest.raises(PixelwiseError, match=r"train_img have no partner in .*train_label: extra_photo.png"):
        build_dataset(_config(flat, format="flat", instance_edge=False))
