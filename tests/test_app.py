"""The app's engine and model loading, without Gradio or a browser (tests/test_app_browser.py drives the page)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelwise.app import engine as eng
from pixelwise.app.models import (
    DEMO_PRESETS,
    HOW_TO_GET_MODELS,
    LABEL_PRESETS,
    SHIPPED_NOTE,
    canvas_size,
    default_specs,
    label_set,
    load_models,
)
from pixelwise.errors import PixelwiseError
from pixelwise.hub import packaged_names
from pixelwise.inference import InputSpec


@pytest.fixture(scope="module")
def engine() -> eng.Engine:
    models, note = load_models(list(DEMO_PRESETS))
    return eng.Engine(models, "cpu", note)


def test_untrained_defaults_are_labelled_and_say_how_to_get_models(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from pixelwise import hub

    monkeypatch.setattr(hub, "PACKAGED_ROOT", tmp_path / "nothing-shipped")
    specs, note = default_specs(tmp_path)  # no runs/demo here, no shipped models
    assert specs == list(DEMO_PRESETS) and note == HOW_TO_GET_MODELS
    models, note = load_models(["asapnet-tiny"])
    assert note == HOW_TO_GET_MODELS and models[0].name == "ASAP-Net (untrained)" and not models[0].trained


def test_without_a_demo_the_app_opens_the_shipped_deblurrers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pixelwise
    from pixelwise import hub

    monkeypatch.setattr(hub, "PACKAGED_ROOT", tmp_path / "pretrained")
    pixelwise.create_model("deblurgan", ngf=4, n_blocks=1).save_pretrained(tmp_path / "pretrained" / "deblur-x")
    specs, note = default_specs(tmp_path)
    assert specs == [*LABEL_PRESETS, "pixelwise/deblur-x"] and note == SHIPPED_NOTE
    models, _ = load_models(["pixelwise/deblur-x"])
    assert models[0].trained and models[0].key == "deblur-x" and models[0].spec.kind == "photo"
    assert models[0].name == "DeblurGAN (shipped pixelwise/deblur-x)"


def test_study_folder_opens_its_runs_with_study_figures(tmp_path: Path) -> None:
    import json

    from pixelwise.app import _library as lib

    run = tmp_path / "study" / "runs" / "asapnet"
    step = run / "checkpoints" / "step_2"
    generator = lib.untrained_generator("asapnet-tiny")
    generator.save_pretrained(step)
    (step / "model.safetensors").rename(step / "generator.safetensors")
    (run / "checkpoints" / "latest").symlink_to("step_2")
    (run / "config.yaml").write_text("data: {format: bundled-labels, label_nc: 8, load_height: 64, load_width: 128}\n")
    (tmp_path / "study" / "results.json").write_text(json.dumps({"labels": {"models": [
        {"key": "asapnet", "name": "ASAP-Net", "runtime_ms": 3.5, "runtime_size": [64, 128]}]}}))
    assert default_specs(tmp_path / "study" / "..")[1] is not None  # only runs/demo is the default
    models, note = load_models([str(tmp_path / "study")])
    assert note is None and [x.shipped for x in models[1:]] == [f"pixelwise/{n}" for n in packaged_names()]
    m = models[0]
    assert m.trained and m.name == "ASAP-Net (trained 2 steps)" and m.size == (64, 128)
    assert m.study["runtime_ms"] == 3.5 and m.origin == "trained 2 steps" and m.requested
    assert "bundled stand-in" in m.labels.description and m.labels.ids == list(range(8))
    rows = eng.Engine(models).model_rows({x.key: (64, 128) for x in models}, flops=False)
    assert rows[0][8] == "3.5 ms @ 64x128"
    assert rows[0][9] == f"trained 2 steps: {tmp_path / 'study' / 'runs' / 'asapnet'}"


def test_bad_model_argument_is_one_line() -> None:
    with pytest.raises(PixelwiseError, match="--model no-such-thing: not a folder"):
        load_models(["no-such-thing"])


def test_cityscapes_label_set_from_channel_count() -> None:
    labels = label_set(InputSpec("labels", 16, 35, True), None)
    assert labels.names[7] == "road" and labels.names[26] == "car" and "assumed" in labels.description
    assert tuple(labels.table[26]) == (0, 0, 142)
    assert 1 not in labels.ids and 0 in labels.ids  # ids 0..4 share black: painted as id 0
    start = eng.starting_labels(labels, (64, 128))
    assert {7, 11, 23, 26} <= set(np.unique(start).tolist())


def test_canvas_round_trip_and_painting(engine: eng.Engine) -> None:
    labels = engine.label_models[0].labels
    base = eng.starting_labels(labels, (64, 128))
    canvas = eng.colorize(base, labels)
    assert np.array_equal(eng.canvas_to_ids(canvas, base, labels), base)
    painted = canvas.copy()
    painted[10:20, 30:50] = labels.table[3]
    painted[30, 60] = (labels.table[3].astype(int) * 0.9).astype(np.uint8)  # an antialiased edge pixel
    ids = eng.canvas_to_ids(painted, base, labels)
    assert (ids[10:20, 30:50] == 3).all() and ids[30, 60] == 3
    outside = np.ones_like(base, dtype=bool)
    outside[10:20, 30:50] = False
    outside[30, 60] = False
    assert np.array_equal(ids[outside], base[outside])
    # a canvas at display size is read back at the label map's size
    big = np.asarray(Image.fromarray(painted).resize((256, 128), Image.NEAREST))
    assert np.array_equal(eng.canvas_to_ids(big, base, labels), ids)


def test_fill_region() -> None:
    ids = np.zeros((8, 8), dtype=np.int64)
    ids[:, 4] = 1  # a wall splitting two regions of 0
    out = eng.fill_region(ids, 2, 1, 5)
    assert (out[:, :4] == 5).all() and (out[:, 4] == 1).all() and (out[:, 5:] == 0).all()
    with pytest.raises(PixelwiseError, match="outside"):
        eng.fill_region(ids, 9, 0, 1)


def test_translate_labels_changes_output_where_painted(engine: eng.Engine) -> None:
    labels = engine.label_models[0].labels
    base = eng.starting_labels(labels, canvas_size(engine.label_models[0]))
    before = engine.translate_labels(base)
    assert [r.key for r in before] == ["asapnet-tiny", "pix2pixhd-tiny"]  # ASAP-Net first, side by side
    ids = base.copy()
    ids[8:24, 16:48] = 2 if base[16, 32] != 2 else 3
    after = engine.translate_labels(ids)
    for b, a in zip(before, after):
        assert a.image.shape == (64, 128, 3) and a.image.dtype == np.uint8 and a.ms > 0
        diff = np.abs(a.image.astype(int) - b.image.astype(int)).sum(-1)
        assert diff[8:24, 16:48].mean() > diff[40:, 80:].mean()
    assert engine.label_models[0].timings[(64, 128)]


def test_deblur_blur_and_tiling(engine: eng.Engine) -> None:
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    assert engine.blur(photo, 0.0) is photo
    blurred = engine.blur(photo, 0.6, seed=1)
    assert blurred.shape == photo.shape and np.abs(blurred.astype(int) - photo).mean() > 5
    assert np.array_equal(blurred, engine.blur(photo, 0.6, seed=1))
    key = engine.photo_models[0].key
    assert key == "deblurgan-asap-tiny"
    result = engine.deblur(key, blurred)
    assert result.image.shape == photo.shape and not result.tiled and result.ms > 0
    with pytest.raises(PixelwiseError, match="blur strength"):
        engine.blur(photo, 1.5)
    with pytest.raises(PixelwiseError, match="label maps, not photos"):
        engine.deblur("asapnet-tiny", photo)


def test_deblur_tiles_large_photos(engine: eng.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eng, "TILE_ABOVE", 32 * 32)
    monkeypatch.setattr(eng, "TILE", 32)
    monkeypatch.setattr(eng, "TILE_OVERLAP", 8)
    photo = np.random.default_rng(1).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    result = engine.deblur("deblurgan-tiny", photo)
    assert result.tiled and result.image.shape == photo.shape


def test_uploads_are_checked_with_one_line_messages(engine: eng.Engine, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    labels = engine.label_models[0].labels
    good = tmp_path / "labels.png"
    Image.fromarray(np.full((30, 50), 3, dtype=np.uint8)).save(good)
    ids = eng.read_label_upload(good, labels, 8)
    assert ids.shape == (32, 56) and (ids == 3).all()
    bad = tmp_path / "ids.png"
    Image.fromarray(np.full((16, 16), 200, dtype=np.uint8)).save(bad)
    with pytest.raises(PixelwiseError) as info:
        eng.read_label_upload(bad, labels, 8)
    message = eng.short_message(info.value, bad)
    assert "label id 200" in message and str(tmp_path) not in message and "\n" not in message
    color = tmp_path / "color.png"
    Image.fromarray(np.full((8, 8, 3), (10, 20, 30), dtype=np.uint8)).save(color)
    with pytest.raises(PixelwiseError, match="single-channel integer id map"):
        eng.read_label_upload(color, labels, 8)
    alpha = tmp_path / "alpha.png"
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(alpha)
    with pytest.raises(PixelwiseError, match="transparent alpha"):
        eng.read_photo_upload(alpha)
    monkeypatch.setattr(eng, "MAX_PHOTO_PIXELS", 50)
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(photo)
    with pytest.raises(PixelwiseError, match="megapixels"):
        eng.read_photo_upload(photo)


def test_model_rows_gflops_and_bench(engine: eng.Engine) -> None:
    sizes = {m.key: (64, 128) for m in engine.models}
    rows = engine.model_rows(sizes)
    assert [r[0] for r in rows] == [m.name for m in engine.models]
    assert all(float(r[5]) > 0 for r in rows)  # GFLOPs at the shown size
    engine.run_bench({k: (32, 32) for k in sizes})
    rows = engine.model_rows({k: (32, 32) for k in sizes})
    assert all(r[7].endswith("ms") or r[7].endswith(")") for r in rows), rows
    assert "x pix2pixHD" in rows[0][7] and "x DeblurGAN" in rows[2][7]  # the pairs are benched in one run
    assert [r[9] for r in rows[4:]] == [f"shipped pixelwise/{n}" for n in packaged_names()]


def test_cli_app_answers_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    from pixelwise.cli import main, parse_args

    args = parse_args(["app", "--model", "a", "--model", "b", "--port", "7999", "--size", "64x128"])
    assert args.model == ["a", "b"] and args.port == 7999 and args.host == "127.0.0.1" and args.device == "auto"
    assert main(["app", "--model", "no-such-thing", "--port", "7999"]) == 2
    err = capsys.readouterr().err.strip()
    if importlib.util.find_spec("gradio") is None:
        assert err == ("pixelwise app: error: the app needs Gradio: pip install 'pixelwise[app]' "
                       "(or \"gradio>=6.31,<7\")")
    else:
        assert err.startswith("pixelwise app: error: --model no-such-thing: not a folder") and "\n" not in err
