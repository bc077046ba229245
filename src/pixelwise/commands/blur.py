"""pixelwise blur: turn a folder of sharp photos into a graded motion-blur dataset (OUT/A blurred, OUT/B sharp)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sharp_dir", metavar="SHARP_DIR", help="folder of sharp photos (searched recursively)")
    parser.add_argument("out_dir", metavar="OUT_DIR",
                        help="output folder: A/ blurred, B/ sharp (same PNG names), kernels.json")
    parser.add_argument("--strength", default="0.2,1.0",
                        help="blur strength from 0 (none) to 1 (heavy), or a range to sample per image: "
                             "'0.2,0.8' or '0.2-0.8' (default: 0.2,1.0)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0); same seed, same kernels")
    parser.add_argument("--max-length", type=float, default=60.0,
                        help="camera-path length in pixels at strength 1 (default: 60)")
    parser.add_argument("--noise", type=float, default=0.0,
                        help="std of Gaussian sensor noise added after blurring, in [0, 1] units (default: 0)")
    camera = parser.add_argument_group("camera realism (all off by default; see pixelwise.data.camera)")
    camera.add_argument("--gamma", type=float, default=0.0,
                        help="blur in linear light: decode x**GAMMA first (2.2 for sRGB; default 0: off)")
    camera.add_argument("--highlight-gain", type=float, default=1.0,
                        help="clipped highlights are this much brighter in linear light, so they smear into "
                             "saturated streaks (default 1: off)")
    camera.add_argument("--shot-noise", type=float, default=0.0,
                        help="Poisson-Gaussian sensor noise: variance SHOT * x + READ**2 in linear light (default 0)")
    camera.add_argument("--read-noise", type=float, default=0.0, help="read-noise std of the same (default 0)")
    camera.add_argument("--jpeg-quality", type=int, default=0,
                        help="JPEG round trip of the blurred photo at this quality, 1-100 (default 0: off)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--overwrite", action="store_true",
                        help="redo pairs whose files exist (default: skip them, so a stopped run resumes; a folder "
                             "started with other settings is refused)")


def run(args: argparse.Namespace) -> int:
    from pixelwise.data.blur_folder import blur_folder
    from pixelwise.data.camera import CameraOptions

    camera = CameraOptions(args.gamma, args.highlight_gain, args.shot_noise, args.read_noise, args.jpeg_quality)
    manifest = blur_folder(args.sharp_dir, args.out_dir, strength=args.strength, seed=args.seed,
                           max_length=args.max_length, noise=args.noise, progress=not args.no_progress,
                           camera=camera, overwrite=args.overwrite, report=print)
    print(f"wrote {manifest.parent / 'A'} (blurred), {manifest.parent / 'B'} (sharp) and {manifest}")
    return 0
