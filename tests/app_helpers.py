"""Shared by the app's tests: a ``runs/demo``-like folder (what ``pixelwise demo`` writes, with tiny untrained
models in its run dirs and a results.json with the demo's numbers) made in seconds."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(args: list[str], log: Path, start_timeout: float, cwd: Path | None = None,
                extra_env: dict[str, str] | None = None, stop_timeout: float = 10.0) -> Iterator[tuple[Any, str]]:
    """``pixelwise app ARGS`` as a command on a free loopback port (from ``cwd``), its output in ``log``, until
    the block ends (SIGTERM: the app stops as on Ctrl+C); yields (the process, its URL)."""
    import os
    import subprocess
    import sys
    import time

    import pytest

    port = free_port()
    command = [sys.executable, "-m", "pixelwise", "app", "--port", str(port), "--host", "127.0.0.1", *args]
    # its own Gradio upload cache beside the log: uploads are cached by content hash, so two test runs at once
    # (same photos) shared /tmp/gradio/<hash>/ files and one app's cleanup removed the other's upload
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1",
           "GRADIO_TEMP_DIR": str(log.parent / f"gradio-{port}"), **(extra_env or {})}
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        deadline = time.monotonic() + start_timeout
        while "ready at" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"pixelwise app did not start (exit {process.poll()}):\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process, f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        try:
            process.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
