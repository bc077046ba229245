"""Training presets: one naming scheme (<model>-<data>-<size>), ``base:`` lists of overlays, old names as silent
aliases of the same config, descriptions true to their values, and no machine paths or dated measurements in the
shipped YAML (measurements live in docs/training.md)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pixelwise.config import CONFIG_DIR, list_presets, to_dict
from pixelwise.errors import PixelwiseError
from pixelwise.hub import packaged_names
from pixelwise.presets import (
    PRESET_ALIASES,
    PRESET_DATA,
    PRESET_SIZES,
    canonical_name,
    is_preset,
    load_preset_dict,
    split_name,
)
from pixelwise.train.config import load_run_config

ROOT = Path(__file__).resolve().parents[1]
PRESETS = list_presets()

# the generator family a description starts with -> model.name
FAMILIES = {"ASAP-Net": "asapnet", "pix2pixHD global generator": "pix2pixhd",
            "pix2pixHD local enhancer": "pix2pixhd-local", "DeblurGAN": "deblurgan", "DeblurGAN-ASAP": "deblurgan-asap"}
# the data a description names -> data.format
DATA_WORDS = {"Cityscapes": "cityscapes", "GoPro": "gopro", "bundled label maps": "bundled-labels",
              "bundled photos": "bundled-blur", "sharp photos in data.root": "blur"}


def _get(d: dict[str, Any], dotted: str, default: Any = None) -> Any:
    for key in dotted.split("."):
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def _option(d: dict[str, Any], key: str) -> Any:
    return _get(d, f"model.options.{key}")


def _gan_on(d: dict[str, Any], kind: str) -> bool:
    return _get(d, "loss.gan") == kind and _get(d, "loss.gan_weight", 1.0) > 0


# every claim a description may make -> the check on the preset's values (a claim not listed here fails the test:
# add its check when you add the claim)
CLAIMS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "hinge GAN": lambda d: _gan_on(d, "hinge"),
    "LSGAN": lambda d: _gan_on(d, "lsgan"),
    "WGAN-GP": lambda d: _gan_on(d, "wgan-gp") and _get(d, "loss.gp_weight", 0) > 0,
    "feature matching": lambda d: _get(d, "loss.feature_matching", 0) > 0,
    "VGG": lambda d: _get(d, "loss.vgg", 0) > 0 and _get(d, "loss.vgg_weights") == "imagenet",
    "VGG content loss": lambda d: _get(d, "loss.content", 0) > 0 and _get(d, "loss.vgg_weights") == "imagenet",
    "L1": lambda d: _get(d, "loss.l1", 0) > 0,
    "L1 only": lambda d: _get(d, "loss.l1", 0) > 0 and all(
        _get(d, f"loss.{k}", 0) == 0 for k in ("gan_weight", "feature_matching", "vgg", "content", "mse")),
    "MSE": lambda d: _get(d, "loss.mse", 0) > 0 and _get(d, "loss.l1", 0) == 0,
    "5 critic steps": lambda d: _get(d, "train.critic_steps") == 5,
    "adversary ramped in": lambda d: _get(d, "train.gan_warmup_steps", 0) > 0 and _get(d, "loss.gan_weight", 1.0) > 0,
    "identity start": lambda d: _option(d, "zero_init_output") is True,
    "shared-MLP init": lambda d: _option(d, "shared_mlp_init") is True,
    "blended cells": lambda d: _option(d, "cell_blend") is True,
    "label shares": lambda d: (_option(d, "hr_label_smoothing") or 1) > 1,
    "no positional encoding": lambda d: _option(d, "pe_frequencies") == 0,
    "weight decay": lambda d: _get(d, "optim.weight_decay_g", 0) > 0,
    "batch norm": lambda d: _option(d, "norm") == "batch",
    "resize-conv": lambda d: _option(d, "upsample") == "resize" or (
        _option(d, "upsampling") == "resize-conv" and (_option(d, "n_downsampling") or 2) > 0),
    "full resolution": lambda d: _option(d, "n_downsampling") == 0,
    "5x5 pixel window": lambda d: _option(d, "hr_neighbourhood") == 5,
    "S=4": lambda d: _option(d, "downsampling") == 4,
    "G1 from a trained global run": lambda d: bool(_get(d, "model.init_from")),
    "no adversary": lambda d: _get(d, "loss.gan_weight", 1.0) == 0 and _get(d, "loss.feature_matching", 0) == 0,
    "PSNR loss": lambda d: _get(d, "loss.psnr", 0) > 0,
    "Charbonnier loss": lambda d: _get(d, "loss.charbonnier", 0) > 0,
    "NAFNet-block U-Net": lambda d: _option(d, "architecture") == "unet",
    "NAFNet-block low-res stream": lambda d: _option(d, "lowres_arch") == "unet",
    "dilated-window per-pixel MLP": lambda d: len(_option(d, "hr_dilations") or [1]) > 1,
    "60-px paths": lambda d: _get(d, "data.blur_max_length") == 60,
}
HEAD = re.compile(rf"^(?P<family>.+) (?P<size>{'|'.join(PRESET_SIZES)}), (?P<data>.+?) "
                  r"(?P<h>\d+)x(?P<w>\d+)(?P<crops> crops)?$")
SHIPPED_CLAIM = re.compile(r"^the shipped pixelwise/(?P<name>[\w-]+) recipe$")


def test_presets_follow_the_naming_scheme() -> None:
    assert PRESETS, "no presets found"
    for name in PRESETS:
        model, data, _size = split_name(name)
        loaded = load_preset_dict(name)
        assert loaded["model"]["name"] == model, f"{name}: model.name is {loaded['model']['name']}"
        assert loaded["data"]["format"] in PRESET_DATA[data], f"{name}: data.format {loaded['data']['format']}"
    with pytest.raises(PixelwiseError, match="<model>-<data>-<size>"):
        split_name("deblurgan-huge")


@pytest.mark.parametrize("name", PRESETS)
def test_description_claims_are_true(name: str) -> None:
    loaded = load_preset_dict(name)
    description = loaded["description"]
    head, _, rest = description.partition(" (")
    assert rest.endswith(")"), f"{name}: description {description!r} is not 'HEAD (claim, claim, ...)'"
    match = HEAD.match(head)
    assert match, f"{name}: {head!r} is not '<family> <size>, <data> HxW[ crops]'"
    _model, _data, size = split_name(name)
    assert FAMILIES.get(match["family"]) == loaded["model"]["name"], f"{name}: family {match['family']!r}"
    assert match["size"] == size
    assert DATA_WORDS.get(match["data"]) == loaded["data"]["format"], f"{name}: data {match['data']!r}"
    h, w = int(match["h"]), int(match["w"])
    data = loaded["data"]
    if match["crops"]:
        assert (data.get("crop_height"), data.get("crop_width")) == (h, w), f"{name}: crops {h}x{w}"
    else:  # a size the data is loaded at (a dimension left unset follows the photo)
        assert data.get("load_height") in (h, None) and data.get("load_width") in (w, None), f"{name}: {h}x{w}"
    for claim in (c.strip() for part in rest[:-1].split(", ") for c in part.split(" + ")):
        shipped = SHIPPED_CLAIM.match(claim)
        if shipped:
            assert shipped["name"] in packaged_names() and shipped["name"].startswith(loaded["model"]["name"])
            assert size in ("small", "medium")
            continue
        assert claim in CLAIMS, f"{name}: claim {claim!r} has no check in tests/test_presets.py::CLAIMS"
        assert CLAIMS[claim](loaded), f"{name}: the description says {claim!r}, the values do not"


def test_the_drifted_claim_would_be_caught() -> None:
    """The old deblurgan-tiny description said "L1 first" while it set MSE: L1 is now checked against the loss."""
    assert not CLAIMS["L1"](load_preset_dict("deblurgan-bundled-tiny"))
    assert CLAIMS["MSE"](load_preset_dict("deblurgan-bundled-tiny"))


@pytest.mark.parametrize("old", sorted(PRESET_ALIASES))
def test_old_names_load_the_same_config_silently(old: str, capsys: pytest.CaptureFixture[str]) -> None:
    new = PRESET_ALIASES[old]
    assert new in PRESETS and old not in PRESETS and is_preset(old) and canonical_name(old) == new
    assert to_dict(load_run_config(old)) == to_dict(load_run_config(new))
    assert load_preset_dict(old) == load_preset_dict(new)
    assert capsys.readouterr() == ("", "")


def test_base_takes_a_list_of_overlays(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("train: {batch_size: 2, log_every: 5}\nloss: {l1: 3.0}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\ntrain: {batch_size: 3}\n")
    child = tmp_path / "child.yaml"
    child.write_text("base: [deblurgan-bundled-tiny, b.yaml]\ntrain: {max_steps: 7}\n")
    config = load_run_config(str(child))
    assert (config.train.batch_size, config.train.log_every, config.train.max_steps) == (3, 5, 7)  # later wins
    assert config.loss.l1 == 3.0 and config.loss.mse == 1000.0 and config.model.options["ngf"] == 16
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: [deblurgan-bundled-tiny, 3]\n")
    with pytest.raises(PixelwiseError, match="'base' takes preset names or YAML paths"):
        load_run_config(str(bad))


def test_overlays_are_not_presets_and_ship_with_the_package() -> None:
    overlays = sorted(p.name for p in (CONFIG_DIR / "overlays").glob("*.yaml"))
    assert overlays and not set(PRESETS) & {Path(o).stem for o in overlays}
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["pixelwise"]
    for path in CONFIG_DIR.rglob("*.yaml"):
        relative = str(path.relative_to(CONFIG_DIR.parent))
        assert any(fnmatch.fnmatch(relative, p) and relative.count("/") == p.count("/") for p in patterns), relative


def test_yaml_has_no_machine_paths_or_dated_measurements() -> None:
    machine_path = re.compile(r"(/work/|/home/|/Users/|/root/|/tmp/|[A-Za-z]:\\)")
    dated = re.compile(r"\b20\d\d-\d\d-\d\d\b")
    for path in CONFIG_DIR.rglob("*.yaml"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{path.relative_to(CONFIG_DIR)}:{number}"
            assert not machine_path.search(line), f"{where}: a path of someone's machine: {line.strip()}"
            assert not dated.search(line), f"{where}: a dated measurement belongs in docs/training.md: {line.strip()}"
            assert "README" not in line, f"{where}: the measurements moved from README to docs/: {line.strip()}"
