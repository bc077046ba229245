"""Which deblurrers the app offers and preselects, what it says about each model (origin, training, card), and
its download folders; no Gradio or browser needed (tests/test_app_browser.py checks the page)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from pixelwise.app import _library as lib
from pixelwise.app import cards
from pixelwise.app import engine as eng
from pixelwise.app.downloads import Downloads
from pixelwise.app.models import default_photo_model, load_models
from pixelwise.deblur import DEFAULT_DEBLUR_MODEL
from pixelwise.hub import packaged_names

from .app_helpers import make_demo_folder


@pytest.fixture(scope="module")
def demo_models(tmp_path_factory: pytest.TempPathFactory) -> list:
    root = tmp_path_factory.mktemp("cwd")
    make_demo_folder(root)
    here = Path.cwd()
    os.chdir(root)  # the app opens ./runs/demo without --model
    try:
        models, note = load_models(None)
    finally:
        os.chdir(here)
    assert note is None
    return models


def test_with_runs_demo_the_shipped_deblurrers_are_offered_and_the_default_preselected(demo_models: list) -> None:
    assert packaged_names() and DEFAULT_DEBLUR_MODEL.split("/", 1)[1] in packaged_names()
    engine = eng.Engine(demo_models)
    photo = engine.photo_models
    assert {m.shipped for m in photo if m.shipped} == {f"pixelwise/{n}" for n in packaged_names()}
    assert photo[0].shipped == DEFAULT_DEBLUR_MODEL == default_photo_model(demo_models).shipped
    assert photo[0].origin == "shipped; the default of `pixelwise deblur`" and photo[0].trained
    assert photo[0].name.endswith("; the default of pixelwise deblur)")
    demo_deblur = next(m for m in photo if not m.shipped)
    assert demo_deblur.origin == "demo, trained 336 steps" and not demo_deblur.requested
    assert demo_deblur.name == "DeblurGAN-ASAP (demo, trained 336 steps)"
    assert all(m.origin == "shipped" for m in photo[1:] if m.shipped)
    # one deblur with the preselected shipped model keeps the photo's size
    out = engine.deblur(photo[0].key, np.full((50, 70, 3), 120, dtype=np.uint8))
    assert out.image.shape == (50, 70, 3)


def test_the_paint_tab_says_which_label_model_is_trained_on_what(demo_models: list) -> None:
    labels = eng.Engine(demo_models).label_models
    text = cards.model_lines(labels)
    assert text.startswith("- **ASAP-Net**: demo, trained 504 steps, on the bundled label maps (8 stand-in classes")
    untrained = load_models(["pix2pixhd-tiny"])[0][0]
    assert cards.model_lines([untrained]).startswith("- **pix2pixHD**: untrained (untrained pix2pixhd-tiny preset")


def test_card_summaries_shipped_demo_and_untrained(demo_models: list) -> None:
    default = next(m for m in demo_models if m.shipped == DEFAULT_DEBLUR_MODEL)
    text = cards.card_markdown(default)
    count = sum(p.numel() for p in default.module.parameters())
    assert text.startswith(f"**{DEFAULT_DEBLUR_MODEL}**: `{default.registry}`, {count:,} parameters, shipped")
    assert "- **Training budget**: " in text and "steps" in text.split("Training budget", 1)[1].splitlines()[0]
    assert "| Blurred input (no model) |" in text and "(+" in text  # the card's held-out gain table
    assert "The default of `pixelwise deblur`" in text
    demo = next(m for m in demo_models if m.task == "photo" and not m.shipped)
    text = cards.card_markdown(demo)
    assert text.startswith("**DeblurGAN-ASAP**: `deblurgan-asap`,") and "demo, trained 336 steps" in text
    assert "336 training steps (1.0 min)" in text and "blurred on the fly" in text
    assert "the demo's evaluation on 6 bundled test photos" in text
    assert "| DeblurGAN-ASAP | 30.00 (-1.00) | 25.00 (+1.00) | 27.50 (+0.50) |" in text  # gains vs the baseline
    assert "a shipped deblurrer does better" in text
    untrained = load_models(["deblurgan-tiny"])[0][0]
    text = cards.card_markdown(untrained)
    assert "none: random weights" in text and "Held-out results**: none in the card" in text


def test_a_deblurrer_named_with_model_is_preselected_and_the_default_follows_the_constant(
        monkeypatch: pytest.MonkeyPatch) -> None:
    models, _ = load_models(["deblurgan-tiny"])
    engine = eng.Engine(models)
    assert engine.photo_models[0].key == "deblurgan-tiny" and engine.photo_models[0].requested
    assert engine.photo_models[1].shipped == DEFAULT_DEBLUR_MODEL  # shipped ones next
    other = next(f"pixelwise/{n}" for n in packaged_names() if f"pixelwise/{n}" != DEFAULT_DEBLUR_MODEL)
    monkeypatch.setattr(lib, "DEFAULT_DEBLUR_MODEL", other)  # the lead may change the default: nothing else to edit
    models, _ = load_models(["asapnet-tiny"])
    assert default_photo_model(models).shipped == other and eng.Engine(models).photo_models[0].shipped == other
    # a shipped model named explicitly is loaded once
    models, _ = load_models([other])
    assert [m.shipped for m in models].count(other) == 1 and models[0].requested


def test_downloads_per_session_removed_at_session_end_and_after_max_age(tmp_path: Path) -> None:
    downloads = Downloads(max_age_s=60)
    try:
        a = downloads.new_path("session-a", "cat_deblurred.png")
        b = downloads.new_path("session/../b", "../escape.png")
        for p in (a, b):
            p.write_bytes(b"png")
        assert a.parent.parent.name == "session-a" and b.is_relative_to(downloads.root) and b.name == "escape.png"
        assert downloads.new_path("session-a", "x.png").parent != a.parent  # each result its own folder
        downloads.end_session("session-a")
        assert not a.exists() and b.exists()
        assert downloads.sweep(now=time.time() + 30) == 0 and b.exists()
        assert downloads.sweep(now=time.time() + 120) == 1 and not b.exists()
        downloads.sweep(now=time.time() + 240)  # the folders left empty go too
        assert downloads.files() == [] and list(downloads.root.iterdir()) == []
    finally:
        downloads.close()
    assert not downloads.root.exists()
