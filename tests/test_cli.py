"""The CLI dispatcher: every command is registered, overrides may follow options, errors are one line."""

from __future__ import annotations

import argparse

import pytest

from pixelwise.cli import COMMANDS, build_parser, main, parse_args


def test_every_listed_command_is_built():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)


def test_overrides_are_collected_before_and_after_options():
    args = parse_args(["train", "deblurgan-tiny", "a.b=1", "--run-dir", "RUN", "train.max_steps=4", "c=[1,2]"])
    assert args.config == "deblurgan-tiny" and args.run_dir == "RUN"
    assert args.overrides == ["a.b=1", "train.max_steps=4", "c=[1,2]"]


def test_unknown_arguments_are_refused(capsys):
    with pytest.raises(SystemExit):
        parse_args(["train", "deblurgan-tiny", "--run-dir", "RUN", "--nope"])
    assert "unrecognized arguments: --nope" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["models", "x=1"])  # a command without overrides takes none


def test_user_errors_print_one_line_and_exit_2(tmp_path, capsys):
    code = main(["train", "no-such-preset", "--run-dir", str(tmp_path / "run")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("pixelwise train: error: unknown preset 'no-such-preset'")
    assert "Traceback" not in err


def test_models_command_lists_registry(capsys):
    assert main(["models"]) == 0
    assert "\n  asapnet " in capsys.readouterr().out  # sections: tests/test_model_table.py
    assert main(["models", "--names"]) == 0
    assert "asapnet\npix2pixhd\n" in capsys.readouterr().out


def test_runtime_flags_are_one_definition_with_one_set_of_defaults():
    base = {"infer": ["m", "x.png", "-o", "out"], "deblur": ["x.png", "-o", "out"], "eval": ["m", "--out", "o"],
            "bench": [], "app": []}
    for command, rest in base.items():
        args = parse_args([command, *rest])
        assert (args.device, args.threads) == ("auto", None), command
        if command in ("infer", "deblur", "bench"):
            assert args.dtype == "float32", command
            assert parse_args([command, *rest, "--dtype", "bf16"]).dtype == "bfloat16"  # the TrainConfig spelling
        assert parse_args([command, *rest, "--threads", "3"]).threads == 3
    with pytest.raises(SystemExit):
        parse_args(["infer", *base["infer"], "--threads", "0"])


def test_threads_flag_sets_torchs_threads(monkeypatch):
    import torch

    from pixelwise.commands import runtime_args

    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    runtime_args.apply_runtime_args(argparse.Namespace(threads=3))
    runtime_args.apply_runtime_args(argparse.Namespace(threads=None))
    runtime_args.apply_runtime_args(argparse.Namespace())
    assert calls == [3]


def test_version_flag_and_attribute_come_from_the_package_metadata(capsys, monkeypatch):
    from importlib import metadata

    import pixelwise

    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"pixelwise {pixelwise.__version__}"
    try:
        installed = metadata.version("pixelwise")
    except metadata.PackageNotFoundError:  # a source checkout on PYTHONPATH: pyproject.toml's version
        installed = None
    if installed is not None:
        assert pixelwise.__version__ == installed

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)  # PYTHONPATH=src without an install
    from pathlib import Path

    pyproject = (Path(pixelwise.__file__).resolve().parents[2] / "pyproject.toml").read_text()
    declared = pyproject.split('\nversion = "', 1)[1].split('"', 1)[0]
    assert pixelwise._version() == declared
