"""DataConfig: YAML-style loading, blur-strength forms, validation of values, derived properties; palettes."""

from __future__ import annotations

import pytest
import torch

from pixelwise.config import from_dict, to_dict
from pixelwise.data import DataConfig, input_channels
from pixelwise.data.palette import colorize_labels
from pixelwise.errors import PixelwiseError


def test_from_dict_and_round_trip() -> None:
    config = from_dict(DataConfig, {"format": "cityscapes", "root": "/data/cs", "label_nc": "35",
                                    "crop_height": 256, "crop_width": 512, "flip": "false",
                                    "blur_strength": "0.2-0.8", "max_images": None}, "data")
    assert config.label_nc == 35 and config.flip is False and config.blur_strength == [0.2, 0.8]
    assert config.resolved_task == "labels" and config.resolved_eval_split == "val"
    assert from_dict(DataConfig, to_dict(config)) == config
    assert from_dict(DataConfig, {"blur_strength": 0.5}).blur_strength == [0.5, 0.5]
    assert from_dict(DataConfig, {"blur_strength": [0.1, 0.3]}).blur_strength == [0.1, 0.3]


def test_defaults_and_tasks() -> None:
    default = DataConfig()
    assert default.format == "bundled-blur" and default.resolved_task == "photo"
    assert default.resolved_eval_split == "test" and input_channels(default) == 3
    labels = DataConfig(format="paired", task="labels", label_nc=10, contain_dontcare_label=True)
    assert labels.resolved_task == "labels" and input_channels(labels) == 10 + 1 + 1
    assert DataConfig(format="gopro", eval_split="val").resolved_eval_split == "val"


@pytest.mark.parametrize(("changes", "message"), [
    ({"format": "coco"}, r"data.format='coco' is not one of"),
    ({"task": "depth"}, r"data.task='depth'"),
    ({"label_set": "colors"}, r"data.label_set='colors' must be 'ids' or 'train_ids'"),
    ({"direction": "AB"}, r"data.direction='AB'"),
    ({"gopro_input": "sharp"}, r"data.gopro_input='sharp'"),
    ({"crop_height": 0}, r"data.crop_height=0 must be >= 1"),
    ({"label_nc": 0}, r"data.label_nc=0 must be >= 1"),
    ({"blur_strength": "2"}, r"data.blur_strength='2' is not a blur strength"),
    ({"blur_noise": -1.0}, r"blur_noise must be >= 0"),
])
def test_bad_values(changes: dict, message: str) -> None:
    with pytest.raises(PixelwiseError, match=message):
        DataConfig(**changes)


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(PixelwiseError, match=r"data: unknown key\(s\) \['crop'\]; valid keys are"):
        from_dict(DataConfig, {"crop": 256}, "data")


def test_colorize_labels() -> None:
    cityscapes = DataConfig(format="cityscapes")
    rgb = colorize_labels(torch.tensor([[[[7, 26, 300]]]]), cityscapes)
    assert rgb.shape == (1, 3, 1, 3)
    as_uint8 = ((rgb + 1) * 127.5).round().int()[0, :, 0].T.tolist()
    assert as_uint8 == [[128, 64, 128], [0, 0, 142], [0, 0, 0]]  # road, car (cityscapesscripts), out of range
    other = colorize_labels(torch.arange(6).view(1, 2, 3), DataConfig(format="bundled-labels", label_nc=6))
    colors = {tuple(c) for c in other.flatten(1).T.tolist()}
    assert other.shape == (3, 2, 3) and len(colors) == 6  # distinct colours per class


def test_one_input_kind_with_the_older_spellings_as_aliases(tmp_path) -> None:
    import json

    import pixelwise
    from pixelwise.models.asapnet import ASAPNetConfig
    from pixelwise.models.base import InputKind, InputSpec
    from pixelwise.models.pix2pixhd import Pix2PixHDConfig

    assert InputKind("semantic") is InputKind("labels") is InputKind.LABELS
    assert InputKind("rgb") is InputKind("photo") is InputKind.PHOTO
    with pytest.raises(ValueError):
        InputKind("dense")
    assert InputSpec("photo", 4).kind is InputKind.PHOTO  # names coerce to the enum
    for task, kind in (("labels", InputKind.LABELS), ("photo", InputKind.PHOTO), ("rgb", InputKind.PHOTO)):
        assert from_dict(DataConfig, {"format": "paired", "task": task}).resolved_task is kind
    rgb = dict(label_nc=3, instance_edge=False, lr_instance=False, downsampling=4, learned_ds_factor=4)
    for mode in ("rgb", "photo"):
        assert ASAPNetConfig(input_mode=mode, **rgb).input_spec().kind is InputKind.PHOTO
        assert Pix2PixHDConfig(input_mode=mode, input_nc=3).input_spec().kind is InputKind.PHOTO
    for mode in ("semantic", "labels"):
        assert ASAPNetConfig(input_mode=mode).input_spec().kind is InputKind.LABELS
    shipped = pixelwise.from_pretrained("pixelwise/deblurgan-asap-small")  # its config.json says "rgb"
    assert shipped.config.input_kind is InputKind.PHOTO
    assert json.loads(json.dumps(to_dict({"kind": InputKind.LABELS}))) == {"kind": "labels"}
