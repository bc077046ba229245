"""pixelwise bench: records, ratios, error rows, FLOP counting and the CLI, on tiny models and sizes."""

from __future__ import annotations

import json

import pytest
import torch

from pixelwise import bench
from pixelwise.cli import main
from pixelwise.errors import PixelwiseError
from pixelwise.models.pix2pixhd import Pix2PixHDConfig
from pixelwise.registry import create_model

REQUIRED = {"model", "height", "width", "dtype", "device", "median_ms", "peak_memory_mb", "params", "gflops",
            "device_name", "torch_version", "speedup_vs_pix2pixhd", "speedup_vs_deblurgan", "input", "error"}


def test_asapnet_grid_is_sixteen_cells_tall_like_the_paper():
    assert bench.asapnet_grid(256, 512) == 16
    assert bench.asapnet_grid(512, 1024) == 32
    assert bench.asapnet_grid(1024, 2048) == 64
    assert bench.asapnet_grid(720, 1280) == 16  # 45 x 80 cells: 32 does not divide 720
    assert bench.model_options_for("asapnet", 1024, 2048) == {"downsampling": 64, "learned_ds_factor": 16}
    assert bench.model_options_for("deblurgan-asap", 720, 1280) == {"downsampling": 16, "learned_ds_factor": 16}
    tiny = bench.model_options_for("asapnet", 64, 128, tiny=True, options={"*": {"hr_width": 4, "ngf": 3}})
    assert tiny["downsampling"] == 4 and tiny["learned_ds_factor"] == 4 and tiny["hr_width"] == 4
    assert "ngf" not in tiny  # "*" options go only to models that have them
    assert bench.model_options_for("pix2pixhd", 256, 512) == {}


def test_dense_inputs_follow_the_data_pipeline():
    for name in ("asapnet", "pix2pixhd"):
        config = create_model(name, **({"downsampling": 4, "learned_ds_factor": 4} if name == "asapnet" else {})).config
        x, what = bench.benchmark_input(config, 32, 48)
        assert x.shape == (1, 36, 32, 48) and "instance edge" in what
        assert torch.equal(x[:, :35].sum(1), torch.ones(1, 32, 48))  # one-hot
        assert set(x[:, 35].unique().tolist()) == {0.0, 1.0}  # edge map with real boundaries
    rgb, what = bench.benchmark_input(create_model("deblurgan").config, 16, 16)
    assert rgb.shape == (1, 3, 16, 16) and rgb.min() >= -1 and rgb.max() <= 1 and what.startswith("RGB")


def test_run_benchmark_records_ratios_and_error_rows():
    models = ["asapnet", "pix2pixhd", "pix2pixhd-local", "deblurgan", "deblurgan-asap"]
    records = bench.run_benchmark(models, sizes=[(64, 128)], device="cpu", runs=2, warmup=1, tiny=True)
    assert [r["model"] for r in records] == models
    by = {r["model"]: r for r in records}
    for r in records:
        assert set(r) >= REQUIRED
        assert r["device"] == "cpu" and r["dtype"] == "float32" and r["torch_version"] == torch.__version__
        assert r["error"] is None, r["error"]
        assert r["median_ms"] > 0 and r["min_ms"] <= r["median_ms"] and r["gflops"] > 0
        assert r["params"] == create_model(r["model"], **r["options"]).num_parameters()
        if r["memory_measure"] is not None:
            assert r["memory_measure"] == "cpu_peak_rss_delta" and r["peak_memory_mb"] >= 0
    # ratios within the run
    assert by["pix2pixhd"]["speedup_vs_pix2pixhd"] == 1.0
    asap = by["asapnet"]
    assert asap["speedup_vs_pix2pixhd"] == pytest.approx(by["pix2pixhd"]["median_ms"] / asap["median_ms"])
    assert asap["speedup_vs_deblurgan"] is None  # label models are compared with pix2pixHD only
    dga = by["deblurgan-asap"]
    assert dga["speedup_vs_deblurgan"] == pytest.approx(by["deblurgan"]["median_ms"] / dga["median_ms"])
    assert asap["options"]["downsampling"] == 4
    table = bench.format_markdown(records)
    assert table.count("\n| ") == len(records) + 1  # header + one row per record
    assert "S=4" in table and "median of 2 runs" in table

    # the local enhancer needs multiples of 32: an error row, and the run goes on
    records = bench.run_benchmark(["pix2pixhd-local", "deblurgan"], sizes=[(48, 80)], runs=1, warmup=0, tiny=True)
    failed, fine = records
    assert failed["median_ms"] is None and "divisible by 32" in failed["error"]
    assert fine["error"] is None and fine["median_ms"] > 0
    assert "divisible by 32" in bench.format_markdown(records)


def test_flops_scale_with_pixels_for_a_convolutional_generator():
    model = create_model("pix2pixhd", **Pix2PixHDConfig.tiny_options()).eval()
    small = bench.count_flops(model, bench.benchmark_input(model.config, 32, 32)[0])
    large = bench.count_flops(model, bench.benchmark_input(model.config, 64, 64)[0])
    assert small > 0 and large == 4 * small
    # the first 7x7 conv alone: 2 * 36 * 4 * 49 FLOPs per output pixel
    assert small > 2 * 36 * 4 * 49 * 32 * 32


def test_default_sizes_depend_on_the_input_kind(monkeypatch):
    monkeypatch.setattr(bench, "LABEL_SIZES", ((32, 64),))
    monkeypatch.setattr(bench, "DEBLUR_SIZES", ((24, 40),))
    records = bench.run_benchmark(["pix2pixhd", "deblurgan"], runs=1, warmup=0, tiny=True)
    assert [(r["model"], r["height"], r["width"], r["input_kind"]) for r in records] == [
        ("pix2pixhd", 32, 64, "labels"), ("deblurgan", 24, 40, "photo")]


def test_default_models_include_the_reference_path_only_when_registered(monkeypatch):
    import pixelwise.registry as registry

    names = ["asapnet", "pix2pixhd", "pix2pixhd-local", "deblurgan", "deblurgan-asap"]
    monkeypatch.setattr(registry, "list_models", lambda kind="generator": list(names))
    assert bench.default_models() == names
    names.insert(1, "asapnet-reference")
    assert bench.default_models() == ["asapnet", "asapnet-reference", *names[2:]]


def test_flags_dtype_compile_and_label_ids():
    records = bench.run_benchmark(["asapnet", "pix2pixhd"], sizes=[(32, 64)], runs=1, warmup=1, tiny=True,
                                  dtype="bfloat16", channels_last=True, compile=True, compile_backend="eager",
                                  label_input="ids")
    for r in records:
        assert r["error"] is None, r["error"]
        assert (r["dtype"], r["channels_last"], r["compile"]) == ("bfloat16", True, True)
        assert "ids" in r["input"] and "inside the timing" in r["input"]
    assert "compile" in bench.format_markdown(records)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(PixelwiseError, match="HEIGHTxWIDTH"):
        bench.parse_size("256")
    with pytest.raises(PixelwiseError, match="unknown model"):
        bench.run_benchmark(["nope"], sizes=[(32, 32)])
    with pytest.raises(PixelwiseError, match="exist in no config"):
        bench.run_benchmark(["deblurgan"], sizes=[(32, 32)], model_options={"*": {"hr_width": 4}})
    with pytest.raises(PixelwiseError, match="dtype"):
        bench.run_benchmark(["deblurgan"], sizes=[(32, 32)], dtype="int8")
    if not torch.cuda.is_available():
        with pytest.raises(PixelwiseError, match="CUDA is not available"):
            bench.run_benchmark(["deblurgan"], sizes=[(32, 32)], device="cuda")


def test_cli_writes_json_and_markdown(tmp_path, capsys):
    out_json, out_md = tmp_path / "bench.json", tmp_path / "bench.md"
    rc = main(["bench", "--models", "pix2pixhd,deblurgan-asap", "--sizes", "32x64", "--tiny", "--runs", "2",
               "--warmup", "0", "--device", "cpu", "--model-option", "deblurgan-asap.hr_width=4",
               "--model-option", "ngf=2", "--json", str(out_json), "--markdown", str(out_md), "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    records = json.loads(out_json.read_text())
    assert isinstance(records, list) and len(records) == 2
    assert {"model", "height", "width", "dtype", "device", "median_ms", "peak_memory_mb"} <= set(records[0])
    assert records[0]["options"]["ngf"] == 2  # "*" option, over the --tiny preset
    assert records[1]["options"]["hr_width"] == 4 and records[1]["speedup_vs_pix2pixhd"] > 0
    assert out_md.read_text() == printed and "| pix2pixhd | 32x64 |" in printed


def test_records_and_header_state_the_cpu(tmp_path, capsys):
    from pixelwise.cpuinfo import describe_cpu

    out_json = tmp_path / "bench.json"
    threads = torch.get_num_threads()
    try:
        assert main(["bench", "--models", "deblurgan", "--sizes", "32x32", "--tiny", "--runs", "1", "--warmup", "0",
                     "--device", "cpu", "--threads", "1", "--json", str(out_json), "--quiet"]) == 0
        printed = capsys.readouterr().out
    finally:
        torch.set_num_threads(threads)
    (record,) = json.loads(out_json.read_text())
    cpu = record["cpu"]
    assert cpu["name"] == describe_cpu()["name"] and cpu["torch_threads"] == 1
    assert cpu["isa"] in ("amx", "avx512", "avx2", "avx", "sse", "neon", "sve", "unknown")
    assert cpu["torch"]["version"] == torch.__version__ and cpu["logical_cpus"] >= 1 and cpu["l2_bytes"] > 0
    assert record["cpu_ms"] > 0 and (record["load"] is None or "load1" in record["load"])
    header = next(line for line in printed.splitlines() if line.startswith("CPU: "))
    assert header.startswith(f"CPU: {cpu['name']}, {cpu['isa']}, ") and "1 torch thread," in header
    with pytest.raises(SystemExit) as refused:  # refused by the shared runtime flags before any work
        main(["bench", "--models", "deblurgan", "--threads", "0"])
    assert refused.value.code == 2

    assert main(["bench", "--models", "pix2pixhd", "--sizes", "32by64"]) == 2
    assert "HEIGHTxWIDTH" in capsys.readouterr().err
    assert main(["bench", "--models", "pix2pixhd", "--model-option", "deblurgan.ngf=2"]) == 2


def test_execution_settings_are_valid_model_options():
    """A saved config.json of an older ASAP-Net model carries ``hr_path`` (an execution setting now): benchmarking
    it with its own config as options must not be refused (benchmarks/deblur_realworld.py times saved models)."""
    from pixelwise.bench import check_options

    check_options(["deblurgan-asap"], {"deblurgan-asap": {"hr_path": "fast", "hr_width": 16}})
    with pytest.raises(PixelwiseError, match="exist in no config"):
        check_options(["deblurgan-asap"], {"deblurgan-asap": {"no_such_option": 1}})


def test_option_names_are_the_config_fields_and_the_execution_keys():
    from pixelwise.registry import execution_keys, option_names, split_execution

    assert execution_keys("asapnet") == ("hr_path",) and {"hr_path", "hr_width"} <= option_names("asapnet")
    assert execution_keys("deblurgan") == () and "ngf" in option_names("deblurgan")
    assert split_execution("asapnet", {"hr_path": "reference", "hr_width": 8}) == (
        {"hr_width": 8}, {"hr_path": "reference"})
