"""Model files, the registry and the convert command."""

from __future__ import annotations

import json

import pytest
import torch

import pixelwise
from pixelwise import official
from pixelwise.cli import main
from pixelwise.errors import PixelwiseError
from pixelwise.models.io import from_pretrained, load_generator

from .helpers import load_fixture

TINY = {
    "asapnet": dict(label_nc=5, downsampling=8, learned_ds_factor=4, lr_width=4, lr_max_width=8, lr_depth=1,
                    hr_width=4, hr_depth=3),
    "deblurgan-asap": dict(downsampling=8, learned_ds_factor=8, lr_width=4, lr_max_width=8, lr_depth=1,
                           hr_width=4),
    "pix2pixhd": dict(input_nc=6, ngf=4, n_downsample_global=2, n_blocks_global=1),
    "pix2pixhd-local": dict(input_nc=6, ngf=4, n_downsample_global=2, n_blocks_global=1, n_blocks_local=1),
    "deblurgan": dict(ngf=4, n_blocks=2),
}


def test_registry_names():
    names = pixelwise.list_models()
    for required in ("asapnet", "pix2pixhd", "pix2pixhd-local", "deblurgan", "deblurgan-asap"):
        assert required in names
    assert {"pix2pixhd-multiscale", "spade-multiscale", "patchgan"} <= set(pixelwise.list_models("discriminator"))
    with pytest.raises(PixelwiseError, match="unknown model"):
        pixelwise.create_model("nope")
    with pytest.raises(PixelwiseError, match="no option"):
        pixelwise.create_model("deblurgan", width=3)


@pytest.mark.parametrize("name", sorted(TINY))
def test_save_and_from_pretrained_round_trip(tmp_path, name):
    model = pixelwise.create_model(name, **TINY[name]).eval()
    for p in model.parameters():  # non-trivial weights, so a wrong load cannot pass
        p.data.normal_(0, 0.3)
    model.save_pretrained(str(tmp_path / name))
    record = json.loads((tmp_path / name / "config.json").read_text())
    assert record["model"] == name
    again = pixelwise.from_pretrained(tmp_path / name)
    assert again.config == model.config
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    channels = model.config.in_channels if name.startswith(("asapnet", "deblurgan-asap")) else model.config.input_nc
    x = torch.rand(2, channels, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x), again(x))


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(PixelwiseError, match="config.json is missing"):
        from_pretrained(tmp_path)
    model = pixelwise.create_model("deblurgan", **TINY["deblurgan"])
    model.save_pretrained(str(tmp_path / "m"))
    (tmp_path / "m" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(PixelwiseError, match="damaged"):
        load_generator(tmp_path / "m")
    with pytest.raises(PixelwiseError, match="holds no model"):
        load_generator(tmp_path)


def test_asapnet_any_batch_and_size_one_instance():
    model = pixelwise.create_model("asapnet", **TINY["asapnet"]).eval()
    with torch.no_grad():
        for b, h, w in ((1, 16, 32), (3, 40, 24), (2, 64, 64)):
            x = torch.rand(b, model.config.in_channels, h, w)
            out = model(x)
            assert out.shape == (b, 3, h, w)
            # alone or in a batch, the same result: no state cached from an earlier size or batch
            assert (model(x[:1]) - out[:1]).abs().max() <= 1e-4  # batched convs reorder sums
    with pytest.raises(ValueError, match="divisible by 8"):
        model(torch.rand(1, model.config.in_channels, 20, 16))


def test_deblurgan_asap_global_residual_keeps_range():
    model = pixelwise.create_model("deblurgan-asap", **TINY["deblurgan-asap"]).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        out = model(x)
        no_res = pixelwise.create_model("deblurgan-asap", **{**TINY["deblurgan-asap"], "global_residual": False})
        no_res.load_state_dict(model.state_dict())
        inner = no_res.eval()(x)
    assert torch.equal(out, torch.clamp(x + inner, -1, 1))


def test_discriminators_return_features_per_scale():
    x = torch.rand(2, 9, 64, 64)
    d = pixelwise.create_model("pix2pixhd-multiscale", input_nc=9, ndf=4)
    feats = d(x)
    assert len(feats) == 3 and all(len(f) == 5 for f in feats)
    assert feats[1][-1].shape[-1] < feats[0][-1].shape[-1]
    s = pixelwise.create_model("spade-multiscale", input_nc=9, ndf=4)
    assert any(k.endswith("weight_orig") for k in s.state_dict())
    assert len(s(x)) == 2
    c = pixelwise.create_model("patchgan", ndf=4)
    assert c(x[:, :3])[0][-1].shape[1] == 1


def test_convert_cli(tmp_path, capsys):
    meta, tensors = load_fixture("pix2pixhd_local")
    state = {k[len("state/"):]: v for k, v in tensors.items() if k.startswith("state/")}
    torch.save(state, tmp_path / "latest_net_G.pth")
    (tmp_path / "opt.json").write_text(json.dumps(meta["architecture_options"]))
    code = main(["convert", str(tmp_path / "latest_net_G.pth"), "--family", "pix2pixhd",
                 "--options", str(tmp_path / "opt.json"), "--output", str(tmp_path / "out")])
    assert code == 0
    model = load_generator(tmp_path / "out")
    with torch.no_grad():
        assert (model(tensors["input"]) - tensors["output"]).abs().max() <= 1e-5
    # wrong options: one clear error, exit code 2, no traceback
    code = main(["convert", str(tmp_path / "latest_net_G.pth"), "--family", "pix2pixhd",
                 "--options", str(tmp_path / "opt.json"), "--set", "ngf=8", "--output", str(tmp_path / "bad")])
    assert code == 2
    err = capsys.readouterr().err
    assert "mis-shaped" in err and "model.1.weight: checkpoint (8, 36, 7, 7) vs model (16, 36, 7, 7)" in err
    assert not (tmp_path / "bad").exists()
    assert official.build("pix2pixhd", {"netG": "local"}).config.netG == "local"
