"""Our generators against the official reference implementations (golden outputs in shared/fixtures)."""

from __future__ import annotations

import json

import pytest
import torch

from pixelwise import official
from pixelwise.errors import PixelwiseError

from .helpers import FAMILY, FIXTURES, fixture_cases, load_fixture

CASES = fixture_cases()


def test_all_public_fixtures_are_found():
    assert len(CASES) >= 7, f"expected the 7 public fixtures in {FIXTURES}"


def _state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("state/"):]: v for k, v in tensors.items() if k.startswith("state/")}


@pytest.mark.parametrize("case", CASES)
def test_fixture_output(case: str):
    meta, tensors = load_fixture(case)
    model = official.build(FAMILY[meta["family"]], meta["architecture_options"])
    official.load(model, _state(tensors))
    if case.endswith("legacy_keys"):
        assert len(_state(tensors)) > len(model.state_dict())
    else:
        assert [[k, list(v.shape)] for k, v in model.state_dict().items()] == meta["state_dict"]["keys_in_order"]
    with torch.no_grad():
        out = model(tensors["input"])
    assert out.shape == tensors["output"].shape
    assert (out - tensors["output"]).abs().max().item() <= 1e-5
    assert out.min() >= -1 and out.max() <= 1


SEMANTIC_CASES = [c for c in CASES if "label" in json.loads((FIXTURES / f"{c}.json").read_text())["tensors"]]


def test_semantic_cases_are_found():
    assert {"asapnet_semantic", "asapnet_reflect", "pix2pixhd_global", "pix2pixhd_local"} <= set(SEMANTIC_CASES)


@pytest.mark.parametrize("case", SEMANTIC_CASES)
def test_fixture_input_from_label_and_instance(case: str):
    meta, tensors = load_fixture(case)
    family = FAMILY[meta["family"]]
    built = official.preprocess_semantic(tensors["label"], tensors.get("instance"), meta["architecture_options"],
                                         family=family)
    assert built.dtype == tensors["input"].dtype
    assert torch.equal(built, tensors["input"])


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith("asapnet")])
def test_asapnet_intermediates(case: str):
    meta, tensors = load_fixture(case)
    model = official.build("asapnet", meta["architecture_options"])
    official.load(model, _state(tensors))
    with torch.no_grad():
        if "aux/lowres_input" in tensors:
            assert (model.lowres_input(tensors["input"]) - tensors["aux/lowres_input"]).abs().max() <= 1e-6
        params = model.predict_params(tensors["input"])
    ref = tensors["aux/lr_features"]
    assert (params - ref).abs().max() <= 1e-5 * max(1.0, ref.abs().max().item())
    derived = meta["derived"]
    assert model.config.mlp_channels == derived["hr_mlp_channels"]
    assert model.config.params_per_cell == derived["num_mlp_params_per_cell"]


def test_pix2pixhd_local_intermediates():
    from pixelwise.models.layers import avg_pool_downsample

    meta, tensors = load_fixture("pix2pixhd_local")
    model = official.build("pix2pixhd", meta["architecture_options"])
    official.load(model, _state(tensors))
    down = avg_pool_downsample(tensors["input"])
    assert torch.equal(down, tensors["aux/input_downsampled"])
    with torch.no_grad():
        assert (model.model(down) - tensors["aux/global_features"]).abs().max() <= 1e-5


def test_manifests_key_names_and_shapes_on_meta_device():
    manifests = json.loads((FIXTURES / "manifests.json").read_text())["configs"]
    assert len(manifests) >= 8
    for name, entry in manifests.items():
        with torch.device("meta"):
            model = official.build(FAMILY[entry["family"]], entry["architecture_options"])
        ours = [[k, list(v.shape)] for k, v in model.state_dict().items()]
        if name.endswith("released_checkpoint_keys"):
            legacy = {k: v for k, v in entry["state_dict"] if "running_" not in k}
            assert ours == [[k, v] for k, v in legacy.items()], name
            fake = {k: torch.zeros(v, device="meta") for k, v in entry["state_dict"]}
            official.load(model, fake)  # the 46 legacy buffers are dropped, the rest fits strictly
            continue
        assert ours == entry["state_dict"], name
        assert model.num_parameters() == entry["total_params"], name


def test_load_reports_missing_unexpected_and_misshaped_keys():
    meta, tensors = load_fixture("deblurgan")
    model = official.build("deblurgan", meta["architecture_options"])
    state = {f"module.{k}": v for k, v in _state(tensors).items()}  # DataParallel prefixes are stripped
    official.load(model, state)
    del state["module.model.1.weight"]
    state["module.model.99.weight"] = torch.zeros(1)
    state["module.model.4.bias"] = torch.zeros(5)
    with pytest.raises(PixelwiseError) as err:
        official.load(model, state)
    text = str(err.value)
    assert "missing (1): model.1.weight" in text
    assert "unexpected (1): model.99.weight" in text
    assert "model.4.bias: checkpoint (5,) vs model (16,)" in text


def test_load_from_pth_file_weights_only(tmp_path):
    meta, tensors = load_fixture("deblurgan_legacy_keys")
    path = tmp_path / "latest_net_G.pth"
    torch.save(_state(tensors), path)
    model = official.load(official.build("deblurgan", meta["architecture_options"]), path)
    with torch.no_grad():
        assert (model(tensors["input"]) - tensors["output"]).abs().max() <= 1e-5
    with pytest.raises(PixelwiseError, match="does not exist"):
        official.load(model, tmp_path / "nope.pth")


def test_build_defaults_are_the_official_ones():
    assert official.build("deblurgan").config.learn_residual is False  # official --learn_residual is opt-in
    assert official.build("deblurgan", {"learn_residual": True}).config.learn_residual is True
    with torch.device("meta"):
        assert official.build("pix2pixhd").num_parameters() == 182546755
        asap = official.build("asapnet")
    assert asap.config.downsampling == 16 and asap.config.in_channels == 36


def test_label_id_out_of_range_is_a_clear_error():
    label = torch.full((1, 1, 4, 4), 9, dtype=torch.uint8)
    with pytest.raises(PixelwiseError, match="label id 9 .* raise label_nc"):
        official.preprocess_semantic(label, None, {"label_nc": 8, "no_instance_edge": True}, family="asapnet")


def test_dontcare_label_maps_255_to_the_extra_channel():
    label = torch.tensor([[[[0, 255], [2, 1]]]], dtype=torch.uint8)
    x = official.preprocess_semantic(label, None, {"label_nc": 3, "contain_dontcare_label": True,
                                                   "no_instance_edge": True}, family="asapnet")
    assert x.shape == (1, 4, 2, 2)
    assert x[0, 3, 0, 1] == 1 and x[0, :, 0, 1].sum() == 1
