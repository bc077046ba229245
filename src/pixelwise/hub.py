"""Model folders by name: a local path, a model shipped inside the package (``pixelwise/<name>``), or a
Hugging Face Hub repo id (``org/name``, through the optional ``huggingface_hub``: ``pip install "pixelwise[hub]"``).

:func:`resolve_model_dir` is the one place that decides; :mod:`pixelwise.models.io` (``from_pretrained``,
``resolve_generator``, so ``infer``, ``eval``, ``export``, ``model.init_from`` too) calls it first. The order:

1. a path that exists is always used as it is (a local folder wins over a repo id of the same spelling);
2. ``pixelwise/<name>`` where the package ships ``pretrained/<name>/`` (package data, no download);
3. any other ``org/name``: ``huggingface_hub.snapshot_download`` into the standard cache (``HF_HUB_CACHE`` /
   ``HF_HOME``); with ``HF_HUB_OFFLINE=1`` only the cache is read. Not cached offline, not found, or no network:
   one line saying which.

:func:`push_to_hub` saves a model (or takes a saved folder) and uploads it with ``huggingface_hub.upload_folder``.
This module imports nothing from :mod:`pixelwise.models` (the models call it), only the standard library.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from pixelwise.errors import PixelwiseError
from pixelwise.extras import install_hint, require

PACKAGED_ORG = "pixelwise"
PACKAGED_ROOT = Path(__file__).resolve().parent / "pretrained"  # package data: pretrained/<name>/{config.json,...}
HUB_FILES = ["*.json", "*.safetensors", "*.md"]  # what a pixelwise model folder holds (no other repo files)
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def looks_like_repo_id(text: str) -> bool:
    """``org/name`` (one slash, no leading ``.`` or ``/``, no ``..``): how the Hub spells repo ids."""
    return bool(_REPO_ID.match(text)) and ".." not in text and not text.endswith((".", "-"))


def packaged_names() -> list[str]:
    """The pretrained models shipped inside the package (``pixelwise/<name>``): none until weights exist."""
    root = PACKAGED_ROOT
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "config.json").is_file())


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")


def download(repo_id: str, revision: str | None = None) -> Path:
    """``snapshot_download`` of a pixelwise model repo into the standard Hugging Face cache (offline: the cache
    only); one line when it cannot be had."""
    hf = require("huggingface_hub", "hub", f"{repo_id} is not a local folder; loading it as a Hugging Face Hub repo")
    from huggingface_hub import constants, errors

    offline = _offline() or bool(getattr(constants, "HF_HUB_OFFLINE", False))
    where = f"{repo_id}" + (f"@{revision}" if revision else "")
    try:
        path = hf.snapshot_download(repo_id, revision=revision, allow_patterns=HUB_FILES, local_files_only=offline,
                                    library_name="pixelwise")
    except errors.LocalEntryNotFoundError:
        if offline:
            raise PixelwiseError(f"{where} is neither a local folder nor in the Hugging Face cache "
                                 f"({constants.HF_HUB_CACHE}) and HF_HUB_OFFLINE is set: download it once online, "
                                 f"or give a local model folder") from None
        raise PixelwiseError(f"{where} is neither a local folder nor in the Hugging Face cache "
                             f"({constants.HF_HUB_CACHE}), and the Hub could not be reached: check the network, "
                             f"or give a local model folder") from None
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError, errors.HFValidationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PixelwiseError(f"{where} is neither a local folder nor a Hub model repo you can read ({first})") from None
    except (errors.HfHubHTTPError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PixelwiseError(f"{where}: downloading from the Hugging Face Hub failed ({first})") from None
    return Path(path)


def resolve_model_dir(ref: str | Path, revision: str | None = None) -> Path:
    """A local path, ``pixelwise/<shipped name>`` or a Hub repo id -> a local folder (see the module doc).
    A path that does not exist and does not look like a repo id comes back unchanged: the caller's own check
    then says what is missing."""
    path = Path(ref)
    if path.exists() or isinstance(ref, Path):
        return path
    text = str(ref)
    if not looks_like_repo_id(text):
        return path
    org, name = text.split("/")
    if org == PACKAGED_ORG and revision is None and name in packaged_names():
        return PACKAGED_ROOT / name
    return download(text, revision)


def push_to_hub(model: Any, repo_id: str, *, commit_message: str | None = None, private: bool | None = None,
                token: str | None = None, revision: str | None = None, create_repo: bool = True,
                **card_info: Any) -> str:
    """Upload a model to the Hub repo ``repo_id``: ``model`` is a pixelwise model (saved with
    ``save_pretrained(tmp, **card_info)`` into a temporary folder: config.json, model.safetensors, README.md) or
    the path of a saved model folder. Returns the commit URL."""
    hf = require("huggingface_hub", "hub", "push_to_hub")
    if not looks_like_repo_id(repo_id):
        raise PixelwiseError(f"{repo_id!r} is not a Hub repo id: use org/name")
    with tempfile.TemporaryDirectory(prefix="pixelwise-push-") as tmp:
        if isinstance(model, (str, Path)):
            folder = Path(model)
            if not (folder / "config.json").is_file():
                raise PixelwiseError(f"{folder} is not a pixelwise model folder (config.json is missing)")
        else:
            folder = Path(tmp) / "model"
            model.save_pretrained(folder, **card_info)
        if create_repo:
            hf.create_repo(repo_id, private=private, token=token, exist_ok=True)
        info = hf.upload_folder(repo_id=repo_id, folder_path=str(folder), allow_patterns=HUB_FILES,
                                commit_message=commit_message or f"pixelwise: upload {repo_id}", token=token,
                                revision=revision)
    return str(getattr(info, "commit_url", info))


__all__ = ["PACKAGED_ORG", "PACKAGED_ROOT", "download", "install_hint", "looks_like_repo_id", "packaged_names",
           "push_to_hub", "resolve_model_dir"]
