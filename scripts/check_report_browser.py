"""Open a study report in headless Chromium and check it: every image loads, the tables render, a screenshot
is not blank; and (pure Python) every relative link exists on disk.

    python scripts/check_report_browser.py runs/demo [--screenshot shot.png]

Exit status 0 when everything resolves, 1 otherwise (2 when no Chromium is installed)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # browser_check.py beside this script


def main(argv: list[str] | None = None) -> int:
    import browser_check

    from pixelwise.study.html import missing_links

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", help="report folder (holding index.html) or an HTML file")
    parser.add_argument("--screenshot", default=None, help="where to save the screenshot (default: a temp file)")
    parser.add_argument("--width", type=int, default=1400, help="browser window width in px (default 1400)")
    args = parser.parse_args(argv)
    page = Path(args.report)
    if page.is_dir():
        page = page / "index.html"
    if not page.is_file():
        print(f"{page} does not exist", file=sys.stderr)
        return 1
    missing = missing_links(page)
    print(f"links on disk: {'all present' if not missing else 'MISSING ' + ', '.join(missing)}")
    if browser_check.find_chromium() is None:
        print("no Chromium found: install Debian's `chromium` package for the browser check", file=sys.stderr)
        return 2
    shot = Path(args.screenshot) if args.screenshot else None
    if shot is None:
        import tempfile

        shot = Path(tempfile.mkdtemp(prefix="pixelwise-report-")) / "screenshot.png"
    check = browser_check.check_in_browser(page, screenshot=shot, window_size=(args.width, 2400))
    blank = check.screenshot is None or browser_check.screenshot_is_blank(check.screenshot)
    print(f"browser: {check.total_images} images, {len(check.broken_images)} broken "
          f"{check.broken_images or ''}, {check.tables} tables, screenshot {shot} "
          f"({check.screenshot_bytes} bytes{', BLANK' if blank else ''}), tables wider than the "
          f"{args.width}-px window: {check.clipped_tables or 'none'}")
    return 0 if check.ok and not missing and not blank and not check.clipped_tables else 1


if __name__ == "__main__":
    sys.exit(main())
