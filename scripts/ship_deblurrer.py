"""Package a trained deblurring run as a shipped pretrained model: ``src/pixelwise/pretrained/<name>/``.

Writes ``config.json`` + ``model.safetensors`` (float16 weights: half the size; loading casts them back to
float32) + the model card ``README.md`` with a Training section: the exact training command, the budget read
from the run (steps, wall time), the data, the hardware. ``benchmarks/shipped_deblurrers.py --write-cards``
then adds the measured Results section.

    PYTHONPATH=src python scripts/ship_deblurrer.py RUN_DIR --name deblurgan-small \
        --command "pixelwise train deblurgan-photos-small --run-dir runs/deblurgan-small data.root=..." \
        --hardware "2-core AMD EPYC CPU, torch 2.14.1, 1 thread"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import pixelwise
from pixelwise import rundir
from pixelwise.config import load_yaml
from pixelwise.deblur import DEFAULT_DEBLUR_MODEL
from pixelwise.models import card as cards
from pixelwise.models.io import load_generator

PACKAGED = Path(__file__).resolve().parents[1] / "src" / "pixelwise" / "pretrained"
DATA = ("24 real photos, none of them in the held-out sets: the 8 training photos of scikit-image's bundled set "
        "(astronaut, rocket, the motorcycle stereo pair, camera, moon, brick, grass; 256 px wide), the 12 nature "
        "photos of Debian's `mate-backgrounds` and 4 photographic wallpapers of `plasma-workspace-wallpapers` "
        "(DarkestHour, Kite, Volna, summer_1am; 320 px wide), written by `python scripts/deblur_training_photos.py "
        "--out DIR` after `apt-get install plasma-workspace-wallpapers mate-backgrounds`; blurred on the fly with "
        "pixelwise's camera-shake trajectories (`data.format=blur`)")
DATA_CAMERA = ("24 real photos, none of them in the held-out sets: the 8 training photos of scikit-image's bundled "
               "set (astronaut, rocket, the motorcycle stereo pair, camera, moon, brick, grass; at their own size, "
               "427-512 px short side), the 12 nature photos of Debian's `mate-backgrounds` and 4 photographic "
               "wallpapers of `plasma-workspace-wallpapers` (DarkestHour, Kite, Volna, summer_1am), these at a "
               "720-px short side (camera scale), written by `python scripts/deblur_training_photos.py --out DIR "
               "--short-side 720` after `apt-get install plasma-workspace-wallpapers mate-backgrounds`; blurred on "
               "the fly with pixelwise's camera-shake trajectories up to 60 px (`data.format=blur`)")
LICENSE = "mit"


def budget(run: Path, step: int | None = None) -> str:
    """The training budget read from the run's metrics, up to ``step`` (a checkpoint shipped before the end)."""
    rows = [json.loads(line) for line in (run / rundir.METRICS).read_text().splitlines() if line.strip()]
    train = load_yaml(run / rundir.RUN_CONFIG)["train"]
    planned = train.get("max_steps")
    if step is not None:
        rows = [r for r in rows if r["step"] <= step]
    last = rows[-1]
    # a resumed run restarts its clock: add up the segments (the time drops where a resume began)
    seconds = sum(a["time"] for a, b in zip(rows, rows[1:]) if b["time"] < a["time"]) + last["time"]
    resumes = sum(1 for a, b in zip(rows, rows[1:]) if b["time"] < a["time"])
    batch = train["batch_size"]
    resumed = f", resumed {resumes} time(s) with --resume auto" if resumes else ""
    steps = f"{last['step']} steps" if step is None or step == planned else (
        f"{step} of the preset's {planned} steps (stopped there for the session's time; the cosine schedule "
        f"had brought the learning rate to {last['lr_g'] / rows[0]['lr_g']:.0%} of its start)")
    return (f"{steps} of batch {batch} ({seconds / 60:.0f} min of training on the CPU below{resumed}), "
            f"random crops blurred on the fly; see the preset's YAML for every setting")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="training run dir, or one of its checkpoints/step_N")
    parser.add_argument("--name", required=True, help="shipped name (pretrained/<name>)")
    parser.add_argument("--command", required=True, help="the exact training command")
    parser.add_argument("--hardware", required=True)
    parser.add_argument("--summary", default="")
    parser.add_argument("--data", choices=("small", "camera"), default="small",
                        help="training photos: 'small' (the v1 *-small models, 256-320 px) or 'camera' (the v2 "
                             "*-medium models, 720-px short side)")
    parser.add_argument("--out", type=Path, default=None, help="model folder (default: pretrained/<name>)")
    args = parser.parse_args()
    model = load_generator(args.run)
    out = args.out or PACKAGED / args.name
    data = DATA_CAMERA if args.data == "camera" else DATA
    checkpoint = rundir.STEP_DIR.match(args.run.name) if args.run.parent.name == rundir.CHECKPOINTS else None
    run, step = (args.run.parents[1], int(checkpoint.group(1))) if checkpoint else (args.run, None)
    training = cards.training_section(args.command, budget=budget(run, step), data=data, hardware=args.hardware)
    shipped = f"pixelwise/{args.name}"
    usage = ("```bash\npixelwise deblur blurry.png --output out/" +
             (f" --model {shipped}" if shipped != DEFAULT_DEBLUR_MODEL else "") + "\n```\n\n"
             f"```python\nimport pixelwise\nmodel = pixelwise.from_pretrained(\"pixelwise/{args.name}\")\n```")
    pixelwise.models.base.save_pretrained(
        model, out, name=model.registry_name, weights_dtype=torch.float16, license=LICENSE,
        tags=["deblurring", "motion-blur"], datasets=["scikit-image-data", "debian-mate-backgrounds",
                                                      "debian-plasma-workspace-wallpapers"],
        title=f"pixelwise/{args.name}", summary=args.summary or None,
        sections=[("Use", usage), ("Training", training)], metric_names=["psnr", "ssim"])
    size = (out / "model.safetensors").stat().st_size
    print(f"wrote {out} ({size / 1e6:.2f} MB of weights)")


if __name__ == "__main__":
    main()
