"""Hub-style loading, offline: a local Hugging Face cache folder (``models--org--name/snapshots/<rev>/`` +
``refs/main``) is read with ``HF_HUB_OFFLINE=1`` (no network exists here); a local folder wins over a repo id;
not cached offline and a missing extra are one line each; shipped ``pixelwise/<name>`` models load from the
package; ``push_to_hub`` uploads exactly the saved folder; ``save_pretrained`` writes the model card."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

from pixelwise import create_model, from_pretrained, hub
from pixelwise.models import card

ROOT = Path(__file__).resolve().parents[1]
REVISION = "0123456789abcdef0123456789abcdef01234567"


def tiny(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_model("deblurgan", ngf=4, n_blocks=1)


def make_cache(hf_home: Path, repo_id: str, model: torch.nn.Module) -> Path:
    """The standard hub cache layout under ``HF_HOME/hub``, as snapshot_download leaves it."""
    repo = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / REVISION
    model.save_pretrained(snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(REVISION)
    return snapshot


def _run(script: str, cwd: Path, hf_home: Path, block_hub: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", HF_HOME=str(hf_home))
    prefix = "import sys\n"
    if block_hub:
        prefix += "sys.modules['huggingface_hub'] = None\n"
    return subprocess.run([sys.executable, "-c", prefix + textwrap.dedent(script)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_loads_a_repo_id_from_the_offline_cache(tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub")
    model = tiny(0)
    snapshot = make_cache(tmp_path / "hf", "acme/tiny-deblur", model)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    torch.save({"x": x, "y": model.eval()(x).detach()}, tmp_path / "io.pt")
    (tmp_path / "work").mkdir()
    from PIL import Image
    Image.new("RGB", (20, 12), (90, 120, 200)).save(tmp_path / "work" / "photo.png")
    script = """
    import torch, pixelwise
    from pixelwise.cli import main
    io = torch.load("../io.pt")
    model = pixelwise.from_pretrained("acme/tiny-deblur")
    print("LOADED", model.registry_name)
    assert torch.equal(model(io["x"]), io["y"])
    assert main(["infer", "acme/tiny-deblur", "photo.png", "--output", "out", "--quiet"]) == 0
    sys.exit(main(["infer", "acme/not-cached", "photo.png", "--output", "out2", "--quiet"]))
    """
    done = _run(script, tmp_path / "work", tmp_path / "hf")
    assert "LOADED deblurgan" in done.stdout, done.stdout + done.stderr
    assert (tmp_path / "work" / "out" / "photo.png").exists()
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "acme/not-cached" in lines[0] and "HF_HUB_OFFLINE" in lines[0] and "cache" in lines[0]
    assert not (tmp_path / "work" / "out2").exists()
    assert snapshot.is_dir()


def test_a_local_folder_wins_over_a_repo_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = tiny(1)
    local.save_pretrained(tmp_path / "acme" / "tiny-deblur")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(hub, "download", lambda *a, **k: pytest.fail("a local folder must not be downloaded"))
    loaded = from_pretrained("acme/tiny-deblur")
    for (k, a), b in zip(local.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k


def test_a_missing_hub_extra_is_one_line(tmp_path: Path) -> None:
    from PIL import Image
    Image.new("RGB", (8, 8)).save(tmp_path / "photo.png")
    done = _run('from pixelwise.cli import main\nsys.exit(main(["infer", "acme/x", "photo.png", "-o", "out"]))',
                tmp_path, tmp_path / "hf", block_hub=True)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert 'pip install "pixelwise[hub]"' in lines[0] and "acme/x" in lines[0]


def test_paths_that_are_not_repo_ids_keep_their_own_error(tmp_path: Path) -> None:
    assert hub.looks_like_repo_id("acme/tiny-deblur") and hub.looks_like_repo_id("pixelwise/deblurgan-small")
    for text in ("runs/dg/checkpoints", "./acme/x", "/abs/x", "../x/y", "single", "a/b/"):
        assert not hub.looks_like_repo_id(text), text
    with pytest.raises(ValueError, match="is not a pixelwise model directory"):
        from_pretrained(str(tmp_path / "nope" / "deeper"))


def test_shipped_names_load_from_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"deblurgan-small", "deblurgan-asap-small"} <= set(hub.packaged_names())  # the real package data
    model = tiny(2)
    model.save_pretrained(tmp_path / "deblurgan-small")
    monkeypatch.setattr(hub, "PACKAGED_ROOT", tmp_path)
    monkeypatch.setattr(hub, "download", lambda *a, **k: pytest.fail("a shipped model must not be downloaded"))
    assert hub.packaged_names() == ["deblurgan-small"]
    loaded = from_pretrained("pixelwise/deblurgan-small")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_push_to_hub_uploads_the_saved_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    huggingface_hub = pytest.importorskip("huggingface_hub")
    seen: dict = {}

    def upload_folder(*, repo_id: str, folder_path: str, **kwargs: object) -> str:
        folder = Path(folder_path)
        seen.update(repo_id=repo_id, files=sorted(p.name for p in folder.iterdir()), kwargs=kwargs,
                    config=json.loads((folder / "config.json").read_text()),
                    readme=(folder / "README.md").read_text())
        return "https://huggingface.co/acme/tiny/commit/abc"

    monkeypatch.setattr(huggingface_hub, "upload_folder", upload_folder)
    monkeypatch.setattr(huggingface_hub, "create_repo", lambda repo_id, **kw: seen.setdefault("created", repo_id))
    model = tiny(3)
    url = model.push_to_hub("acme/tiny", metrics={"psnr": 24.5})
    assert url.endswith("/commit/abc")
    assert seen["created"] == "acme/tiny" and seen["repo_id"] == "acme/tiny"
    assert seen["files"] == ["README.md", "config.json", "model.safetensors"]
    assert seen["config"]["model"] == "deblurgan" and seen["config"]["config"]["ngf"] == 4
    assert "psnr" in front(seen["readme"])["metrics"]
    with pytest.raises(ValueError, match="not a Hub repo id"):
        hub.push_to_hub(model, "no-slash")


def front(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_save_pretrained_writes_a_model_card(tmp_path: Path) -> None:
    model = create_model("deblurgan-asap", **_tiny_asap())
    model.save_pretrained(tmp_path / "m", datasets=["skimage-photos"], metrics={"psnr@0.5": 25.1, "ssim": 0.8})
    text = (tmp_path / "m" / "README.md").read_text()
    meta = front(text)
    assert meta["library_name"] == "pixelwise" and meta["license"] == "mit"
    assert meta["pipeline_tag"] == "image-to-image"
    assert {"pixelwise", "deblurgan-asap", "asapnet", "deblurgan", "deblurring"} <= set(meta["tags"])
    assert meta["datasets"] == ["skimage-photos"] and meta["metrics"] == ["psnr", "ssim"]
    assert f"{model.num_parameters():,} parameters" in text and "| psnr@0.5 | 25.1 |" in text
    # a README the user wrote (no mark line) is kept; card=False writes none
    (tmp_path / "m" / "README.md").write_text("my own card\n")
    model.save_pretrained(tmp_path / "m")
    assert (tmp_path / "m" / "README.md").read_text() == "my own card\n"
    model.save_pretrained(tmp_path / "n", card=False)
    assert not (tmp_path / "n" / "README.md").exists()
    assert card.family_tags("pix2pixhd-local") == ["pix2pixhd", "semantic-image-synthesis"]


def _tiny_asap() -> dict:
    from pixelwise.registry import get_entry

    return get_entry("deblurgan-asap").config_cls.tiny_options()
