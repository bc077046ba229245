"""Cityscapes (Cordts et al., 2016) in its released layout, and the flat label/image folders of the official
codes (pix2pixHD ``train_label/train_img/train_inst``; SPADE/ASAP-Net ``train_labels/train_images``).

The label table (35 ids, 19 train ids, colours) comes from the ``cityscapesscripts`` package. Instance maps
follow Cityscapes: ``id * 1000 + k`` for the k-th object of an instance class, the plain id elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixelwise.data.files import keyed, list_images, pair, require_dir
from pixelwise.errors import PixelwiseError
from pixelwise.extras import require

NUM_IDS = 35  # ids 0..33 occur in *_labelIds.png; the official codes use label_nc = 35
NUM_TRAIN_IDS = 19
IGNORE = 255


@dataclass(frozen=True)
class LabelRecord:
    """One label-map sample on disk."""

    name: str
    label: Path
    image: Path
    instance: Path | None = None


def _labels() -> list:
    require("cityscapesscripts", "train", "the Cityscapes label table")
    from cityscapesscripts.helpers.labels import labels

    return list(labels)


def id_to_train_id() -> np.ndarray:
    """A 256-entry lookup table: Cityscapes label id -> train id (0..18), 255 for ignored ids."""
    lut = np.full(256, IGNORE, dtype=np.int64)
    for label in _labels():
        if 0 <= label.id < 256 and 0 <= label.trainId < NUM_TRAIN_IDS:
            lut[label.id] = label.trainId
    return lut


def palette(label_set: str = "ids") -> np.ndarray:
    """(256, 3) uint8 colours of Cityscapes ids (``"ids"``) or train ids (``"train_ids"``); black elsewhere."""
    colors = np.zeros((256, 3), dtype=np.uint8)
    for label in _labels():
        index = label.id if label_set == "ids" else label.trainId
        if 0 <= index < 256 and (label_set == "ids" or index < NUM_TRAIN_IDS):
            colors[index] = label.color
    return colors


def class_names(label_set: str = "ids") -> list[str]:
    """Names indexed by id (35) or train id (19)."""
    count = NUM_IDS if label_set == "ids" else NUM_TRAIN_IDS
    names = [""] * count
    for label in _labels():
        index = label.id if label_set == "ids" else label.trainId
        if 0 <= index < count and not names[index]:
            names[index] = label.name
    return names


_LAYOUT = ("the released layout: leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png and "
           "gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_{labelIds,instanceIds}.png")


def cityscapes_records(root: Path, split: str, instances: bool) -> list[LabelRecord]:
    """Samples of one split of a Cityscapes download, matched by ``<city>_<seq>_<frame>``."""
    require_dir(root, "Cityscapes root (data.root)", f"point data.root at the Cityscapes download ({_LAYOUT})")
    images_dir = root / "leftImg8bit" / split
    labels_dir = root / "gtFine" / split
    for folder, archive in ((images_dir, "leftImg8bit_trainvaltest.zip"), (labels_dir, "gtFine_trainvaltest.zip")):
        if not folder.is_dir():
            splits = sorted(p.name for p in folder.parent.iterdir() if p.is_dir()) if folder.parent.is_dir() else []
            have = f"; splits present: {splits}" if splits else ""
            raise PixelwiseError(f"folder {folder} does not exist; unzip {archive} into {root} ({_LAYOUT}){have}")
    fix = f"expected {_LAYOUT}"
    images = keyed(list_images(images_dir, "Cityscapes photo", fix, recursive=True,
                               pattern="*_leftImg8bit.png"), "Cityscapes photos")
    labels = keyed(list_images(labels_dir, "Cityscapes label", fix, recursive=True,
                               pattern="*_gtFine_labelIds.png"), "Cityscapes label maps")
    groups = {str(images_dir): images, f"{labels_dir} (*_gtFine_labelIds.png)": labels}
    if instances:
        groups[f"{labels_dir} (*_gtFine_instanceIds.png)"] = keyed(
            list_images(labels_dir, "Cityscapes instance", fix + " (or set data.instance_edge=false)",
                        recursive=True, pattern="*_gtFine_instanceIds.png"), "Cityscapes instance maps")
    keys = pair(groups)
    inst = list(groups.values())[2] if instances else {}
    return [LabelRecord(k, labels[k], images[k], inst.get(k)) for k in keys]


# (labels, images, instances) folder names of the flat layouts, in the order they are tried.
FLAT_LAYOUTS = (
    ("{split}_label", "{split}_img", ("{split}_inst",)),  # pix2pixHD
    ("{split}_labels", "{split}_images", ("{split}_instances", "{split}_inst")),  # SPADE / ASAP-Net
)


def flat_records(root: Path, split: str, instances: bool) -> list[LabelRecord]:
    """Samples of the flat layouts, files matched by name (Cityscapes suffixes ignored)."""
    names = " or ".join(f"{lab}/ + {img}/ [+ {inst[0]}/]".format(split=split) for lab, img, inst in FLAT_LAYOUTS)
    require_dir(root, "dataset root (data.root)", f"point data.root at a folder holding {names}")
    layout = next((lay for lay in FLAT_LAYOUTS if (root / lay[0].format(split=split)).is_dir()), None)
    if layout is None:
        raise PixelwiseError(f"{root} has no {split!r} label folder; expected {names}")
    label_name, image_name, instance_names = layout
    label_dir = root / label_name.format(split=split)
    image_dir = root / image_name.format(split=split)
    fix = f"expected {names}"
    labels = keyed(list_images(label_dir, "label", fix), str(label_dir))
    images = keyed(list_images(image_dir, "photo", fix), str(image_dir))
    groups = {str(label_dir): labels, str(image_dir): images}
    inst: dict[str, Path] = {}
    if instances:
        inst_dirs = [root / n.format(split=split) for n in instance_names]
        inst_dir = next((d for d in inst_dirs if d.is_dir()), None)
        if inst_dir is None:
            raise PixelwiseError(
                f"data.instance_edge is true but {root} has no instance folder ({inst_dirs[0].name}/); add the "
                f"instance maps or set data.instance_edge=false"
            )
        inst = keyed(list_images(inst_dir, "instance", fix), str(inst_dir))
        groups[str(inst_dir)] = inst
    keys = pair(groups)
    return [LabelRecord(k, labels[k], images[k], inst.get(k)) for k in keys]
