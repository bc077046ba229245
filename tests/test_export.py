"""ONNX export with dynamic batch, height and width, checked with onnxruntime."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from pixelwise.cli import main
from pixelwise.errors import PixelwiseError
from pixelwise.export import example_inputs, export_onnx, verify_onnx
from pixelwise.registry import create_model

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the exporter's notes on axis names
TINY_ASAP = dict(lr_width=8, lr_max_width=16, lr_depth=1, hr_width=8, hr_depth=3)


def test_asapnet_label_graph_two_sizes_from_one_file(tmp_path, capsys):
    """The fast label path (gathers, scatter-add pre-downsample, reshapes by S) with symbolic H, W, B."""
    torch.manual_seed(0)
    model = create_model("asapnet", label_nc=6, contain_dontcare_label=True, lr_instance=False,
                         downsampling=8, learned_ds_factor=4, padding="reflect", **TINY_ASAP).eval()
    model.save_pretrained(str(tmp_path / "model"))
    out = tmp_path / "asap.onnx"
    assert main(["export", str(tmp_path / "model"), "--format", "onnx", "--output", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["label", "instance"]
    assert all(isinstance(d, str) for d in session.get_inputs()[0].shape[0:1] + session.get_inputs()[0].shape[2:])
    for batch, (h, w) in ((1, (16, 40)), (3, (48, 24))):
        inputs = example_inputs(model, "labels", h, w, batch=batch, seed=h)
        inputs["label"][:, :, :4, :4] = 255  # dontcare ids map inside the graph
        got = session.run(["image"], {k: v.numpy() for k, v in inputs.items()})[0]
        with torch.no_grad():
            expected = model.forward_labels(inputs["label"], inputs["instance"]).numpy()
        assert got.shape == (batch, 3, h, w)
        assert np.abs(got - expected).max() <= 1e-4


def test_rgb_asapnet_and_pix2pixhd_dense_graphs(tmp_path):
    torch.manual_seed(0)
    model = create_model("deblurgan-asap", downsampling=8, learned_ds_factor=8, **TINY_ASAP).eval()
    path = export_onnx(model, tmp_path / "dasap.onnx", verify=False)
    assert max(verify_onnx(model, path, [(16, 40), (32, 8)], batch=2)) <= 1e-4
    p2p = create_model("pix2pixhd", input_nc=7, ngf=4, n_downsample_global=2, n_blocks_global=1).eval()
    path = export_onnx(p2p, tmp_path / "p2p.onnx", verify=False)  # label maps in, one-hot + edges in the graph
    assert max(verify_onnx(p2p, path, [(12, 20), (8, 32)], batch=2)) <= 1e-4
    with pytest.raises(PixelwiseError, match="photos"):
        export_onnx(model, tmp_path / "x.onnx", input_kind="labels")


@pytest.mark.parametrize("options", [dict(cell_blend=True),
                                     dict(cell_blend=True, pe_frequencies=0, hr_label_smoothing=5)])
def test_asapnet_cell_blend_label_graph(tmp_path, options):
    """ASAP-Net with blended cells (and asapnet-tiny's other MLP-input options: no positional encoding, label
    shares of a window) exports its label entry with parity."""
    torch.manual_seed(0)
    model = create_model("asapnet", label_nc=5, instance_edge=False, lr_instance=False, downsampling=4,
                         learned_ds_factor=2, **options, **TINY_ASAP).eval()
    with torch.no_grad():  # weights large enough that neighbouring cells differ (the official init is ~0)
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    path = export_onnx(model, tmp_path / "blend.onnx", verify=False)
    assert max(verify_onnx(model, path, [(16, 24), (8, 12)], batch=2)) <= 1e-4
