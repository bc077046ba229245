"""The app's result files (every image it shows and every download): a private temporary folder with one
subfolder per browser session, removed when the session ends (the page is closed: Gradio's unload event), every
file removed once it is older than ``max_age_s`` (swept at most every ``SWEEP_EVERY_S`` when a new file is made,
so a long-running server holds about the last ``max_age_s`` of results), and the whole folder when the app
stops. Gradio's own copies of served files are bounded the same way by ``gr.Blocks(delete_cache=...)`` (see
:mod:`pixelwise.app.ui`).

Why files and not arrays: Gradio 6 writes a returned array to a cache file named by its content and rewrites that
file in place each time the same image is returned again, so a browser fetching it while another request returns
the same image (every new page's first paint, a repeated deblur) reads a truncated file. A file the app wrote
once, under its own name, is copied into Gradio's cache atomically and never rewritten (tests/test_app_load.py)."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

MAX_AGE_S = 3600  # a result stays downloadable for an hour (or until its page is closed)
SWEEP_EVERY_S = 60  # old files are looked for at most this often
_SAFE = re.compile(r"[^A-Za-z0-9_-]")


class Downloads:
    """Per-session result folders under one temporary root (thread-safe: handlers run on Gradio's workers)."""

    def __init__(self, max_age_s: float = MAX_AGE_S, prefix: str = "pixelwise-app-") -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.max_age_s = max_age_s
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._last_sweep = 0.0

    def folder(self, session: str | None) -> Path:
        return self.root / (_SAFE.sub("_", session or "") or "no-session")

    def new_path(self, session: str | None, name: str) -> Path:
        """A fresh path ``<root>/<session>/<n>/<name>`` (its folder made); old files are swept first."""
        if time.monotonic() - self._last_sweep > min(SWEEP_EVERY_S, self.max_age_s):
            self._last_sweep = time.monotonic()
            self.sweep()
        with self._lock:
            folder = self.folder(session) / str(next(self._counter))
            folder.mkdir(parents=True)
        return folder / Path(name).name

    def write_png(self, session: str | None, image: np.ndarray, name: str) -> str:
        """``image`` (uint8 HxWx3) as a PNG at a fresh path of ``session`` (written whole, then renamed)."""
        from PIL import Image

        path = self.new_path(session, name)
        staging = path.with_name(f".tmp-{path.name}")
        Image.fromarray(np.ascontiguousarray(image)).save(staging, format="PNG")
        os.replace(staging, path)
        return str(path)

    def end_session(self, session: str | None) -> None:
        """Remove everything of ``session`` (its page was closed)."""
        with self._lock:
            shutil.rmtree(self.folder(session), ignore_errors=True)

    def sweep(self, now: float | None = None) -> int:
        """Remove files older than ``max_age_s`` and the folders they leave empty; returns how many files."""
        now = time.time() if now is None else now
        removed = 0
        with self._lock:
            if not self.root.is_dir():
                return 0
            for path in sorted(self.root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                try:
                    old = now - path.stat().st_mtime > self.max_age_s
                    if path.is_file() and old:
                        path.unlink()
                        removed += 1
                    elif path.is_dir() and old and not any(path.iterdir()):
                        path.rmdir()  # only old ones: a fresh empty folder is about to receive its file
                except OSError:  # removed meanwhile by end_session
                    continue
        return removed

    def files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file()) if self.root.is_dir() else []

    def close(self) -> None:
        """Remove the whole folder (the app stops)."""
        with self._lock:
            shutil.rmtree(self.root, ignore_errors=True)
