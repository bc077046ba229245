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
    assert [line.split()[0] for line in shipped if NONE_SHIPPED not in line] == [f"pixelwise/{n}" for n in
                                                                                 packaged_names()]


def test_readme_names_the_shipped_models() -> None:
    sentence = README.read_text().split("Shipped pretrained models:", 1)[1].split(".")[0]
    if packaged_names():
        assert sorted(re.findall(r"`pixelwise/([^`]+)`", sentence)) == packaged_names()
    else:
        assert sentence.strip().startswith(NONE_SHIPPED)


def test_models_names_prints_one_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--names"]) == 0
    assert capsys.readouterr().out.split() == list_models("generator") + list_models("discriminator")
