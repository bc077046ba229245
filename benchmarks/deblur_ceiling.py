"""What does deblur_quality.py's blur allow? Two reference points on its held-out wallpaper crops.

``benchmarks/deblur_quality.py`` asks the tiny presets for +1.5 dB after 400 steps on 16 wallpaper crops blurred
by ``pixelwise blur --strength 0.3`` (the first 18 px of a 60-px camera path). This script measures, on the same
crops, what is recoverable at all and what a much larger generic network reaches at that step budget:

1. **Non-blind (what is recoverable once the blur is known):** Wiener deconvolution told each crop's true kernel
   (rebuilt from ``kernels.json``), reflect-padded, at a few noise-to-signal ratios (each printed). A blind
   model has to find the kernel first, so this is a reference, not a target.
2. **Blind, generic:** a plain 3-level U-Net (not a pixelwise model: a reference network, ~1.2M parameters,
   residual output starting at the identity, MSE, Adam with a one-cycle schedule and gradient-norm clipping),
   trained ``--steps`` steps on the bundled training photos (256-px tiles, random ``--crop`` crops, flips)
   blurred exactly like the benchmark (``--strength`` of a ``--max-length`` path). Mean PSNR on the crops is
   printed every ``--eval-every`` steps (mid-run points are of a schedule sized for ``--steps``).

    PYTHONPATH=src python benchmarks/deblur_ceiling.py [--out runs/deblur-quality] [--steps 400] [--threads N]

It writes the crops and their blur in deblur_quality.py's layout (the same files for the same flags):
``OUT/sharp``, ``OUT/blurred/{A,B}``, ``OUT/blurred/kernels.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from deblur_quality import psnr, write_sharp_crops
from torch import nn

from pixelwise.data.blur import motion_blur, reflect_pad, sample_kernel
from pixelwise.data.blur_folder import blur_folder
from pixelwise.data.bundled import bundled_blur_root
from pixelwise.data.transforms import read_photo

NSRS = (1e-3, 3e-3, 1e-2, 3e-2)


def wiener(blurred: np.ndarray, kernel: np.ndarray, nsr: float) -> np.ndarray:
    """Wiener deconvolution of a uint8 (H, W, 3) photo by a known odd-sized kernel, reflect-padded by its size;
    uint8 out."""
    size = pad = kernel.shape[0]
    x = reflect_pad(torch.from_numpy(blurred / 255.0).permute(2, 0, 1)[None], pad)[0].numpy()
    otf = np.zeros(x.shape[1:])
    otf[:size, :size] = kernel
    otf = np.fft.fft2(np.roll(otf, (-(size // 2), -(size // 2)), (0, 1)))
    out = np.real(np.fft.ifft2(np.fft.fft2(x) * np.conj(otf) / (np.abs(otf) ** 2 + nsr)))
    out = out[:, pad:-pad, pad:-pad].transpose(1, 2, 0)
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(cout, cout, 3, 1, 1), nn.LeakyReLU(0.2))


class UNet(nn.Module):
    """A plain U-Net: ``levels`` stride-2 stages (channels ``width`` x 1, 2, 4, 4), bilinear upsampling with
    concatenated skips, and a zero-initialised output conv added to the input (starts as the identity)."""

    def __init__(self, width: int = 32, levels: int = 3) -> None:
        super().__init__()
        channels = [width * min(2**i, 4) for i in range(levels + 1)]
        self.inc = _block(3, channels[0])
        self.downs = nn.ModuleList(_block(channels[i], channels[i + 1], 2) for i in range(levels))
        self.ups = nn.ModuleList(_block(channels[i + 1] + channels[i], channels[i]) for i in reversed(range(levels)))
        self.out = nn.Conv2d(channels[0], 3, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        h = skips.pop()
        for up in self.ups:
            skip = skips.pop()
            h = up(torch.cat([F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1))
        return x + self.out(h)


def training_batch(tiles: list[torch.Tensor], rng: np.random.Generator, batch: int, crop: int,
                   strength: float, max_length: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crops (and flips) of the tiles, blurred by fresh kernels and quantised to 8 bits: (blurred, sharp)."""
    blurred, sharp = [], []
    for _ in range(batch):
        tile = tiles[rng.integers(len(tiles))]
        top, left = (int(rng.integers(0, size - crop + 1)) for size in tile.shape[1:])
        patch = tile[:, top:top + crop, left:left + crop]
        if rng.random() < 0.5:
            patch = patch.flip(-1)
        kernel = sample_kernel(int(rng.integers(2**31)), strength, max_length).kernel
        blurred.append((motion_blur(patch, kernel) * 255).round().clamp(0, 255) / 255)
        sharp.append(patch)
    return torch.stack(blurred), torch.stack(sharp)


def unet_gain(args: argparse.Namespace, blurred: list[np.ndarray], targets: list[np.ndarray], base: float) -> None:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    tiles = [torch.from_numpy(read_photo(p).copy()).permute(2, 0, 1).float() / 255
             for p in sorted((bundled_blur_root() / "train").glob("*.png"))]
    inputs = [torch.from_numpy(b.copy()).permute(2, 0, 1).float()[None] / 255 for b in blurred]
    net = UNet()
    optimizer = torch.optim.Adam(net.parameters(), args.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=args.steps, pct_start=0.1)
    params = sum(p.numel() for p in net.parameters())
    print(f"U-Net ({params / 1e6:.2f} M parameters), {len(tiles)} bundled training tiles, batch {args.batch} of "
          f"{args.crop}x{args.crop}, strength {args.strength} of a {args.max_length:g}-px path, lr {args.lr:g} "
          f"one-cycle, clip {args.clip:g}, seed {args.seed}", flush=True)
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        x, y = training_batch(tiles, rng, args.batch, args.crop, args.strength, args.max_length)
        loss = F.mse_loss(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        if args.clip > 0:
            nn.utils.clip_grad_norm_(net.parameters(), args.clip)
        optimizer.step()
        schedule.step()
        if step % args.eval_every == 0 or step == args.steps:
            net.eval()
            with torch.no_grad():
                outputs = [(net(x)[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy() for x in inputs]
            net.train()
            value = float(np.mean([psnr(o, t) for o, t in zip(outputs, targets, strict=True)]))
            print(f"  step {step:5d}: {value:6.2f} dB ({value - base:+.2f})  "
                  f"{time.perf_counter() - started:5.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/deblur-quality"))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--clip", type=float, default=0.5, help="gradient-norm clip; 0 = none")
    parser.add_argument("--strength", type=float, default=0.3, help="of the benchmark's blur and the U-Net's")
    parser.add_argument("--max-length", type=float, default=60.0, help="camera path (px), as in pixelwise blur")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--skip-unet", action="store_true", help="only the non-blind reference")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sharp = write_sharp_crops(args.out / "sharp")
    blurred_dir = args.out / "blurred"
    blur_folder(args.out / "sharp", blurred_dir, strength=args.strength, max_length=args.max_length, seed=0,
                progress=False)  # = pixelwise blur OUT/sharp OUT/blurred --strength S --max-length L
    blurred = [read_photo(blurred_dir / "A" / p.name) for p in sharp]
    targets = [read_photo(p) for p in sharp]
    base = float(np.mean([psnr(b, t) for b, t in zip(blurred, targets, strict=True)]))
    print(f"{len(sharp)} held-out wallpaper crops, blurred {base:.2f} dB (the benchmark's 'no model' row); "
          f"CPU threads {torch.get_num_threads()}")
    records = {r["name"]: r for r in json.loads((blurred_dir / "kernels.json").read_text())["kernels"]}
    kernels = [sample_kernel(records[p.name]["seed"], records[p.name]["strength"], records[p.name]["max_length_px"])
               .kernel for p in sharp]
    spreads = [records[p.name]["spread_px"] for p in sharp]
    print(f"kernels: RMS spread mean {np.mean(spreads):.2f} px (range {min(spreads):.2f}-{max(spreads):.2f})")
    for nsr in NSRS:
        value = float(np.mean([psnr(wiener(b, k, nsr), t) for b, k, t in zip(blurred, kernels, targets, strict=True)]))
        print(f"  non-blind Wiener, true kernel, NSR {nsr:g}: {value:6.2f} dB ({value - base:+.2f})")
    if not args.skip_unet:
        unet_gain(args, blurred, targets, base)


if __name__ == "__main__":
    main()
