"""ASAPNetConfig (the paper's fields, then pixelwise's variants, saved flat in config.json) and ASAPNetExecution
(how a generator runs: never part of the config, set only through ``set_execution``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from torch import nn

import pixelwise
from pixelwise.errors import PixelwiseError
from pixelwise.models.asapnet import ASAPNetConfig, ASAPNetExecution, ASAPNetGenerator, set_execution
from pixelwise.models.io import from_pretrained
from pixelwise.registry import create_model

PRETRAINED = Path(pixelwise.__file__).parent / "pretrained"
TINY = dict(label_nc=5, instance_edge=False, lr_instance=False, downsampling=4, learned_ds_factor=2, lr_width=8,
            lr_max_width=16, lr_depth=1, hr_width=8, hr_depth=3)


def test_variants_are_one_block_after_the_papers_fields_and_default_to_the_paper():
    names = [f.name for f in dataclasses.fields(ASAPNetConfig)]
    variants = list(ASAPNetConfig.variant_fields)
    assert names[-len(variants):] == variants  # one separated block, last
    assert "hr_path" not in names  # an execution setting, not architecture
    assert ASAPNetConfig().variants() == {}
    tiny = ASAPNetConfig(shared_mlp_init=True, cell_blend=True, pe_frequencies=0, hr_label_smoothing=5)
    assert tiny.variants() == {"shared_mlp_init": True, "cell_blend": True, "pe_frequencies": 0,
                               "hr_label_smoothing": 5}


def test_config_with_every_variant_round_trips_through_config_json(tmp_path):
    model = create_model("asapnet", **TINY, shared_mlp_init=True, zero_init_output=True, cell_blend=True,
                         pe_frequencies=1, hr_label_smoothing=3)
    model.save_pretrained(tmp_path / "m", card=False)
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["config"]
    assert saved["cell_blend"] is True and saved["hr_label_smoothing"] == 3  # flat, as before
    assert "hr_path" not in saved and "execution" not in saved
    again = from_pretrained(tmp_path / "m")
    assert again.config == model.config
    x = torch.randint(0, 5, (1, 1, 8, 12))
    with torch.no_grad():
        assert torch.equal(again.forward_labels(x), model.eval().forward_labels(x))


@pytest.mark.parametrize("folder", sorted(p.name for p in PRETRAINED.iterdir() if (p / "config.json").exists()))
def test_shipped_model_folders_still_load(folder):
    record = json.loads((PRETRAINED / folder / "config.json").read_text())
    model = from_pretrained(PRETRAINED / folder)
    assert model.registry_name == record["model"]
    if isinstance(model, ASAPNetGenerator):
        assert model.hr_path == record["config"].get("hr_path", "fast")


@pytest.mark.parametrize("path", ["fast", "reference"])
def test_an_old_config_json_with_hr_path_loads_it_as_an_execution_setting(tmp_path, path):
    model = create_model("asapnet", **TINY)
    model.save_pretrained(tmp_path / "m", card=False)
    record = json.loads((tmp_path / "m" / "config.json").read_text())
    record["config"]["hr_path"] = path  # what config.json files written before the execution options held
    (tmp_path / "m" / "config.json").write_text(json.dumps(record))
    again = from_pretrained(tmp_path / "m")
    assert again.execution == ASAPNetExecution(hr_path=path) and again.config == model.config


def test_reference_registry_names_preset_the_execution_and_options_validate():
    for name, options in (("asapnet-reference", TINY), ("deblurgan-asap-reference", dict(downsampling=4,
                                                                                          learned_ds_factor=2))):
        model = create_model(name, **options)
        assert model.execution.hr_path == "reference" and not hasattr(model.config, "hr_path")
    model = create_model("asapnet", **TINY, hr_path="reference")  # an execution key among the overrides
    assert model.hr_path == "reference"
    with pytest.raises(PixelwiseError, match="hr_path"):
        model.set_execution(hr_path="turbo")
    with pytest.raises(PixelwiseError, match="hr_block_pixels"):
        model.set_execution(hr_block_pixels=0)
    with pytest.raises(PixelwiseError, match="hr_kernel"):
        model.set_execution(hr_kernel="triton")
    assert model.execution.hr_path == "reference"  # a refused change leaves the options as they were


def test_execution_is_one_typed_object_set_only_through_set_execution():
    model = create_model("asapnet", **TINY)
    for name in ("hr_kernel", "hr_block_pixels", "lowres_channels_last"):
        with pytest.raises(AttributeError):
            setattr(model, name, None)  # no loose attributes: the execution object holds them
    assert model.set_execution(hr_block_pixels=64, lowres_channels_last=True) == model.execution
    assert (model.hr_block_pixels, model.lowres_channels_last, model.hr_path) == (64, True, "fast")
    model.hr_path = "reference"  # the one assignable alias: set_execution(hr_path=...)
    assert model.execution == ASAPNetExecution("reference", 64, None, True)
    assert "execution" not in json.dumps(dataclasses.asdict(model.config))
    assert not any("execution" in k for k in model.state_dict())


def test_set_execution_reaches_every_asapnet_inside_a_model():
    inner = [create_model("asapnet", **TINY), create_model("asapnet", **TINY)]
    wrapper = nn.ModuleList([nn.Identity(), nn.Sequential(inner[0]), inner[1]])
    assert set_execution(wrapper, hr_path="reference") == 2
    assert [g.hr_path for g in inner] == ["reference", "reference"]
    assert set_execution(create_model("deblurgan", ngf=4, n_blocks=1), hr_path="reference") == 0
