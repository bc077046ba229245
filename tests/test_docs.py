"""The docs: README stays a short front door whose commands CI runs, the MkDocs site builds with ``--strict`` (a
broken link or anchor fails), and every results table equals what scripts/render_results.py renders from the
committed benchmark JSON in docs/results/."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def render_results() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_results", ROOT / "scripts" / "render_results.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_is_a_short_front_door() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    for page in ("deblurring.md", "training.md", "models.md#official-checkpoints", "speed.md", "metrics.md"):
        assert f"(docs/{page})" in text, f"README links to docs/{page}"  # one click from the README


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    blocks = re.findall(r"```bash\n(.*?)\n```", README.read_text(), re.S)
    test_command = next(b for b in blocks if "pytest" in b and b.startswith("python3 -m venv"))
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_results_tables_equal_their_json() -> None:
    module = render_results()
    assert module.stale_blocks() == [], "run python scripts/render_results.py"
    names = {m["name"] for path in module.documents() for m in module.MARKED.finditer(path.read_text())}
    assert names == set(module.RENDERERS), "every renderer is used somewhere, and every block has one"
    for name in ("shipped-deblurrers-psnr",):  # the README's headline table, with its baseline row
        assert f"<!-- results: {name} -->" in README.read_text()


def test_a_hand_edited_table_is_caught(tmp_path: Path) -> None:
    module = render_results()
    page = tmp_path / "page.md"
    rendered = module.render_text("<!-- results: blur-strength-12 -->\n<!-- /results -->\n")
    page.write_text(rendered.replace("27.81", "28.81"))
    assert module.stale_blocks([page]) == [f"{page}: blur-strength-12"]
    page.write_text(rendered)
    assert module.stale_blocks([page]) == []


def test_docs_model_table_is_readmes() -> None:
    def table(text: str) -> list[str]:
        lines = text.split("## The models", 1)[1].splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("|"))
        end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
        return lines[start:end]

    assert table((ROOT / "docs" / "models.md").read_text()) == table(README.read_text())


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed: pip install -e '.[docs]' (CI's [dev] includes it)")
    pytest.importorskip("material", reason="mkdocs-material is not installed: pip install -e '.[docs]'")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file() and (tmp_path / "site" / "training" / "index.html").is_file()


def _documented_commands() -> list[tuple[str, str]]:
    """(file, command line) for every ``pixelwise ...`` line in the bash blocks of README and the docs, without
    comments; lines with ``[optional]`` or ``...`` placeholders are left out (they are syntax, not commands)."""
    out = []
    for path in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```bash\n(.*?)\n```", path.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #", 1)[0].strip()
                if re.match(r"(\.venv/bin/)?pixelwise ", line) and "[" not in line and "..." not in line:
                    out.append((path.name, line))
    return out


def test_documented_commands_parse() -> None:
    """Every documented ``pixelwise`` command line names a real command, flags it takes and, for ``train``, a preset."""
    from pixelwise.cli import parse_args
    from pixelwise.presets import is_preset

    commands = _documented_commands()
    assert len(commands) > 20
    for where, line in commands:
        for part in line.split(" && "):
            argv = shlex.split(part)[1:]
            if argv == ["--version"]:  # prints the version and exits 0
                continue
            try:
                args = parse_args(argv)
            except SystemExit as exc:
                raise AssertionError(f"{where}: `{part}` does not parse") from exc
            if args.command == "train":
                assert is_preset(args.config) or args.config.endswith(".yaml"), f"{where}: {args.config}"
