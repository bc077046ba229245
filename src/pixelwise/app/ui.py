"""The Gradio page: three tabs (Paint, Deblur, Models) over an :class:`~pixelwise.app.engine.Engine`.

Handlers are thin: they convert Gradio values, call the engine and answer bad input with the CLI's one-line
message in the tab's status line (never a traceback). Every model-running event shares one queue slot
(``concurrency_id="model"``, limit 1), and the engine's lock guards the models as well; the queue holds at most
``max_queue`` waiting requests (more are refused with Gradio's "queue is full" message, never dropped silently).
Result files live in per-session folders (:mod:`pixelwise.app.downloads`), removed when the page is closed or
after an hour."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import numpy as np

from pixelwise.app import cards
from pixelwise.app import engine as eng
from pixelwise.app._library import PixelwiseError
from pixelwise.app.downloads import Downloads
from pixelwise.app.models import AppModel, canvas_size

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry: the app works offline

import gradio as gr

QUEUE = {"concurrency_id": "model", "concurrency_limit": 1}
DEFAULT_PHOTO_SIZE = (256, 256)  # Models tab size for photo models before any photo is deblurred
MAX_QUEUE = 64  # waiting requests the queue holds; more are refused with a message
GRADIO_CACHE = (600, 3600)  # Gradio's copies of served files: checked every 10 min, removed after an hour
CSS = """
#paint-status p, #deblur-status p { margin: 0; }
#deblur-card { font-size: 0.9em; }
.pw-pixels img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }
.pw-legend { display: flex; flex-wrap: wrap; gap: 4px 10px; font-size: 0.85em; }
.pw-legend span.sw { display: inline-block; width: 0.9em; height: 0.9em; border: 1px solid #888;
                     vertical-align: -0.1em; margin-right: 3px; }
"""


def _hex(color: np.ndarray) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in color))


def _legend(model: AppModel) -> str:
    labels = model.labels
    items = "".join(
        f'<span><span class="sw" style="background:{_hex(labels.table[i])}"></span>{i}: '
        f"{html.escape(labels.names.get(i, str(i)))}</span>"
        for i in labels.ids
    )
    return f'<div class="pw-legend">{items}</div><p style="font-size:0.85em">{html.escape(labels.description)}</p>'


def _status(message: str | None, ok: bool = True) -> str:
    if not message:
        return ""
    return message if ok else f"**Error:** {message}"


def _session(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None)


def build(engine: eng.Engine, size: tuple[int, int] | None = None, downloads: Downloads | None = None) -> gr.Blocks:
    """The Blocks app. ``size`` overrides the paint canvas size (H, W); ``downloads`` holds the result files
    (default: a new temporary folder; ``.close()`` it when the app stops)."""
    label_models = engine.label_models
    photo_models = engine.photo_models
    first = label_models[0] if label_models else None
    canvas_hw = canvas_size(first, size) if first else None
    if first is not None:
        for m in label_models[1:]:  # the canvas must suit every model painted together
            mult = m.spec.multiple
            canvas_hw = (-(-canvas_hw[0] // mult) * mult, -(-canvas_hw[1] // mult) * mult)
    downloads = downloads if downloads is not None else Downloads()
    sizes0 = {m.key: (canvas_hw if m.task == "labels" and canvas_hw else DEFAULT_PHOTO_SIZE) for m in engine.models}

    with gr.Blocks(title="pixelwise app", analytics_enabled=False, delete_cache=GRADIO_CACHE) as demo:
        gr.Markdown(
            "# pixelwise: image-to-image translation you can feel\n"
            f"Models run on **{engine.device}**, one request at a time (others wait in the queue). "
            f"Uploads: at most {eng.MAX_UPLOAD_MB} MB per file; photos up to {eng.MAX_PHOTO_PIXELS / 1e6:.1f} "
            f"megapixels (tiled above {eng.TILE_ABOVE / 1e6:.1f} MP), label maps up to "
            f"{eng.MAX_LABEL_PIXELS / 1e6:.1f} MP."
        )
        if engine.note:
            gr.Markdown(f"**Note:** {engine.note}", elem_id="models-note")
        sizes = gr.State(sizes0)

        # --- Paint ---------------------------------------------------------------------------------------
        with gr.Tab("Paint a label map", id="paint"):
            if first is None:
                gr.Markdown("No label-map model is loaded (load an ASAP-Net or pix2pixHD model with --model).")
            else:
                labels = first.labels
                start = eng.starting_labels(labels, canvas_hw, bundled="bundled" in labels.description)
                colors = [_hex(labels.table[i]) for i in labels.ids]
                brush_default = next((c for i, c in zip(labels.ids, colors) if labels.names.get(i) == "car"),
                                     colors[-1])
                base = gr.State(start)  # ids under the canvas background
                current = gr.State(start)  # ids including the strokes
                with gr.Row():
                    with gr.Column(scale=1):
                        canvas = gr.ImageEditor(
                            value={"background": eng.colorize(start, labels), "layers": [], "composite": None},
                            label=f"canvas {canvas_hw[0]}x{canvas_hw[1]} (HxW): paint with the class colours",
                            type="numpy", image_mode="RGB", format="png", sources=[], transforms=[],
                            layers=False,
                            brush=gr.Brush(colors=colors, default_color=brush_default, color_mode="fixed",
                                           default_size=max(2, canvas_hw[0] // 16)),
                            canvas_size=(canvas_hw[1], canvas_hw[0]), elem_id="paint-canvas",
                        )
                        gr.HTML(_legend(first))
                        with gr.Row():
                            fill_class = gr.Dropdown(
                                choices=[(f"{i}: {labels.names.get(i, i)}", i) for i in labels.ids],
                                value=labels.ids[0], label="fill class", elem_id="fill-class", scale=2)
                            fill_all = gr.Button("fill the whole canvas", scale=1, elem_id="fill-all")
                        with gr.Row():
                            upload = gr.UploadButton("upload an id-PNG label map", file_types=[".png"],
                                                     elem_id="label-upload")
                            reset = gr.Button("start again", elem_id="paint-reset")
                        preview = gr.Image(eng.colorize(start, labels), label="label map: click a region to fill "
                                           "it with the fill class", interactive=False, format="png", height=200,
                                           elem_id="paint-labels", elem_classes=["pw-pixels"],
                                           buttons=["download"])
                    with gr.Column(scale=1):
                        outputs = [gr.Image(label=m.name, interactive=False, format="png", height=280,
                                            elem_id=f"paint-out-{i}", elem_classes=["pw-pixels"])
                                   for i, m in enumerate(label_models)]
                        paint_ms = gr.Markdown(elem_id="paint-ms")
                        gr.Markdown(cards.model_lines(label_models), elem_id="paint-models")
                paint_status = gr.Markdown(elem_id="paint-status")

                def run_paint(ids: np.ndarray, sizes_now: dict, request: gr.Request | None) -> tuple:
                    results = engine.translate_labels(ids)
                    shown = [gr.update(value=downloads.write_png(_session(request), r.image, f"{r.key}.png"),
                                       label=f"{engine.by_key(r.key).name}: {r.ms:.1f} ms") for r in results]
                    ms = " · ".join(f"**{engine.by_key(r.key).name}** {r.ms:.1f} ms" for r in results)
                    h, w = ids.shape
                    new_sizes = {**sizes_now, **{m.key: (h, w) for m in label_models}}
                    return (*shown, f"{ms} (label map {h}x{w}, {engine.device})", new_sizes)

                def on_canvas(value: dict | None, base_ids: np.ndarray, ids_now: np.ndarray, sizes_now: dict,
                              request: gr.Request) -> tuple:
                    skip = (gr.skip(),) * (len(outputs) + 4)
                    if not value or value.get("composite") is None:
                        return (*skip, "")
                    try:
                        ids = eng.canvas_to_ids(value["composite"], base_ids, labels)
                        if np.array_equal(ids, ids_now):  # nothing new (e.g. the editor reporting a new background)
                            return (*skip, "")
                        ran = run_paint(ids, sizes_now, request)
                    except PixelwiseError as exc:
                        return (*skip, _status(eng.short_message(exc), ok=False))
                    return (*ran, ids, downloads.write_png(_session(request), eng.colorize(ids, labels), "labels.png"),
                            "")

                def set_canvas(ids: np.ndarray, sizes_now: dict, request: gr.Request | None) -> tuple:
                    # a new background (strokes baked in), and the models rerun on it
                    image = downloads.write_png(_session(request), eng.colorize(ids, labels), "labels.png")
                    editor = {"background": image, "layers": [], "composite": image}
                    return (editor, ids, ids, image, *run_paint(ids, sizes_now, request), "")

                def failed(exc: Exception, path: Any = None) -> tuple:
                    return (*(gr.skip(),) * (len(outputs) + 6), _status(eng.short_message(exc, path), ok=False))

                def on_fill(ids: np.ndarray, cls: Any, sizes_now: dict, evt: gr.SelectData,
                            request: gr.Request) -> tuple:
                    try:
                        x, y = (int(v) for v in evt.index)
                        return set_canvas(eng.fill_region(ids, y, x, int(cls)), sizes_now, request)
                    except (PixelwiseError, TypeError, ValueError) as exc:
                        return failed(exc)

                def on_fill_all(ids: np.ndarray, cls: Any, sizes_now: dict, request: gr.Request) -> tuple:
                    return set_canvas(np.full_like(ids, int(cls)), sizes_now, request)

                def on_upload(file: Any, sizes_now: dict, request: gr.Request) -> tuple:
                    path = getattr(file, "name", file)
                    try:
                        ids = eng.read_label_upload(path, labels, max(m.spec.multiple for m in label_models))
                        return set_canvas(ids, sizes_now, request)
                    except PixelwiseError as exc:
                        return failed(exc, path)

                def on_reset(sizes_now: dict, request: gr.Request) -> tuple:
                    return set_canvas(start, sizes_now, request)

                paint_outs = [*outputs, paint_ms, sizes, current, preview, paint_status]
                canvas.input(on_canvas, [canvas, base, current, sizes], paint_outs, trigger_mode="always_last",
                             show_progress="hidden", **QUEUE)
                set_outs = [canvas, base, current, preview, *outputs, paint_ms, sizes, paint_status]
                preview.select(on_fill, [current, fill_class, sizes], set_outs, **QUEUE)
                fill_all.click(on_fill_all, [current, fill_class, sizes], set_outs, api_name="fill_all", **QUEUE)
                upload.upload(on_upload, [upload, sizes], set_outs, **QUEUE)
                reset.click(on_reset, [sizes], set_outs, **QUEUE)

                def on_load(sizes_now: dict, request: gr.Request) -> tuple:
                    try:
                        return run_paint(start, sizes_now, request)
                    except PixelwiseError as exc:  # pragma: no cover - the starting map is always valid
                        return (*(gr.skip(),) * (len(outputs) + 2), _status(eng.short_message(exc), ok=False))

                demo.load(on_load, [sizes], [*outputs, paint_ms, sizes], **QUEUE)

        # --- Deblur --------------------------------------------------------------------------------------
        with gr.Tab("Deblur a photo", id="deblur"):
            if not photo_models:
                gr.Markdown("No deblurring model is loaded (load a DeblurGAN or DeblurGAN-ASAP model with --model).")
            else:
                with gr.Row():
                    with gr.Column(scale=1):
                        photo_in = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                            label="photo (any size)", elem_id="deblur-input")
                        strength = gr.Slider(0.0, 1.0, value=0.0, step=0.05, elem_id="deblur-strength",
                                             label="blur it first: strength (0 = use the photo as it is, "
                                                   "1 = a 60-pixel camera shake)")
                        seed = gr.Number(0, precision=0, label="blur seed", minimum=0)
                        model_key = gr.Dropdown([(m.name, m.key) for m in photo_models], value=photo_models[0].key,
                                                label="model (preselected: the one named with --model, else the "
                                                      "default of pixelwise deblur)", elem_id="deblur-model")
                        with gr.Accordion("model card", open=False):
                            card = gr.Markdown(cards.card_markdown(photo_models[0]), elem_id="deblur-card")
                        go = gr.Button("deblur", variant="primary", elem_id="deblur-run")
                        examples = _example_photos()
                        if examples:
                            gr.Examples(examples, inputs=[photo_in], label="bundled photos (scikit-image)")
                    with gr.Column(scale=1):
                        compare = gr.ImageSlider(label="before (model input) | after", format="png",
                                                 elem_id="deblur-compare", interactive=False)
                        deblur_ms = gr.Markdown(elem_id="deblur-ms")
                        download = gr.File(label="download the result (PNG)", elem_id="deblur-download",
                                           interactive=False)
                deblur_status = gr.Markdown(elem_id="deblur-status")

                def on_deblur(path: str | None, strength_v: float, seed_v: float, key: str, sizes_now: dict,
                              request: gr.Request) -> tuple:
                    skip = (gr.skip(),) * 4
                    if not path:
                        return (*skip, _status("upload a photo first", ok=False))
                    try:
                        photo = eng.read_photo_upload(path)
                        blurred = engine.blur(photo, float(strength_v), int(seed_v or 0))
                        result = engine.deblur(key, blurred)
                    except PixelwiseError as exc:
                        return (*skip, _status(eng.short_message(exc, path), ok=False))
                    h, w = photo.shape[:2]
                    stem = Path(path).stem
                    out_path = downloads.write_png(_session(request), result.image, f"{stem}_deblurred.png")
                    before = downloads.write_png(_session(request), blurred, f"{stem}_input.png")
                    note = f", {eng.TILE}x{eng.TILE} tiles" if result.tiled else ""
                    name = engine.by_key(key).name
                    text = (f"**{name}** {result.ms:.1f} ms ({h}x{w}{note}, {engine.device})"
                            + (f"; blurred first with strength {strength_v:.2f}, seed {int(seed_v or 0)}"
                               if strength_v else ""))
                    return (before, out_path), text, out_path, {**sizes_now, key: (h, w)}, ""

                deblur_outs = [compare, deblur_ms, download, sizes, deblur_status]
                deblur_ins = [photo_in, strength, seed, model_key, sizes]
                photo_in.upload(on_deblur, deblur_ins, deblur_outs, api_name="deblur_on_upload", **QUEUE)
                go.click(on_deblur, deblur_ins, deblur_outs, api_name="deblur", **QUEUE)
                model_key.change(lambda key: cards.card_markdown(engine.by_key(key)), [model_key], [card],
                                 queue=False, show_progress="hidden", api_name="model_card")

        # --- Models --------------------------------------------------------------------------------------
        with gr.Tab("Models", id="models") as models_tab:
            gr.Markdown(
                "Params, GFLOPs of one call at the size shown in the other tabs (label ids in, as the app calls "
                "the models; multiply-add = 2, as `pixelwise bench` counts), the median of this session's runs, "
                "the benchmark (`pixelwise bench`'s function: same architecture, random weights, "
                f"{eng.BENCH_WARMUP} warm-up + median of {eng.BENCH_RUNS}) and, for models from a study, the "
                "study's own figures. Timings depend on the machine's load."
            )
            table = gr.Dataframe(headers=eng.MODEL_COLUMNS, value=engine.model_rows(sizes0, flops=False),
                                 interactive=False, wrap=True, elem_id="models-table",
                                 column_widths=["14%", "10%", "9%", "7%", "7%", "6%", "9%", "12%", "14%", "12%"])
            with gr.Row():
                refresh = gr.Button("refresh", elem_id="models-refresh")
                bench = gr.Button("benchmark at these sizes", elem_id="models-bench")

            def on_models(sizes_now: dict) -> list:
                return engine.model_rows(sizes_now)

            def on_bench(sizes_now: dict) -> list:
                engine.run_bench(sizes_now)
                return engine.model_rows(sizes_now)

            models_tab.select(on_models, [sizes], [table], **QUEUE)
            refresh.click(on_models, [sizes], [table], **QUEUE)
            bench.click(on_bench, [sizes], [table], **QUEUE)

        def on_unload(request: gr.Request) -> None:  # the page was closed: its result files go
            downloads.end_session(_session(request))

        demo.unload(on_unload)
    demo.downloads = downloads  # the server's owner closes it (pixelwise.app.serve)
    demo.engine = engine
    return demo


def _example_photos() -> list[list[str]]:
    """Photos that ship inside scikit-image's wheel (real photos; clock_motion is really motion-blurred)."""
    try:
        import skimage
    except ImportError:  # pragma: no cover - a dependency of pixelwise
        return []
    folder = Path(skimage.__file__).parent / "data"
    names = ("chelsea.png", "coffee.png", "astronaut.png", "clock_motion.png")
    return [[str(folder / n)] for n in names if (folder / n).is_file()]


def launch(engine: eng.Engine, host: str = "127.0.0.1", port: int = 7860,
           size: tuple[int, int] | None = None, max_queue: int = MAX_QUEUE, downloads: Downloads | None = None) -> Any:
    """Build the app and start serving it in a thread; returns the Blocks (``.block_thread()`` waits,
    ``.close()`` stops; ``.downloads.close()`` removes the result files)."""
    demo = build(engine, size, downloads)
    demo.queue(default_concurrency_limit=1, max_size=max_queue)
    demo.launch(server_name=host, server_port=port, max_file_size=f"{eng.MAX_UPLOAD_MB}mb", show_error=False,
                quiet=True, ssr_mode=False, prevent_thread_lock=True, footer_links=[], css=CSS,
                allowed_paths=[str(p[0]) for p in _example_photos()])
    return demo
