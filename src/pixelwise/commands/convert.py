"""pixelwise convert: an official .pth checkpoint + its options -> a pixelwise model directory."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="official generator checkpoint (.pth, e.g. latest_net_G.pth)")
    parser.add_argument("--family", required=True, choices=["asapnet", "pix2pixhd", "deblurgan"],
                        help="which official code base wrote the checkpoint")
    parser.add_argument("--output", required=True, help="directory to write config.json + model.safetensors")
    parser.add_argument("--options", default=None,
                        help="JSON file (or inline JSON) of the official option names and values, "
                             "e.g. an opt.txt converted to JSON; missing options take the official defaults")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                        help="one official option, e.g. --set label_nc=35 --set netG=local (repeatable)")


def _read_options(args: argparse.Namespace) -> dict:
    import yaml

    from pixelwise.errors import PixelwiseError

    options: dict = {}
    if args.options:
        text = args.options
        if not text.lstrip().startswith("{"):
            try:
                with open(text) as handle:
                    text = handle.read()
            except OSError as exc:
                raise PixelwiseError(f"cannot read options file {args.options}: {exc}") from exc
        try:
            options.update(json.loads(text))
        except json.JSONDecodeError as exc:
            raise PixelwiseError(f"--options {args.options}: not valid JSON ({exc})") from exc
    for item in args.sets:
        if "=" not in item:
            raise PixelwiseError(f"--set {item!r} must look like NAME=VALUE")
        name, _, value = item.partition("=")
        options[name.strip()] = yaml.safe_load(value)
    return options


def run(args: argparse.Namespace) -> int:
    from pixelwise.official import convert

    out = convert(args.checkpoint, args.family, _read_options(args), args.output)
    print(f"wrote {out}/config.json and {out}/model.safetensors")
    return 0
