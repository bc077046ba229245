"""`pixelwise app` in a real headless browser: the command starts on a free localhost port, Selenium drives
Debian's chromium (through Debian's chromedriver; nothing is downloaded), and the tests upload, paint and read
the results back from the page. Screenshots go to the test's tmp folder (and to $PIXELWISE_ARTIFACTS if set).

Skipped, with the reason, when gradio, selenium, chromium or chromedriver is missing."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason="the app's extra is not installed (pip install -e '.[app]')")
pytest.importorskip("selenium", reason="selenium is not installed (it is in the dev extra: pip install -e '.[dev]')")

from browser_check import find_chromium  # scripts/browser_check.py (tests/conftest.py puts scripts/ on the path)
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from .app_helpers import running_app

CHROMIUM = find_chromium()
CHROMEDRIVER = shutil.which("chromedriver") or next(
    (p for p in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if Path(p).exists()), None)
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package `chromium`)"),
    pytest.mark.skipif(CHROMEDRIVER is None, reason="chromedriver not installed (Debian package `chromium-driver`)"),
]
START_TIMEOUT = 120.0  # seconds for the command to say it is ready (a loaded CI machine)
WAIT = 60.0



@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Tiny untrained models saved as model dirs (config.json + model.safetensors): the app's --model input."""
    from pixelwise.app import _library as lib

    root = tmp_path_factory.mktemp("models")
    dirs = []
    for preset in ("asapnet-tiny", "pix2pixhd-tiny", "deblurgan-asap-tiny"):
        lib.untrained_generator(preset).save_pretrained(root / preset)
        dirs.append(root / preset)
    return dirs


@contextlib.contextmanager
def _app(args: list[str], log: Path, cwd: Path | None = None) -> Iterator[str]:
    """``pixelwise app ARGS`` on a free localhost port (from ``cwd``), until the block ends; yields its URL."""
    with running_app(args, log, START_TIMEOUT, cwd=cwd) as (_, url):
        yield url


@pytest.fixture(scope="module")
def app_url(model_dirs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    args = [a for d in model_dirs for a in ("--model", str(d))]
    with _app(args, tmp_path_factory.mktemp("app") / "app.log") as url:
        yield url


@contextlib.contextmanager
def _chrome(url: str) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1300", "--disable-background-networking", "--no-first-run"):
        options.add_argument(flag)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.get(url)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def browser(app_url: str) -> Iterator[Any]:
    with _chrome(app_url) as driver:
        yield driver


def _wait(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception as exc:  # the element is not there yet, or is being re-rendered
            value, last = None, exc
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last!r})")


def _text(driver: Any, elem_id: str) -> str:
    return driver.find_element(By.ID, elem_id).text


def _image(driver: Any, css: str) -> tuple[str, np.ndarray]:
    src = driver.find_element(By.CSS_SELECTOR, css).get_attribute("src")
    with urllib.request.urlopen(src, timeout=10) as response:
        return src, np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))


def _screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    driver.save_screenshot(str(path))
    artefacts = os.environ.get("PIXELWISE_ARTIFACTS")
    if artefacts:
        Path(artefacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artefacts) / name)
    with Image.open(path) as shot:
        assert np.asarray(shot.convert("L")).std() > 5  # the page rendered something
    return path


def _tab(driver: Any, title: str) -> None:
    button = _wait(lambda: next(b for b in driver.find_elements(By.CSS_SELECTOR, "button[role=tab]")
                                if b.text.strip() == title), f"the {title!r} tab")
    button.click()


def test_paint_tab_stroke_changes_the_output_there(browser: Any, tmp_path: Path) -> None:
    _tab(browser, "Paint a label map")
    _wait(lambda: "ms" in _text(browser, "paint-ms"), "the first outputs")
    assert "ASAP-Net" in _text(browser, "paint-ms") and "pix2pixHD" in _text(browser, "paint-ms")
    src0, out0 = _image(browser, "#paint-out-0 img")
    _, side0 = _image(browser, "#paint-out-1 img")  # pix2pixHD beside ASAP-Net
    _, labels0 = _image(browser, "#paint-labels img")
    assert out0.shape == labels0.shape == side0.shape == (256, 512, 3)  # a model dir: the default canvas
    canvas = browser.find_element(By.CSS_SELECTOR, "#paint-canvas canvas")
    width = canvas.size["width"]
    stroke = ActionChains(browser).move_to_element_with_offset(canvas, -width // 4, 0).click_and_hold()
    for _ in range(12):
        stroke.move_by_offset(4, 2)
    stroke.release().perform()
    _wait(lambda: _image(browser, "#paint-out-0 img")[0] != src0, "the outputs after the stroke")
    _, out1 = _image(browser, "#paint-out-0 img")
    _, labels1 = _image(browser, "#paint-labels img")
    painted = (labels1 != labels0).any(-1)
    assert 20 < painted.sum() < 0.2 * painted.size, painted.sum()
    xs = np.nonzero(painted)[1]
    assert xs.max() < 0.5 * painted.shape[1]  # the stroke is in the left half, where it was drawn
    diff = np.abs(out1.astype(int) - out0.astype(int)).sum(-1)
    assert diff[painted].mean() > 2 * diff[~painted].mean(), (diff[painted].mean(), diff[~painted].mean())
    shot = _screenshot(browser, tmp_path, "app-paint.png")
    assert shot.stat().st_size > 10_000


def test_paint_tab_fill_the_whole_canvas(browser: Any) -> None:
    _tab(browser, "Paint a label map")
    src0 = _image(browser, "#paint-out-0 img")[0]
    browser.find_element(By.ID, "fill-all").click()  # with the fill class shown, class 0
    _wait(lambda: _image(browser, "#paint-out-0 img")[0] != src0, "the outputs after the fill")
    _, labels = _image(browser, "#paint-labels img")
    assert (labels == labels[0, 0]).all()  # one class everywhere
    src1 = _image(browser, "#paint-out-0 img")[0]
    browser.find_element(By.ID, "paint-reset").click()
    _wait(lambda: _image(browser, "#paint-out-0 img")[0] != src1, "the outputs after starting again")
    _, labels = _image(browser, "#paint-labels img")
    assert len(np.unique(labels.reshape(-1, 3), axis=0)) == 8  # the starting bands of the 8 classes


def test_paint_tab_bad_label_upload_is_one_line(browser: Any, tmp_path: Path) -> None:
    _tab(browser, "Paint a label map")
    bad = tmp_path / "my_labels.png"
    Image.fromarray(np.full((32, 64), 200, dtype=np.uint8)).save(bad)
    field = browser.find_element(By.CSS_SELECTOR, "input[type=file][data-testid$='upload-button']")
    field.send_keys(str(bad))
    message = _wait(lambda: _text(browser, "paint-status"), "the error line")
    assert "label id 200" in message and "my_labels.png" in message and "\n" not in message.strip()
    assert "Traceback" not in browser.page_source


def test_deblur_tab_upload_blur_and_download(browser: Any, tmp_path: Path) -> None:
    _tab(browser, "Deblur a photo")
    import skimage.data

    photo = skimage.data.chelsea()[:150, :210]  # 150x210: not a multiple of the model's 8
    path = tmp_path / "cat.png"
    Image.fromarray(photo).save(path)
    strength = browser.find_element(By.CSS_SELECTOR, "#deblur-strength input[type=number]")
    strength.clear()
    strength.send_keys("0.5\t")
    browser.find_element(By.CSS_SELECTOR, "#deblur-input input[type=file]").send_keys(str(path))
    _wait(lambda: "ms" in _text(browser, "deblur-ms"), "the deblurred photo")
    assert "strength 0.50" in _text(browser, "deblur-ms") and "150x210" in _text(browser, "deblur-ms")
    link = _wait(lambda: browser.find_element(By.CSS_SELECTOR, "#deblur-download a").get_attribute("href"),
                 "the download link")
    with urllib.request.urlopen(link, timeout=10) as response:
        result = np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))
    assert result.shape == photo.shape
    assert np.abs(result.astype(int) - photo.astype(int)).mean() > 1  # blurred, then an untrained model
    compare = browser.find_elements(By.CSS_SELECTOR, "#deblur-compare img")
    assert len(compare) == 2  # before | after
    _screenshot(browser, tmp_path, "app-deblur.png")
    # a photo with a transparent alpha channel is refused with the CLI's one line, in the page
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    bad = tmp_path / "transparent.png"
    Image.fromarray(rgba).save(bad)
    browser.find_element(By.CSS_SELECTOR, "#deblur-input button[aria-label='Remove Image']").click()
    browser.find_element(By.CSS_SELECTOR, "#deblur-input input[type=file]").send_keys(str(bad))
    message = _wait(lambda: _text(browser, "deblur-status"), "the error line")
    assert "transparent alpha channel" in message and "transparent.png" in message


def test_models_tab_lists_params_and_gflops(browser: Any) -> None:
    _tab(browser, "Models")
    # the label models at the canvas size, then their GFLOPs (computed when the tab opens)
    pattern = re.compile(r"256x512\s+\d+\.\d{3}")
    text = _wait(lambda: (lambda t: t if len(pattern.findall(t)) == 2 else "")(_text(browser, "models-table")),
                 "the models table with GFLOPs")
    # the deblurring model at the size of the photo deblurred above, with the median of its runs
    for name in ("ASAP-Net", "pix2pixHD", "DeblurGAN-ASAP", "0.011 M", "150x210", "(n=1)"):
        assert name in text


def test_with_runs_demo_the_deblur_tab_offers_the_shipped_default(tmp_path: Path) -> None:
    """README's flow `pixelwise demo && pixelwise app`: with runs/demo present (here a stand-in with the demo's
    layout) the shipped default deblurrer is offered, preselected and labelled, its card is shown, and it
    deblurs a bundled photo to an image of the same size; the Paint tab says what the demo models are."""
    from pixelwise.deblur import DEFAULT_DEBLUR_MODEL
    from pixelwise.hub import packaged_names

    from .app_helpers import make_demo_folder

    make_demo_folder(tmp_path)
    with _app([], tmp_path / "app.log", cwd=tmp_path) as url, _chrome(url) as driver:
        _wait(lambda: "demo, trained 504 steps" in _text(driver, "paint-models"), "the Paint tab's model list")
        assert "on the bundled label maps" in _text(driver, "paint-models")
        _tab(driver, "Deblur a photo")
        field = driver.find_element(By.CSS_SELECTOR, "#deblur-model input")
        assert f"shipped {DEFAULT_DEBLUR_MODEL}; the default of pixelwise deblur" in field.get_attribute("value")
        field.click()
        choices = _wait(lambda: [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#deblur-model li")],
                        "the model choices")
        for name in packaged_names():
            assert any(f"shipped pixelwise/{name}" in c for c in choices), choices
        assert "DeblurGAN-ASAP (demo, trained 336 steps)" in choices
        field.send_keys("\ue00c")  # Escape: close the list, keep the preselected default
        driver.find_element(By.XPATH, "//button[.//span[contains(., 'model card')]]").click()
        card = _wait(lambda: (lambda t: t if "Training budget" in t else "")(_text(driver, "deblur-card")),
                     "the model card")
        assert DEFAULT_DEBLUR_MODEL in card and "parameters" in card and "Blurred input (no model)" in card
        import skimage

        bundled = Path(skimage.__file__).parent / "data" / "chelsea.png"
        photo = np.asarray(Image.open(bundled).convert("RGB"))
        driver.find_element(By.CSS_SELECTOR, "#deblur-input input[type=file]").send_keys(str(bundled))
        _wait(lambda: "ms" in _text(driver, "deblur-ms"), "the deblurred photo")
        assert f"{photo.shape[0]}x{photo.shape[1]}" in _text(driver, "deblur-ms")
        assert "the default of pixelwise deblur" in _text(driver, "deblur-ms")
        link = _wait(lambda: driver.find_element(By.CSS_SELECTOR, "#deblur-download a").get_attribute("href"),
                     "the download link")
        with urllib.request.urlopen(link, timeout=10) as response:
            result = np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))
        assert result.shape == photo.shape
        assert 0 < np.abs(result.astype(int) - photo.astype(int)).mean() < 10  # sharpened, still the photo
        _screenshot(driver, tmp_path, "app-deblur-shipped.png")
