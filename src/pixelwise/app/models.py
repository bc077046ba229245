"""Which models the app shows: ``--model`` arguments (model dirs, checkpoint dirs, run dirs, a study's output
folder, training preset names, registry names) -> :class:`AppModel` records with their label set.

Without ``--model`` the app opens ``runs/demo`` (what ``pixelwise demo`` writes: one run dir per model under
``runs/demo/runs/``) when it exists, else tiny untrained label models of the demo's presets, clearly labelled.
The deblurrers shipped inside the package (``pixelwise/<name>``) are always loaded beside them: they are made for
users' photos, the demo's tiny deblurrers are not. Each model says where it comes from (:attr:`AppModel.origin`:
"shipped", "demo, trained N steps", "trained N steps", "untrained") and what it was trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixelwise.app import _library as lib

DEMO_DIR = Path("runs/demo")
DEMO_PRESETS = ("asapnet-tiny", "pix2pixhd-tiny", "deblurgan-asap-tiny", "deblurgan-tiny")
LABEL_PRESETS = ("asapnet-tiny", "pix2pixhd-tiny")
DEFAULT_CANVAS = (256, 512)
FAMILY_NAMES = {"asapnet": "ASAP-Net", "asapnet-reference": "ASAP-Net (reference path)", "pix2pixhd": "pix2pixHD",
                "pix2pixhd-local": "pix2pixHD (local enhancer)", "deblurgan": "DeblurGAN",
                "deblurgan-asap": "DeblurGAN-ASAP"}
HOW_TO_GET_MODELS = ("no trained models found: run `pixelwise demo` (trains the four demo models into runs/demo in "
                     "a few minutes on CPU; start the app from the same folder), or pass --model DIR "
                     "(a model dir, checkpoint dir, run dir or study folder)")
SHIPPED_NOTE = ("the deblurrers are the ones shipped with pixelwise; the label models are untrained: run `pixelwise "
                "demo` (trains the demo models into runs/demo in a few minutes on CPU; start the app from the same "
                "folder), or pass --model DIR (a model dir, checkpoint dir, run dir or study folder)")


@dataclass
class LabelSet:
    """The label ids a label-map model takes, with names and display colours."""

    ids: list[int]  # the ids offered for painting (one per distinct colour)
    names: dict[int, str]  # id -> class name
    table: np.ndarray  # (256, 3) uint8: the colour of every id (unknown ids black)
    description: str  # e.g. "Cityscapes label ids (35)"
    valid: int  # ids 0..valid-1 are accepted (plus 255 when dontcare)
    dontcare: bool = False

    def key(self) -> tuple:
        return (self.valid, self.dontcare, self.description)


@dataclass
class AppModel:
    """One loaded generator and what the UI says about it."""

    key: str  # unique, short
    name: str  # shown in the UI (with where it comes from)
    registry: str
    module: Any  # nn.Module, prepared for inference
    spec: Any  # pixelwise.inference.InputSpec
    source: str  # folder, or "untrained <preset>"
    trained: bool
    labels: LabelSet | None = None  # label-map models
    size: tuple[int, int] | None = None  # the size it was trained at (canvas size), when known
    study: dict[str, Any] | None = None  # its row of the study's results.json, when it came from a study
    origin: str = ""  # where it comes from: "shipped", "demo, trained N steps", "trained N steps", "untrained", ...
    trained_on: str | None = None  # what it was trained on, when known (its run's data section, or its card)
    card_file: Path | None = None  # its model card (README.md), when it has one
    steps: int | None = None  # training steps, when known (the checkpoint's step_N)
    shipped: str | None = None  # "pixelwise/<name>" for a model shipped inside the package
    requested: bool = True  # named by --model (False: opened by default, e.g. runs/demo or a shipped model)
    title: str = ""  # the name alone: the study's name for it, else the architecture's
    timings: dict[tuple[int, int], list[float]] = field(default_factory=dict)  # (H, W) -> ms of app runs

    @property
    def task(self) -> str:
        return "labels" if self.spec.kind == "labels" else "photo"

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    @property
    def is_asap(self) -> bool:
        return self.registry.startswith("asapnet") or self.registry == "deblurgan-asap"


# --- label sets --------------------------------------------------------------------------------------------
def label_set(spec: Any, data: Any | None) -> LabelSet:
    """The label set of a label-map model: from its training data config when known, else from its channel
    count (35 ids: Cityscapes label ids, 19: Cityscapes train ids, anything else: numbered classes)."""
    valid = spec.label_channels - int(spec.dontcare)
    fmt = getattr(data, "format", None)
    cityscapes_set = None
    if fmt == "cityscapes":
        cityscapes_set = data.label_set
    elif fmt is None and valid == 35:
        cityscapes_set = "ids"
    elif fmt is None and valid == 19:
        cityscapes_set = "train_ids"
    if cityscapes_set is not None:
        names_list = lib.cityscapes_class_names(cityscapes_set)
        table = lib.label_palette(lib.DataConfig(format="cityscapes", label_set=cityscapes_set))
        description = ("Cityscapes label ids" if cityscapes_set == "ids" else "Cityscapes train ids")
        description += f" ({valid})" + ("" if fmt == "cityscapes" else ", assumed from the channel count")
    else:
        names_list = [f"class {i}" for i in range(valid)]
        table = lib.label_palette(lib.DataConfig(format="flat", label_nc=max(1, min(valid, 256))))
        if fmt == "bundled-labels":
            description = f"bundled stand-in classes ({valid}; colour clusters of real photos, not Cityscapes)"
        else:
            description = f"{valid} numbered classes"
    names = {i: (names_list[i] if i < len(names_list) and names_list[i] else f"class {i}") for i in range(valid)}
    table = table.copy()
    if spec.dontcare:
        names[255] = "don't care"
        table[255] = (255, 255, 255)
    seen: set[tuple[int, ...]] = set()
    ids = []
    for i in [*range(min(valid, 256)), *([255] if spec.dontcare else [])]:
        color = tuple(int(c) for c in table[i])
        if color not in seen:  # ids sharing a colour (Cityscapes' black void ids) are painted as the first
            seen.add(color)
            ids.append(i)
    return LabelSet(ids, names, table, description, valid, spec.dontcare)


# --- finding and loading models -----------------------------------------------------------------------------
def _run_dir_of(directory: Path) -> Path | None:
    """The training run a model folder belongs to (it has config.yaml), for its data section."""
    for candidate in (directory, directory.parent.parent, directory.parent.parent.parent):
        if (candidate / "config.yaml").is_file() and (candidate / "checkpoints").is_dir():
            return candidate
    return None


def _study_row(run_dir: Path | None) -> dict[str, Any] | None:
    """The model's row of ``results.json`` when ``run_dir`` is ``<study>/runs/<key>``."""
    if run_dir is None or run_dir.parent.name != "runs":
        return None
    results = run_dir.parent.parent / "results.json"
    try:
        data = json.loads(results.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    for task in ("labels", "deblur"):
        for row in data.get(task, {}).get("models", []):
            if row.get("key") == run_dir.name:
                fullsize = data.get("bench", {}).get("fullsize", {})
                task_data = data.get(task, {})
                return {**row, "fullsize_size": fullsize.get("size"), "device": data.get("device"), "task": task,
                        "baseline": task_data.get("baseline"), "strengths": task_data.get("strengths") or [],
                        "data_description": (task_data.get("data") or {}).get("description")}
    return None


def _is_demo(run_dir: Path | None) -> bool:
    """Whether ``run_dir`` is a run of ``pixelwise demo`` (its study.yaml says ``demo: true``)."""
    if run_dir is None or run_dir.parent.name != "runs":
        return False
    try:
        return bool((lib.load_yaml(run_dir.parent.parent / "study.yaml") or {}).get("demo"))
    except (lib.PixelwiseError, OSError):
        return False


def _steps(directory: Path, study: dict[str, Any] | None) -> int | None:
    step = lib.STEP_DIR.match(directory.name)
    if step:
        return int(step.group(1))
    return (study or {}).get("steps")


def is_study_dir(path: Path) -> bool:
    return (path / "runs").is_dir() and any((path / "runs").glob("*/checkpoints/latest"))


def expand(spec: str) -> list[str]:
    """A study folder stands for its run dirs; anything else for itself."""
    path = Path(spec)
    if path.is_dir() and is_study_dir(path) and not (path / "config.json").exists():
        return [str(p) for p in sorted((path / "runs").iterdir()) if (p / "checkpoints" / "latest").exists()]
    return [spec]


def _data_section(run_dir: Path | None) -> Any | None:
    if run_dir is None:
        return None
    try:
        section = lib.load_yaml(run_dir / "config.yaml").get("data") or {}
        return lib.DataConfig(**{k: v for k, v in section.items() if k in lib.DataConfig.__dataclass_fields__})
    except (lib.PixelwiseError, TypeError, OSError):
        return None


def load_one(spec: str, device: str = "cpu", requested: bool = True) -> AppModel:
    """Open one ``--model`` argument; a PixelwiseError names it and the fix."""
    path = Path(spec)
    study = None
    steps = card_file = shipped = None
    short = spec.split("/", 1)[1] if spec.startswith(f"{lib.PACKAGED_ORG}/") else None
    if path.is_dir():
        module = lib.load_generator(path)
        directory, _ = lib.resolve_generator(path)
        run_dir = _run_dir_of(directory)
        data = _data_section(run_dir)
        study = _study_row(run_dir)
        steps = _steps(directory, study)
        source, trained = str(path), True
        key = run_dir.name if run_dir is not None else path.name
        card_file = directory / lib.CARD_NAME if (directory / lib.CARD_NAME).is_file() else None
        if directory.resolve().parent == lib.packaged_root().resolve():
            shipped = f"{lib.PACKAGED_ORG}/{directory.name}"
        if shipped:
            origin = shipped_origin(shipped)
        elif _is_demo(run_dir):
            origin = f"demo, trained {steps} steps" if steps is not None else "demo"
        else:
            origin = f"trained {steps} steps" if steps is not None else f"model folder {directory.name}"
    elif short is not None and short in lib.packaged_names():
        module = lib.from_pretrained(spec)  # a model shipped inside the package
        data = None
        source, trained, key, shipped = f"shipped {spec}", True, short, spec
        card_file = lib.packaged_root() / short / lib.CARD_NAME
        card_file = card_file if card_file.is_file() else None
        origin = shipped_origin(spec)
    elif lib.is_preset(spec):  # a preset name or an old name of one
        module = lib.untrained_generator(spec)
        data = lib.preset_data(spec)
        source, trained, key = f"untrained {spec} preset (random weights)", False, spec
        origin = "untrained"
    elif spec in lib.list_models():
        module = lib.create_model(spec)
        data = None
        source, trained, key = f"untrained {spec} (registry defaults, random weights)", False, spec
        origin = "untrained"
    else:
        raise lib.PixelwiseError(
            f"--model {spec}: not a folder, training preset or registry name; give a model dir, checkpoint dir, "
            f"run dir or study folder (e.g. runs/demo), a shipped model (pixelwise/<name>: `pixelwise models` lists "
            f"them), or a preset such as asapnet-tiny"
        )
    registry = getattr(module, "registry_name", "") or type(module).__name__
    lib.prepare_model(module, device)
    model_spec = lib.input_spec(module)
    name = title = (study or {}).get("name") or FAMILY_NAMES.get(registry, registry)
    if shipped:
        name += f" (shipped {shipped}" + ("; the default of pixelwise deblur)" if shipped == lib.DEFAULT_DEBLUR_MODEL
                                          else ")")
    elif not trained:
        name += " (untrained)"
    elif origin.startswith(("demo", "trained")):
        name += f" ({origin})"
    size = None
    if data is not None and data.load_height and data.load_width:
        size = (data.crop_height or data.load_height, data.crop_width or data.load_width)
        if model_spec.kind == "labels":
            size = (data.load_height, data.load_width)
    labels = label_set(model_spec, data) if model_spec.kind == "labels" else None
    trained_on = data_description(data) if data is not None else None
    if trained_on is None and card_file is not None:
        trained_on = lib.read_card(card_file.read_text(encoding="utf-8")).data
    return AppModel(key=key, name=name, registry=registry, module=module, spec=model_spec, source=source,
                    trained=trained, labels=labels, size=size, study=study, origin=origin, trained_on=trained_on,
                    card_file=card_file, steps=steps, shipped=shipped, requested=requested, title=title)


def shipped_origin(name: str) -> str:
    return "shipped; the default of `pixelwise deblur`" if name == lib.DEFAULT_DEBLUR_MODEL else "shipped"


def data_description(data: Any) -> str | None:
    """What a run's data section trained on, in words."""
    fmt = getattr(data, "format", None)
    size = f", {data.load_height}x{data.load_width}" if data.load_height and data.load_width else ""
    blur = f"camera paths up to {data.blur_max_length:g} px"
    if fmt == "bundled-labels":
        return f"the bundled label maps ({data.label_nc} stand-in classes from scikit-image's photos{size})"
    if fmt == "bundled-blur":
        return f"scikit-image's bundled photos{size}, blurred on the fly ({blur})"
    if fmt == "blur":
        return f"the photos in {data.root or '?'}{size}, blurred on the fly ({blur})"
    if fmt == "cityscapes":
        return f"Cityscapes ({'label ids' if data.label_set == 'ids' else 'train ids'}) in {data.root or '?'}{size}"
    if fmt is None:
        return None
    return f"{fmt} data in {data.root or '?'}{size}"


def default_specs(cwd: Path | None = None) -> tuple[list[str], str | None]:
    """``--model`` arguments when none are given, and a note for the UI when the models are untrained."""
    demo = (cwd or Path.cwd()) / DEMO_DIR
    if is_study_dir(demo):
        return [str(demo)], None
    shipped = [f"{lib.PACKAGED_ORG}/{name}" for name in lib.packaged_names()]
    if shipped:  # trained deblurrers ship with the package; the label models still come untrained
        return [*LABEL_PRESETS, *shipped], SHIPPED_NOTE
    return list(DEMO_PRESETS), HOW_TO_GET_MODELS


def load_models(specs: list[str] | None, device: str = "cpu") -> tuple[list[AppModel], str | None]:
    """Every model of ``specs`` (default: :func:`default_specs`), then every shipped deblurrer not among them,
    with unique keys, and the UI note."""
    note = None
    requested = bool(specs)
    if not specs:
        specs, note = default_specs()
    models: list[AppModel] = []
    for spec in [s for item in specs for s in expand(item)]:
        model = load_one(spec, device, requested=requested)
        _add(models, model)
    have = {m.shipped for m in models if m.shipped}
    for name in lib.packaged_names():  # always offered: made for users' photos
        if f"{lib.PACKAGED_ORG}/{name}" not in have:
            _add(models, load_one(f"{lib.PACKAGED_ORG}/{name}", device, requested=False))
    if note is None and not any(m.trained for m in models):
        note = HOW_TO_GET_MODELS
    return models, note


def _add(models: list[AppModel], model: AppModel) -> None:
    base, n = model.key, 2
    while any(m.key == model.key for m in models):
        model.key, n = f"{base}-{n}", n + 1
    models.append(model)


def default_photo_model(models: list[AppModel]) -> AppModel | None:
    """The deblurrer the Deblur tab preselects: the first photo model named with --model, else the default of
    ``pixelwise deblur`` (:data:`pixelwise.deblur.DEFAULT_DEBLUR_MODEL`), else the first photo model."""
    photo = [m for m in models if m.task == "photo"]
    return (next((m for m in photo if m.requested), None)
            or next((m for m in photo if m.shipped == lib.DEFAULT_DEBLUR_MODEL), None)
            or (photo[0] if photo else None))


def canvas_size(model: AppModel, override: tuple[int, int] | None = None) -> tuple[int, int]:
    """The paint canvas (H, W): ``override``, else the model's training size, else 256x512; rounded up to
    the model's size multiple."""
    h, w = override or model.size or DEFAULT_CANVAS
    m = model.spec.multiple
    return -(-h // m) * m, -(-w // m) * m
