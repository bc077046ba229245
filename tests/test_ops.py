"""The one one-hot / instance-edge implementation (pixelwise.ops) against the official definitions."""

from __future__ import annotations

import pytest
import torch

from pixelwise.errors import PixelwiseError
from pixelwise.ops import check_label_ids, instance_edges, one_hot, one_hot_labels, semantic_input


def _official_edges(t: torch.Tensor) -> torch.Tensor:
    """pix2pixHD's get_edges: in-place ORs of neighbour differences."""
    edge = torch.zeros(t.shape, dtype=torch.bool)
    edge[..., :, 1:] |= t[..., :, 1:] != t[..., :, :-1]
    edge[..., :, :-1] |= t[..., :, 1:] != t[..., :, :-1]
    edge[..., 1:, :] |= t[..., 1:, :] != t[..., :-1, :]
    edge[..., :-1, :] |= t[..., 1:, :] != t[..., :-1, :]
    return edge.float()


def test_instance_edges_equal_the_official_definition():
    instance = torch.randint(0, 3, (2, 1, 9, 13), dtype=torch.int32)
    assert torch.equal(instance_edges(instance), _official_edges(instance))
    assert instance_edges(instance).sum() > 0


def test_one_hot_equals_scatter():
    label = torch.randint(0, 5, (2, 1, 6, 7))
    expected = torch.zeros(2, 5, 6, 7).scatter_(1, label, 1.0)
    assert torch.equal(one_hot(label, 5), expected)
    assert torch.equal(one_hot_labels(label[:, 0], 5), expected)  # (B, H, W) accepted


def test_out_of_range_ids_name_the_option():
    with pytest.raises(PixelwiseError, match=r"label id 9 .*raise data.label_nc"):
        check_label_ids(torch.full((1, 1, 2, 2), 9), 5, option="data.label_nc")


def test_semantic_input_appends_the_edge_channel():
    label = torch.randint(0, 4, (1, 1, 8, 8))
    x = semantic_input(label, 4, label * 10)
    assert x.shape == (1, 5, 8, 8)
    assert torch.equal(x[:, 4:], _official_edges(label * 10))


def test_ops_export_to_onnx_with_symbolic_size(tmp_path):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort
    from torch.export import Dim

    class Net(torch.nn.Module):
        def forward(self, label: torch.Tensor, instance: torch.Tensor) -> torch.Tensor:
            return semantic_input(label, 4, instance)

    label = torch.randint(0, 4, (1, 1, 8, 8))
    h, w = Dim("h", min=2, max=64), Dim("w", min=2, max=64)
    program = torch.onnx.export(Net(), (label, label * 3), dynamo=True, dynamic_shapes=({2: h, 3: w}, {2: h, 3: w}),
                                input_names=["label", "instance"])
    program.save(str(tmp_path / "ops.onnx"))
    other = torch.randint(0, 4, (1, 1, 5, 11))
    got = ort.InferenceSession(str(tmp_path / "ops.onnx")).run(None, {"label": other.numpy(),
                                                                       "instance": (other * 3).numpy()})[0]
    assert torch.equal(torch.from_numpy(got), semantic_input(other, 4, other * 3))


def test_label_range_accepts_arrays_dontcare_and_names_the_fix():
    import numpy as np

    from pixelwise.ops import check_label_range

    check_label_range(np.array([[0, 4]], dtype=np.uint8), 5)
    check_label_range(torch.tensor([0, 255]), 5, dontcare=True, allow_255=True)  # raw dontcare id passes
    check_label_range(torch.empty(0, dtype=torch.long), 1)
    with pytest.raises(PixelwiseError, match=r"label id 255 but data.label_nc=5 allows ids 0..4; set "
                                             r"data.contain_dontcare_label=true"):
        check_label_range(np.array([255]), 5, "label map a.png", "data.label_nc")
    with pytest.raises(PixelwiseError, match=r"label id -1 .* ids must be >= 0"):
        check_label_range(torch.tensor([-1, 2]), 5)


def test_every_label_id_check_is_the_one_in_ops():
    """Data loading, inference, ASAP-Net's label path and the label-colour baseline all raise the same
    PixelwiseError (a ValueError) worded by ops.check_label_range."""
    import numpy as np

    from pixelwise.data.validate import check_label_ids as check_file
    from pixelwise.inference import check_labels, input_spec
    from pixelwise.metrics.baselines import mean_label_colours
    from pixelwise.registry import create_model

    model = create_model("asapnet", label_nc=4, instance_edge=False, lr_instance=False, downsampling=4,
                         learned_ds_factor=4, lr_width=4, lr_max_width=8, lr_depth=1, hr_width=4, hr_depth=2)
    label = torch.full((1, 1, 4, 4), 7)
    checks = [lambda: check_file(label[0, 0].numpy().astype(np.uint8), 4, False, "x.png"),
              lambda: check_labels(label, input_spec(model)),
              lambda: model.forward_labels(label),
              lambda: mean_label_colours([{"label": label[0], "target": torch.zeros(3, 4, 4)}], 4)]
    for check in checks:
        with pytest.raises(PixelwiseError, match=r"contains label id 7 but .*label_nc=4 allows ids 0..3"):
            check()
