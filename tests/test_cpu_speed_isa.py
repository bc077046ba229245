"""benchmarks/cpu_speed.py --isa / --l2-bytes and pixelwise.cpuinfo's ISA emulation: the child process's
environment, the capability check, and how records name an emulated ISA (no benchmark is run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pixelwise import cpuinfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import cpu_speed


def test_isa_emulation_env_names_every_library():
    env = cpuinfo.isa_emulation_env("avx2")
    assert env == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
    assert cpuinfo.isa_emulation_env("native") == {}
    with pytest.raises(ValueError, match="avx2"):
        cpuinfo.isa_emulation_env("sse9")
    assert cpuinfo.emulated_isa({"ATEN_CPU_CAPABILITY": "AVX2"}) == "avx2"
    assert cpuinfo.emulated_isa({}) is None


def test_emulation_env_reexecutes_only_when_needed():
    clean = {"PATH": "/bin", "ATEN_CPU_CAPABILITY": "avx512"}
    child = cpu_speed.emulation_env("avx2", "512K", clean)
    assert child is not None and child["PATH"] == "/bin" and child["PIXELWISE_L2_BYTES"] == "512K"
    assert {k: child[k] for k in cpuinfo.ISA_EMULATION_ENV["avx2"]} == cpuinfo.ISA_EMULATION_ENV["avx2"]
    assert cpu_speed.emulation_env("avx2", "512K", child) is None  # the child itself runs the benchmark
    assert cpu_speed.emulation_env("avx2", None, child) is None
    native = cpu_speed.emulation_env("native", None, child)  # native: the emulation variables are dropped
    assert native is not None and not set(native) & {"ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA",
                                                     "MKL_ENABLE_INSTRUCTIONS"}
    assert native["PIXELWISE_L2_BYTES"] == "512K" and native["PATH"] == "/bin"
    assert cpu_speed.emulation_env("native", None, {"PATH": "/bin"}) is None


def test_capability_check_refuses_what_torch_does_not_run(monkeypatch):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert cpu_speed.check_isa_in_effect("native") == "AVX512"
    with pytest.raises(SystemExit, match="--isa avx2: torch runs AVX512"):
        cpu_speed.check_isa_in_effect("avx2")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert cpu_speed.check_isa_in_effect("avx2") == "AVX2"


@pytest.mark.skipif(cpuinfo.isa_level() not in ("avx512", "amx"), reason="needs a CPU wider than AVX2 to emulate it")
def test_a_child_with_the_emulation_env_runs_avx2_and_says_so():
    env = cpu_speed.emulation_env("avx2", "512K", dict(os.environ))
    assert env is not None
    code = ("import torch; from pixelwise import cpuinfo; info = cpuinfo.describe_cpu(); "
            "print(torch.backends.cpu.get_cpu_capability()); print(cpuinfo.machine_label(info)); "
            "print(cpuinfo.cpu_line(info))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         timeout=600).stdout.splitlines()
    assert out[0] == "AVX2"
    assert out[1].startswith("emulated avx2 on ") and "blocks sized for L2 512K" in out[1]
    assert out[2].startswith("emulated avx2 on ") and "L2 512 KiB (PIXELWISE_L2_BYTES)" in out[2]


def test_describe_cpu_records_no_emulation_natively(monkeypatch):
    for key in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "PIXELWISE_L2_BYTES"):
        monkeypatch.delenv(key, raising=False)
    info = cpuinfo.describe_cpu()
    assert info["emulated_isa"] is None and info["emulation"] is None
    assert not cpuinfo.machine_label(info).startswith("emulated")
