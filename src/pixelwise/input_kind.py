"""The one name of what a generator takes and a dataset gives (ground floor: models, data, bench and export read
it; :class:`pixelwise.models.base.InputSpec` carries it)."""

from __future__ import annotations

from enum import StrEnum


class InputKind(StrEnum):
    """The one name of what a generator takes and a dataset gives: label maps (``labels``) or photos (``photo``).
    Older spellings are read as aliases, so every saved YAML/JSON value keeps loading: ``semantic`` (the models'
    ``input_mode``, bench records) is ``labels``; ``rgb`` (``input_mode``, ``data.task``, bench records) is
    ``photo``. Members compare equal to their own value strings (``InputKind.LABELS == "labels"``)."""

    LABELS = "labels"
    PHOTO = "photo"

    @classmethod
    def _missing_(cls, value: object) -> InputKind | None:
        return {"semantic": cls.LABELS, "rgb": cls.PHOTO}.get(value) if isinstance(value, str) else None


__all__ = ["InputKind"]
