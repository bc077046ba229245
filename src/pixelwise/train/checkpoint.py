"""How checkpoints are written, verified and resumed (file names: :mod:`pixelwise.rundir`):

    RUN/checkpoints/step_<N>/generator.safetensors       generator weights
                             discriminator.safetensors   discriminator weights
                             config.json                 model record of the generator (so
                                                         pixelwise.models.io.load_generator opens it), plus
                                                         "discriminator" (its record), "run_config", "step"
                             training_state.pt           optimizers, gradient scalers, LR schedule, RNG states
                                                         of every rank, step, epoch, position in the epoch
                                                         (plain tensors and containers: torch.load with
                                                         weights_only=True)
                             manifest.json               size and SHA-256 of the files above, written last
    RUN/checkpoints/latest -> step_<N>                   symlink to the newest complete checkpoint

A checkpoint is written into a hidden temporary folder that is renamed to ``step_<N>`` only once every file
is on disk, then ``latest`` is replaced atomically (a new symlink renamed over the old one). A checkpoint is
*complete* when its manifest matches its files; resuming never picks an incomplete or damaged one.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.fileio import atomic_write, atomic_write_json, make_temp_dir
from pixelwise.models import io as model_io
from pixelwise.models.manifest import sha256
from pixelwise.rundir import CHECKPOINT_CONFIG as CONFIG
from pixelwise.rundir import CHECKPOINTS, DISCRIMINATOR, GENERATOR, LATEST, MANIFEST, TRAINING_STATE, step_name
from pixelwise.rundir import STEP_DIR as _STEP_DIR

_TMP_PREFIX = ".tmp-"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- RNG states -------------------------------------------------------------------------------------------
def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and (this process's) CUDA generator states as plain tensors and scalars."""
    version, internal, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state(("MT19937", npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


# --- writing ----------------------------------------------------------------------------------------------
def save_checkpoint(run_dir: str | Path, step: int, generator: nn.Module, discriminator: nn.Module,
                    training_state: dict[str, Any], extra_config: dict[str, Any] | None = None,
                    keep: int = 3) -> Path:
    """Write ``checkpoints/step_<step>/`` atomically, point ``latest`` at it and keep the newest ``keep``."""
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(root, f"{_TMP_PREFIX}{step_name(step)}-")
    final = root / step_name(step)
    try:
        model_io.save_state_dict(generator.state_dict(), tmp / GENERATOR, metadata={"format": "pt"})
        model_io.save_state_dict(discriminator.state_dict(), tmp / DISCRIMINATOR, metadata={"format": "pt"})
        record = model_io.model_record(generator)
        record["discriminator"] = model_io.model_record(discriminator)
        record["step"] = step
        record.update(extra_config or {})
        atomic_write_json(tmp / CONFIG, record)
        atomic_write(tmp / TRAINING_STATE, lambda path: torch.save(training_state, path))
        files = {name: {"bytes": (tmp / name).stat().st_size, "sha256": sha256(tmp / name)}
                 for name in (GENERATOR, DISCRIMINATOR, CONFIG, TRAINING_STATE)}
        atomic_write_json(tmp / MANIFEST, {"step": step, "files": files})
        _fsync_dir(tmp)
        if final.exists() or final.is_symlink():  # a stale copy of this step from an abandoned run
            stale = root / f"{_TMP_PREFIX}old-{final.name}-{uuid.uuid4().hex[:8]}"
            os.replace(final, stale)
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    point_latest(run_dir, final)
    prune_checkpoints(run_dir, keep)
    return final


def point_latest(run_dir: str | Path, checkpoint: Path) -> None:
    """Atomically make ``checkpoints/latest`` a relative symlink to ``checkpoint``."""
    root = Path(run_dir) / CHECKPOINTS
    link = root / f"{_TMP_PREFIX}latest-{uuid.uuid4().hex[:8]}"
    os.symlink(checkpoint.name, link, target_is_directory=True)
    try:
        os.replace(link, root / LATEST)
    except BaseException:
        link.unlink(missing_ok=True)
        raise
    _fsync_dir(root)


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every ``step_<N>`` folder, oldest first (complete or not)."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        match = _STEP_DIR.match(path.name)
        if match and path.is_dir() and not path.is_symlink():
            found.append((int(match.group(1)), path))
    return sorted(found)


def prune_checkpoints(run_dir: str | Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (never the one ``latest`` points at) and stale temps."""
    root = Path(run_dir) / CHECKPOINTS
    latest = (root / LATEST).resolve() if (root / LATEST).is_symlink() else None
    checkpoints = list_checkpoints(run_dir)
    for _, path in checkpoints[: max(0, len(checkpoints) - keep)]:
        if latest is None or path.resolve() != latest:
            shutil.rmtree(path, ignore_errors=True)


def remove_partial(run_dir: str | Path) -> None:
    """Delete temporary folders and links left by a run that was killed while saving."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return
    for path in root.iterdir():
        if path.name.startswith(_TMP_PREFIX):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


# --- reading ----------------------------------------------------------------------------------------------
def verify_checkpoint(path: str | Path) -> None:
    """Raise a PixelwiseError saying what is wrong unless ``path`` is a complete, undamaged checkpoint."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise PixelwiseError(f"checkpoint {path} is incomplete: {MANIFEST} is missing (interrupted save?)")
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise PixelwiseError(f"checkpoint {path}: {MANIFEST} is damaged ({exc})") from exc
    for name in (GENERATOR, DISCRIMINATOR, CONFIG, TRAINING_STATE):
        file = path / name
        expected = files.get(name) if isinstance(files, dict) else None
        if expected is None or not file.is_file():
            raise PixelwiseError(f"checkpoint {path} is incomplete: {name} is missing")
        if file.stat().st_size != expected["bytes"] or sha256(file) != expected["sha256"]:
            raise PixelwiseError(f"checkpoint {path} is damaged: {name} does not match its {MANIFEST} entry")


def is_complete(path: str | Path) -> bool:
    try:
        verify_checkpoint(path)
    except PixelwiseError:
        return False
    return True


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of a run: ``latest`` if it is complete, else the newest complete
    ``step_<N>`` (with a warning naming what was skipped); None when the run has none."""
    root = Path(run_dir) / CHECKPOINTS
    link = root / LATEST
    if link.exists():
        target = link.resolve()
        try:
            verify_checkpoint(target)
            return target
        except PixelwiseError as exc:
            warnings.warn(f"{link} -> {target.name} is not usable ({exc}); looking for an older checkpoint",
                          stacklevel=2)
    for _, path in reversed(list_checkpoints(run_dir)):
        if is_complete(path):
            return path
        warnings.warn(f"skipping incomplete or damaged checkpoint {path}", stacklevel=2)
    return None


def resolve_resume(run_dir: str | Path, resume: str | None) -> Path | None:
    """``--resume``: None (a fresh run; refuses a run dir that already has checkpoints), ``auto`` (the run
    dir's newest complete checkpoint, or a fresh start) or a path (a checkpoint dir or another run dir)."""
    run_dir = Path(run_dir)
    if resume is None:
        if list_checkpoints(run_dir):
            raise PixelwiseError(
                f"{run_dir} already holds checkpoints; continue it with --resume auto (or resume='auto'), "
                f"or choose a new --run-dir"
            )
        return None
    if resume == "auto":
        return latest_checkpoint(run_dir)
    path = Path(resume)
    if (path / CHECKPOINTS).is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise PixelwiseError(f"--resume {path}: that run dir has no complete checkpoint")
        return found
    if not path.is_dir():
        raise PixelwiseError(f"--resume {path}: no such checkpoint or run directory")
    verify_checkpoint(path)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A complete checkpoint -> {"generator", "discriminator" (state dicts), "training_state", "config"}."""
    path = Path(path)
    verify_checkpoint(path)
    try:
        state = torch.load(path / TRAINING_STATE, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PixelwiseError(f"{path / TRAINING_STATE} cannot be read ({exc})") from exc
    return {
        "generator": model_io.load_state_dict(path / GENERATOR),
        "discriminator": model_io.load_state_dict(path / DISCRIMINATOR),
        "training_state": state,
        "config": json.loads((path / CONFIG).read_text()),
    }
