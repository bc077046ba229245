"""Shared by the app's tests: a ``runs/demo``-like folder (what ``pixelwise demo`` writes, with tiny untrained
models in its run dirs and a results.json with the demo's numbers) made in seconds."""

from __future__ import annotations

import json
from pathlib import Path

DEMO_MODELS = {  # key -> (display name, preset, task, steps)
    "asapnet": ("ASAP-Net", "asapnet-tiny", "labels", 504),
    "deblurgan-asap": ("DeblurGAN-ASAP", "deblurgan-asap-tiny", "deblur", 336),
}


def make_demo_folder(root: Path, models: dict[str, tuple[str, str, str, int]] | None = None) -> Path:
    """``root/runs/demo``: study.yaml (``demo: true``), results.json, and ``runs/<key>/`` run dirs with
    ``config.yaml`` and ``checkpoints/step_N`` (+ ``latest``) holding an untrained generator of the preset."""
    from pixelwise.app import _library as lib
    from pixelwise.config import save_yaml, to_dict

    demo = root / "runs" / "demo"
    results: dict = {"labels": {"models": []}, "deblur": {"models": [], "strengths": [0.25, 1.0]}}
    for key, (name, preset, task, steps) in (models or DEMO_MODELS).items():
        run = demo / "runs" / key
        step = run / "checkpoints" / f"step_{steps}"
        generator = lib.untrained_generator(preset)
        generator.save_pretrained(step)
        (step / "model.safetensors").rename(step / "generator.safetensors")
        (step / "README.md").unlink()
        (run / "checkpoints" / "latest").symlink_to(f"step_{steps}")
        save_yaml({"data": to_dict(lib.preset_data(preset))}, run / "config.yaml")
        final = {"psnr": 27.5, "ssim": 0.85, "strengths": {"0.25": {"psnr": 30.0}, "1.0": {"psnr": 25.0}}}
        results[task]["models"].append({"key": key, "name": name, "preset": preset, "steps": steps,
                                        "train_seconds": 60.0, "final": final})
    results["deblur"]["baseline"] = {"psnr": 27.0, "ssim": 0.84,
                                     "strengths": {"0.25": {"psnr": 31.0}, "1.0": {"psnr": 24.0}}}
    results["deblur"]["data"] = {"format": "bundled-blur", "description": "6 bundled test photos"}
    (demo / "results.json").write_text(json.dumps(results))
    save_yaml({"demo": True, "description": "a test stand-in for pixelwise demo"}, demo / "study.yaml")
    return demo
