"""Which models the app shows: ``--model`` arguments (model dirs, checkpoint dirs, run dirs, a study's output
folder, training preset names, registry names) -> :class:`AppModel` records with their label set.

Without ``--model`` the app opens ``runs/demo`` (what ``pixelwise demo`` writes: one run dir per model under
``runs/demo/runs/``) when it exists, else the deblurrers shipped inside the package (``pixelwise/<name>``) and
tiny untrained label models of the demo's presets, clearly labelled.
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
    name: str  # shown in the UI
    registry: str
    module: Any  # nn.Module, prepared for inference
    spec: Any  # pixelwise.inference.InputSpec
    source: str  # folder, or "untrained <preset>"
    trained: bool
    labels: LabelSet | None = None  # label-map models
    size: tuple[int, int] | None = None  # the size it was trained at (canvas size), when known
    study: dict[str, Any] | None = None  # its row of the study's results.json, when it came from a study
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
                return {**row, "fullsize_size": fullsize.get("size"), "device": data.get("device")}
    return None


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


def load_one(spec: str, device: str = "cpu") -> AppModel:
    """Open one ``--model`` argument; a PixelwiseError names it and the fix."""
    path = Path(spec)
    study = None
    if path.is_dir():
        module = lib.load_generator(path)
        directory, _ = lib.resolve_generator(path)
        run_dir = _run_dir_of(directory)
        data = _data_section(run_dir)
        study = _study_row(run_dir)
        source, trained = str(path), True
        key = run_dir.name if run_dir is not None else path.name
    elif spec.startswith(f"{lib.PACKAGED_ORG}/") and spec.split("/", 1)[1] in lib.packaged_names():
        module = lib.from_pretrained(spec)  # a model shipped inside the package
        data = None
        source, trained, key = f"shipped {spec}", True, spec.split("/", 1)[1]
    elif lib.is_preset(spec):  # a preset name or an old name of one
        module = lib.untrained_generator(spec)
        data = lib.preset_data(spec)
        source, trained, key = f"untrained {spec} preset (random weights)", False, spec
    elif spec in lib.list_models():
        module = lib.create_model(spec)
        data = None
        source, trained, key = f"untrained {spec} (registry defaults, random weights)", False, spec
    else:
        raise lib.PixelwiseError(
            f"--model {spec}: not a folder, training preset or registry name; give a model dir, checkpoint dir, "
            f"run dir or study folder (e.g. runs/demo), a shipped model (pixelwise/<name>: `pixelwise models` lists "
            f"them), or a preset such as asapnet-tiny"
        )
    registry = getattr(module, "registry_name", "") or type(module).__name__
    lib.prepare_model(module, device)
    model_spec = lib.input_spec(module)
    name = (study or {}).get("name") or FAMILY_NAMES.get(registry, registry)
    if source.startswith("shipped "):
        name += f" ({source})"
    if not trained:
        name += " (untrained)"
    size = None
    if data is not None and data.load_height and data.load_width:
        size = (data.crop_height or data.load_height, data.crop_width or data.load_width)
        if model_spec.kind == "labels":
            size = (data.load_height, data.load_width)
    labels = label_set(model_spec, data) if model_spec.kind == "labels" else None
    return AppModel(key=key, name=name, registry=registry, module=module, spec=model_spec, source=source,
                    trained=trained, labels=labels, size=size, study=study)


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
    """Every model of ``specs`` (default: :func:`default_specs`), with unique keys, and the UI note."""
    note = None
    if not specs:
        specs, note = default_specs()
    models: list[AppModel] = []
    for spec in [s for item in specs for s in expand(item)]:
        model = load_one(spec, device)
        base, n = model.key, 2
        while any(m.key == model.key for m in models):
            model.key, n = f"{base}-{n}", n + 1
        models.append(model)
    if note is None and not any(m.trained for m in models):
        note = HOW_TO_GET_MODELS
    return models, note


def canvas_size(model: AppModel, override: tuple[int, int] | None = None) -> tuple[int, int]:
    """The paint canvas (H, W): ``override``, else the model's training size, else 256x512; rounded up to
    the model's size multiple."""
    h, w = override or model.size or DEFAULT_CANVAS
    m = model.spec.multiple
    return -(-h // m) * m, -(-w // m) * m
