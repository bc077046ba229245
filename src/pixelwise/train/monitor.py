"""What a run writes besides checkpoints (rank 0 only): ``metrics.jsonl`` (one JSON line per logged step),
TensorBoard events under ``tensorboard/`` and ``samples/step_<N>.png`` grids (rows: input | output | target)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixelwise.data.transforms import tensor_to_photo
from pixelwise.extras import require
from pixelwise.fileio import atomic_write, atomic_write_text
from pixelwise.rundir import METRICS, TENSORBOARD, sample_path


def sample_grid(inputs: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor, max_rows: int = 4) -> np.ndarray:
    """Rows of (input | output | target) images in [-1, 1] -> uint8 (H, W, 3) with 2-pixel gutters."""
    rows = []
    n = min(max_rows, outputs.shape[0])
    for i in range(n):
        tiles = [t[i].detach().float().cpu().clamp(-1, 1) for t in (inputs, outputs, targets)]
        gutter = torch.ones(3, tiles[0].shape[1], 2)
        rows.append(torch.cat([tiles[0], gutter, tiles[1], gutter, tiles[2]], dim=2))
        if i != n - 1:
            rows.append(torch.ones(3, 2, rows[-1].shape[2]))
    grid = torch.cat(rows, dim=1)
    return tensor_to_photo(grid)


class Monitor:
    """Rank 0's writer of metrics, TensorBoard scalars and sample images. A no-op on other ranks."""

    def __init__(self, run_dir: Path, enabled: bool, tensorboard: bool, resume_step: int) -> None:
        self.run_dir = run_dir
        self.enabled = enabled
        self.writer = None
        if not enabled:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        self._truncate_metrics(resume_step)
        self._metrics = open(run_dir / METRICS, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        if tensorboard:
            require("tensorboard", "train", "TensorBoard logging (train.tensorboard=false turns it off)")
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / TENSORBOARD), purge_step=resume_step + 1)

    def _truncate_metrics(self, resume_step: int) -> None:
        """Drop lines logged after the checkpoint we resume from (a killed run logged past it)."""
        path = self.run_dir / METRICS
        if not path.exists():
            return
        kept = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                step = json.loads(line).get("step", 0)
            except (json.JSONDecodeError, AttributeError):
                continue  # a line torn by a kill
            if step <= resume_step:
                kept.append(line)
        atomic_write_text(path, "".join(f"{line}\n" for line in kept))

    def log(self, step: int, epoch: int, values: dict[str, float], extra: dict[str, Any] | None = None) -> None:
        if not self.enabled:
            return
        record: dict[str, Any] = {"step": step, "epoch": epoch}
        record.update({k: (v if math.isfinite(v) else str(v)) for k, v in values.items()})
        record.update(extra or {})
        self._metrics.write(json.dumps(record) + "\n")
        self._metrics.flush()
        if self.writer is not None:
            for key, value in values.items():
                group = "loss" if key.startswith(("g_", "d_")) else "train"
                self.writer.add_scalar(f"{group}/{key}", value, step)

    def sample(self, step: int, inputs: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor) -> Path | None:
        if not self.enabled:
            return None
        from PIL import Image

        grid = sample_grid(inputs, outputs, targets)
        path = sample_path(self.run_dir, step)
        atomic_write(path, lambda tmp: Image.fromarray(grid).save(tmp, format="PNG"))
        if self.writer is not None:
            self.writer.add_image("samples", grid, step, dataformats="HWC")
        return path

    def close(self) -> None:
        if not self.enabled:
            return
        self._metrics.close()
        if self.writer is not None:
            self.writer.close()
