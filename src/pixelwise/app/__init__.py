"""``pixelwise app``: a Gradio browser demo (application code, optional extra ``[app]``).

- :mod:`pixelwise.app.models` finds and opens the models (``--model`` arguments, ``runs/demo``, or tiny
  untrained ones), :mod:`pixelwise.app.engine` does the work without any UI (tested without a browser),
  :mod:`pixelwise.app.ui` is the Gradio page; :mod:`pixelwise.app._library` is the one place that imports
  pixelwise's library modules.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve(models: list[str] | None = None, host: str = "127.0.0.1", port: int = 7860, device: str = "cpu",
          size: tuple[int, int] | None = None, block: bool = True, max_queue: int | None = None) -> Any:
    """Load the models, start the web server and print where it listens and how long startup took.
    ``block=False`` returns the running Blocks (stop it with ``.close()``, then ``.downloads.close()``).
    ``max_queue``: waiting requests the queue holds (default :data:`pixelwise.app.ui.MAX_QUEUE`)."""
    started = time.perf_counter()
    try:
        from pixelwise.app import ui
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "gradio":
            from pixelwise.errors import PixelwiseError

            raise PixelwiseError("the app needs Gradio: pip install 'pixelwise[app]' (or \"gradio>=6.31,<7\")") from exc
        raise
    from pixelwise.app import _library as lib
    from pixelwise.app.engine import Engine
    from pixelwise.app.models import default_photo_model, load_models

    resolved = str(lib.resolve_device(device))
    loaded, note = load_models(models, resolved)
    if not loaded:
        raise lib.PixelwiseError("no models to show; pass --model DIR")
    engine = Engine(loaded, resolved, note)
    demo = ui.launch(engine, host, port, size, max_queue=ui.MAX_QUEUE if max_queue is None else max_queue)
    for m in loaded:
        where = m.source if m.shipped or not m.trained else f"{m.origin}, from {m.source}"
        print(f"pixelwise app: {m.title}: {m.params / 1e6:.2f} M params, {where}", flush=True)
    chosen = default_photo_model(loaded)
    if chosen is not None:
        why = ("named with --model" if chosen.requested else
               "the default of pixelwise deblur, made for real photos" if chosen.shipped else "the only deblurrer")
        print(f"pixelwise app: the Deblur tab preselects {chosen.shipped or chosen.name} ({why})", flush=True)
    if note:
        print(f"pixelwise app: {note}", flush=True)
    print(f"pixelwise app: result files in {demo.downloads.root} (each removed when its page is closed or after "
          f"{demo.downloads.max_age_s / 3600:g} h; all when the app stops)", flush=True)
    print(f"pixelwise app: ready at http://{host}:{port} on {resolved} "
          f"(started in {time.perf_counter() - started:.1f} s; Ctrl+C stops it)", flush=True)
    if not block:
        return demo
    if threading.current_thread() is threading.main_thread():  # `kill` stops it like Ctrl+C: files removed
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        demo.block_thread()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        pass
    finally:
        demo.close()
        demo.downloads.close()
    return demo
