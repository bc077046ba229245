"""pixelwise.cpuinfo: ISA level from flags, cache sizes from sysfs, and the fast path's cache-sized blocks."""

from __future__ import annotations

import math

import pytest
import torch

from pixelwise import cpuinfo
from pixelwise.models.asapnet_blocks import cpu_block_pixels, plan_blocks
from pixelwise.registry import create_model


@pytest.mark.parametrize(("flags", "level"), [
    ({"sse2", "avx", "avx2", "fma"}, "avx2"),  # an AVX2-only EPYC / most laptops
    ({"avx2", "avx512f", "avx512bw"}, "avx512"),
    ({"avx512f", "amx_tile", "amx_bf16"}, "amx"),
    ({"sse2"}, "sse"),
    ({"fp", "asimd"}, "neon"),
    ({"asimd", "sve"}, "sve"),
    (set(), "unknown"),
])
def test_isa_level_from_flags(flags: set[str], level: str):
    assert cpuinfo.isa_level(frozenset(flags)) == level


def test_cache_sizes_from_sysfs(tmp_path, monkeypatch):
    for i, (lvl, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "512K"),
                                           (3, "Unified", "16384K")]):
        d = tmp_path / f"index{i}"
        d.mkdir()
        (d / "level").write_text(f"{lvl}\n")
        (d / "type").write_text(f"{kind}\n")
        (d / "size").write_text(f"{size}\n")
    monkeypatch.delenv("PIXELWISE_L2_BYTES", raising=False)
    assert cpuinfo.cache_bytes(1, tmp_path) == 48 << 10
    assert cpuinfo.cache_bytes(2, tmp_path) == 512 << 10
    assert cpuinfo.cache_bytes(3, tmp_path) == 16 << 20
    assert cpuinfo.cache_bytes(2, tmp_path / "missing") == cpuinfo.DEFAULT_CACHE_BYTES[2]
    cpuinfo.cache_bytes.cache_clear()
    monkeypatch.setenv("PIXELWISE_L2_BYTES", "2M")
    assert cpuinfo.cache_bytes(2, tmp_path) == 2 << 20
    cpuinfo.cache_bytes.cache_clear()


def test_describe_cpu_is_complete():
    info = cpuinfo.describe_cpu()
    assert info["name"] and info["isa"] and info["logical_cpus"] >= 1 and info["torch"]["version"]
    assert info["torch_threads"] == torch.get_num_threads()
    assert info["isa"] in cpuinfo.cpu_line(info)


def test_block_pixels_follow_the_cache():
    config = create_model("asapnet", downsampling=64, learned_ds_factor=16).config  # widths 64: 4*(128+c0) B/px
    small, large = cpu_block_pixels(config, 512 << 10), cpu_block_pixels(config, 2 << 20)
    assert small < large and all(math.log2(p).is_integer() for p in (small, large))
    assert cpu_block_pixels(config, 1 << 30) == 1 << 16 and cpu_block_pixels(config, 1) == 256
    assert cpu_block_pixels(config, 1 << 20) == 8192  # the measured best on a 1 MiB-L2 CPU (S=64, width 64)
    assert cpu_block_pixels(config, 1 << 20, threads=2) == 2 * cpu_block_pixels(config, 1 << 20)


@pytest.mark.parametrize("pixels", [16, 64, 100, 1024, 4096, 1 << 20])
def test_blocks_cover_every_pixel_once(pixels: int):
    b, gh, gw, s = 2, 3, 5, 16
    seen = torch.zeros(b * gh * gw, s)
    for blk in plan_blocks(b, gh, gw, s, pixels):
        assert blk.cells * (blk.r1 - blk.r0) * s <= max(pixels, s)
        seen[blk.cell0:blk.cell0 + blk.cells, blk.r0:blk.r1] += 1
    assert torch.equal(seen, torch.ones_like(seen))


def test_block_size_choice_never_changes_the_result(monkeypatch):
    """The cache-derived block size (any L2, any thread count) and every explicit size give the reference
    path's output to 1e-5, for dense, label and k x k window inputs."""
    torch.manual_seed(0)
    tiny = dict(lr_width=8, lr_max_width=16, lr_depth=1, hr_width=16, hr_depth=4)
    semantic = create_model("asapnet", label_nc=5, downsampling=16, learned_ds_factor=4, **tiny).eval()
    photo = create_model("deblurgan-asap", downsampling=8, learned_ds_factor=4, hr_neighbourhood=5, **tiny).eval()
    dilated = create_model("deblurgan-asap", downsampling=8, learned_ds_factor=4, hr_neighbourhood=3,
                           hr_dilations=(1, 3), **tiny).eval()
    for model in (semantic, photo, dilated):
        for p in model.parameters():
            p.data.normal_(0.0, 0.3 if p.dim() == 1 else 0.35 / math.sqrt(p[0].numel()))
    label = torch.randint(0, 5, (2, 1, 48, 64))
    instance = label * 7
    x_labels = semantic.dense_input(label, instance)
    x_photo = torch.rand(2, 3, 48, 64) * 2 - 1
    with torch.no_grad():
        semantic.hr_path = photo.hr_path = dilated.hr_path = "reference"
        ref_labels, ref_photo, ref_dilated = semantic(x_labels), photo(x_photo), dilated(x_photo)
        semantic.hr_path = photo.hr_path = dilated.hr_path = "fast"
        outs = []
        for cache in (4 << 10, 256 << 10, 1 << 20, 32 << 20):
            monkeypatch.setattr(cpuinfo, "cache_bytes", lambda level=2, root=None, cache=cache: cache)
            for threads in (1, 3):
                monkeypatch.setattr(torch, "get_num_threads", lambda threads=threads: threads)
                outs.append((semantic(x_labels), semantic.forward_labels(label, instance), photo(x_photo),
                             dilated(x_photo)))
        for block in (1, 7, 64, 16 * 16 * 3, 1 << 22):
            for model in (semantic, photo, dilated):
                model.set_execution(hr_block_pixels=block)
            outs.append((semantic(x_labels), semantic.forward_labels(label, instance), photo(x_photo),
                         dilated(x_photo)))
    assert ref_photo.abs().max() > 0.1 and ref_labels.abs().max() > 0.1 and ref_dilated.abs().max() > 0.1
    for dense, labels, rgb, rgb_dilated in outs:
        assert (dense - ref_labels).abs().max() <= 1e-5
        assert (labels - ref_labels).abs().max() <= 1e-5
        assert (rgb - ref_photo).abs().max() <= 1e-5
        assert (rgb_dilated - ref_dilated).abs().max() <= 1e-5
