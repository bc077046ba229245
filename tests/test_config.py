"""Typed config machinery: YAML <-> dataclasses, dotted overrides, clear errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from pixelwise.config import apply_overrides, from_dict, load_yaml, resolve_preset, save_yaml, to_dict
from pixelwise.errors import PixelwiseError


@dataclass
class Inner:
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    mode: Literal["a", "b"] = "a"


@dataclass
class Outer:
    name: str = "x"
    steps: int | None = None
    flag: bool = False
    inner: Inner = field(default_factory=Inner)
    options: dict[str, Any] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)


def test_round_trip_through_yaml(tmp_path):
    cfg = Outer(name="run", steps=4, flag=True, inner=Inner(lr=2e-4, mode="b"), options={"ngf": 8}, sizes=[1, 2])
    save_yaml(cfg, tmp_path / "c.yaml")
    again = from_dict(Outer, load_yaml(tmp_path / "c.yaml"))
    assert again == cfg
    assert to_dict(again)["inner"]["betas"] == [0.5, 0.999]


def test_dotted_overrides_parse_values_as_yaml():
    data = to_dict(Outer())
    apply_overrides(data, ["steps=4", "inner.lr=3e-4", "flag=true", "options.ngf=16", "sizes=[8,16]", "name='007'"])
    cfg = from_dict(Outer, data)
    assert cfg.steps == 4 and cfg.inner.lr == 3e-4 and cfg.flag is True
    assert cfg.options == {"ngf": 16} and cfg.sizes == [8, 16] and cfg.name == "007"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("inner.nope=1", r"config.inner: unknown key\(s\) \['nope'\]"),
        ("steps=1.5", "config.steps: expected an integer"),
        ("flag=maybe", "config.flag: expected true/false"),
        ("inner.mode=c", r"config.inner.mode: 'c' is not one of \['a', 'b'\]"),
        ("name.sub=1", "'name' is a value, not a section"),
        ("steps", "must look like section.key=value"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(PixelwiseError, match=message):
        from_dict(Outer, apply_overrides(to_dict(Outer()), [override]))


def test_unknown_preset_lists_choices(tmp_path):
    with pytest.raises(PixelwiseError, match="unknown preset 'no-such-preset'"):
        resolve_preset("no-such-preset")
    with pytest.raises(PixelwiseError, match="does not exist"):
        resolve_preset(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("a: [1,\n")
    with pytest.raises(PixelwiseError, match="not valid YAML"):
        load_yaml(tmp_path / "bad.yaml")
