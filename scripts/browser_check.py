"""The real-browser check of a report (headless Chromium), outside the package: used by
``scripts/check_report_browser.py`` and the tests. ``check_in_browser(page)`` opens the page, reports every image
that did not load and the number of tables, and takes a screenshot; ``screenshot_is_blank`` tells an empty page."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pixelwise.errors import PixelwiseError

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--allow-file-access-from-files")

_CHECK_SCRIPT = """
<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (im) { return !(im.complete && im.naturalWidth > 0); })
                   .map(function (im) { return im.getAttribute("src"); });
  var out = document.createElement("pre");
  out.id = "pixelwise-image-check";
  var clipped = Array.prototype.slice.call(document.querySelectorAll(".table-scroll"))
                     .filter(function (d) { return d.scrollWidth > d.clientWidth + 1; })
                     .map(function (d) { var t = d.querySelector("table"); return t ? t.id : "?"; });
  out.textContent = JSON.stringify({total: imgs.length, broken: broken,
                                    tables: document.querySelectorAll("table").length, clipped: clipped});
  document.body.appendChild(out);
});
</script>
"""


@dataclass
class BrowserCheck:
    """What headless Chromium saw: image counts, broken image sources, tables, the screenshot, and the ids of
    tables wider than their box at the window width (shown only behind a horizontal scroll bar)."""

    total_images: int
    broken_images: list[str]
    tables: int
    screenshot: Path | None
    screenshot_bytes: int
    clipped_tables: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken_images and self.total_images > 0 and self.screenshot_bytes > 0


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or None."""
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_chromium(chromium: str, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="pixelwise-chromium-") as profile:
        command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PixelwiseError(f"chromium did not finish within {timeout:.0f}s: {' '.join(command)}") from exc


def check_in_browser(html_path: str | Path, screenshot: str | Path | None = None, chromium: str | None = None,
                     window_size: tuple[int, int] = (1280, 2400), timeout: float = 120.0) -> BrowserCheck:
    """Open ``html_path`` in headless Chromium: (1) a copy of the page with a small script appended (in the
    same folder so relative links resolve, deleted afterwards) reports, after the load event, every
    ``<img>`` that is not ``complete`` with a positive ``naturalWidth`` and every table that does not fit its
    box at ``window_size``; the DOM is dumped and read back;
    (2) a screenshot of the unmodified page is taken (default: ``<report>/.browser-check.png``)."""
    html_path = Path(html_path).resolve()
    chromium = chromium or find_chromium()
    if chromium is None:
        raise PixelwiseError("no Chromium found (install Debian's `chromium` package) for the browser check")
    text = html_path.read_text(encoding="utf-8")
    probe_text = text.replace("</body>", _CHECK_SCRIPT + "</body>") if "</body>" in text else text + _CHECK_SCRIPT
    probe = html_path.parent / f".{html_path.stem}.browser-check.html"
    probe.write_text(probe_text, encoding="utf-8")
    width, height = window_size
    try:
        result = _run_chromium(chromium, [f"--window-size={width},{height}", "--virtual-time-budget=15000",
                                          "--dump-dom", probe.as_uri()], timeout)
    finally:
        probe.unlink(missing_ok=True)
    marker = '<pre id="pixelwise-image-check">'
    start = result.stdout.find(marker)
    if start < 0:
        raise PixelwiseError(
            f"chromium did not run the image check on {html_path} (exit {result.returncode}): "
            f"{result.stderr.strip()[-800:]}"
        )
    end = result.stdout.find("</pre>", start)
    report = json.loads(html.unescape(result.stdout[start + len(marker):end]))
    shot = Path(screenshot) if screenshot else html_path.parent / ".browser-check.png"
    shot = shot.resolve()
    shot.unlink(missing_ok=True)
    _run_chromium(chromium, [f"--screenshot={shot}", f"--window-size={width},{height}",
                             "--virtual-time-budget=15000", html_path.as_uri()], timeout)
    size = shot.stat().st_size if shot.exists() else 0
    return BrowserCheck(total_images=int(report["total"]), broken_images=list(report["broken"]),
                        tables=int(report["tables"]), screenshot=shot if size else None, screenshot_bytes=size,
                        clipped_tables=list(report.get("clipped", [])))


def screenshot_is_blank(path: str | Path) -> bool:
    """True if the PNG at ``path`` is a single flat colour (a page that rendered nothing)."""
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("L"))
    return bool(array.size == 0 or array.max() == array.min())

__all__ = ["BrowserCheck", "check_in_browser", "find_chromium", "screenshot_is_blank"]
