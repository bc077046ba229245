"""``pixelwise app``: a Gradio browser demo (application code, optional extra ``[app]``).

- :mod:`pixelwise.app.models` finds and opens the models (``--model`` arguments, ``runs/demo``, or tiny
  untrained ones), :mod:`pixelwise.app.engine` does the work without any UI (tested without a browser),
  :mod:`pixelwise.app.ui` is the Gradio page; :mod:`pixelwise.app._library` is the one place that imports
  pixelwise's library modules.
"""

from __future__ import annotations

import time
from typing import Any


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
        origin = m.origin.replace("`", "")
        print(f"pixelwise app: {m.name}: {m.params / 1e6:.2f} M params, {origin or 'from'}"
              + ("" if m.shipped else f" ({m.source})"), flush=True)
    chosen = default_photo_model(loaded)
    if chosen is not None:
        why = ("named with --model" if chosen.requested else
               "the default of `pixelwise deblur`, made for real photos" if chosen.shipped else "the only one")
        print(f"pixelwise app: Deblur tab preselects {chosen.name} ({why})", flush=True)
    if note:
        print(f"pixelwise app: {note}", flush=True)
    print(f"pixelwise app: ready at http://{host}:{port} on {resolved} "
          f"(started in {time.perf_counter() - started:.1f} s; Ctrl+C stops it)", flush=True)
    if not block:
        return demo
    try:
        demo.block_thread()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        pass
    finally:
        demo.close()
        demo.downloads.close()
    return demo
