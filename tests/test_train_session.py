"""The optimizers' weight decay (optim.weight_decay_g / weight_decay_d): AdamW on weights, never on biases."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.train.config import load_run_config
from pixelwise.train.session import adam


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))


def test_no_weight_decay_is_plain_adam():
    opt = adam(list(_net().parameters()), 1e-3, (0.5, 0.999))
    assert type(opt) is torch.optim.Adam and opt.defaults["betas"] == (0.5, 0.999)


def test_weight_decay_shrinks_weights_and_leaves_biases_and_norms():
    net = _net()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = adam(list(net.parameters()), 1e-2, (0.9, 0.999), weight_decay=5.0)
    assert type(opt) is torch.optim.AdamW
    for p in net.parameters():
        p.grad = torch.zeros_like(p)  # no gradient step: only the decay moves a parameter
    opt.step()
    for name, p in net.named_parameters():
        if p.dim() >= 2:  # conv kernels: multiplied by 1 - lr * weight_decay
            assert torch.allclose(p, before[name] * (1 - 1e-2 * 5.0)), name
        else:  # conv biases, batch-norm weight and bias
            assert torch.equal(p, before[name]), name


def test_weight_decay_config():
    config = load_run_config("asapnet-tiny", ["optim.weight_decay_g=0.5"])
    assert config.optim.weight_decay_g == 0.5 and config.optim.weight_decay_d == 0.0
    assert load_run_config("asapnet-cityscapes", []).optim.weight_decay_g == 0.0  # the paper: plain Adam
    with pytest.raises(PixelwiseError, match="weight_decay"):
        load_run_config("asapnet-tiny", ["optim.weight_decay_d=-1"])
