"""README's model table and `pixelwise models` agree: every registered name is in the table (and nothing else),
`pixelwise models` prints each in its section, and README's "Shipped pretrained models" sentence names exactly
the models shipped in the package (or says none are)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pixelwise.cli import main
from pixelwise.commands.models import NONE_SHIPPED
from pixelwise.hub import packaged_names
from pixelwise.registry import list_models

README = Path(__file__).resolve().parents[1] / "README.md"


def table_names() -> list[str]:
    section = README.read_text().split("## The models", 1)[1]
    names = []
    for line in section.splitlines()[2:]:
        if not line.startswith("|"):
            if names:
                break
            continue
        first = line.split("|")[1]
        names += re.findall(r"`([^`]+)`", first)
    return names


def test_readme_table_lists_every_registered_name() -> None:
    names = table_names()
    assert len(names) == len(set(names))
    assert set(names) == set(list_models(None))


def test_models_prints_sections(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    generators, rest = out.split("generators:\n", 1)[1].split("discriminators:\n", 1)
    discriminators, pretrained = rest.split("pretrained (", 1)
    assert [line.split()[0] for line in generators.splitlines()] == list_models("generator")
    assert [line.split()[0] for line in discriminators.splitlines()] == list_models("discriminator")
    shipped = pretrained.splitlines()[1:]
    assert shipped == ([f"  {NONE_SHIPPED}"] if not packaged_names() else shipped)
    assert [line.split()[0] for line in shipped if line.startswith("  pixelwise/")] == [f"pixelwise/{n}" for n in
                                                                                       packaged_names()]
    if packaged_names():
        assert "--details NAME" in shipped[-1]


def test_readme_names_the_shipped_models() -> None:
    sentence = README.read_text().split("Shipped pretrained models:", 1)[1].split(".")[0]
    if packaged_names():
        assert sorted(re.findall(r"`pixelwise/([^`]+)`", sentence)) == packaged_names()
    else:
        assert sentence.strip().startswith(NONE_SHIPPED)


def test_models_names_prints_one_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    shipped = [f"pixelwise/{n}" for n in packaged_names()]
    assert main(["models", "--names"]) == 0
    assert capsys.readouterr().out.split() == list_models("generator") + list_models("discriminator") + shipped
    assert main(["models", "--shipped", "--names"]) == 0
    assert capsys.readouterr().out.split() == shipped
    assert main(["models", "--shipped"]) == 0
    out = capsys.readouterr().out
    assert "generators:" not in out and all(name in out for name in shipped)


def test_models_details_of_every_shipped_model(capsys: pytest.CaptureFixture[str]) -> None:
    from pixelwise.deblur import DEFAULT_DEBLUR_MODEL

    assert packaged_names(), "the package ships deblurrers"
    for name in packaged_names():
        for spelling in (f"pixelwise/{name}", name):
            assert main(["models", "--details", spelling]) == 0
            out = capsys.readouterr().out
            first = out.splitlines()[0]
            assert first.startswith(f"**pixelwise/{name}**: `deblurgan") and " parameters, shipped" in first
            assert ("the default of `pixelwise deblur`" in first) == (f"pixelwise/{name}" == DEFAULT_DEBLUR_MODEL)
            assert "- **Training budget**: " in out and "steps" in out.split("Training budget", 1)[1].splitlines()[0]
            assert "| Blurred input (no model) |" in out and "(+" in out  # the held-out gain table
            assert out.rstrip().endswith(f"pretrained/{name}/README.md")


def test_models_details_of_a_folder_a_registry_name_and_a_typo(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import pixelwise

    model = pixelwise.create_model("deblurgan", ngf=4, n_blocks=1)
    model.save_pretrained(tmp_path / "mine")
    assert main(["models", "--details", str(tmp_path / "mine")]) == 0
    out = capsys.readouterr().out
    count = sum(p.numel() for p in model.parameters())
    assert f"`deblurgan`, {count:,} parameters, from {tmp_path / 'mine'}" in out
    assert "Held-out results**: none in the card" in out
    assert main(["models", "--details", "patchgan"]) == 0
    assert "a registered architecture" in capsys.readouterr().out
    assert main(["models", "--details", "no-such-model"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pixelwise models: error: --details no-such-model: not a shipped model")
    assert err.count("\n") == 1
