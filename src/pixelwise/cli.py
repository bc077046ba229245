"""The one command line: ``pixelwise <command>`` (also ``python -m pixelwise``).

Each subcommand lives in ``pixelwise/commands/<name>.py`` and exposes ``add_arguments(parser)`` and
``run(args) -> int``. Command modules stay thin: they parse, then call one library function. They import
torch and friends inside ``run`` so that ``pixelwise --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help). Order is the order shown by --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("pixelwise.commands.demo", "run the demo study on bundled real photos (the README's main job)"),
    "train": ("pixelwise.commands.train", "train a model from a preset name or YAML config"),
    "eval": ("pixelwise.commands.eval", "evaluate a trained model: PSNR, SSIM, FID, KID + image grids"),
    "infer": ("pixelwise.commands.infer", "run a model on your own label maps or photos, any size"),
    "deblur": ("pixelwise.commands.deblur", "deblur your own photos with the shipped deblurrer (or --model DIR)"),
    "bench": ("pixelwise.commands.bench", "benchmark inference speed and memory of the models"),
    "study": ("pixelwise.commands.study", "reproduce the four-model comparison study with tables and plots"),
    "blur": ("pixelwise.commands.blur", "turn a folder of sharp photos into a graded motion-blur dataset"),
    "convert": ("pixelwise.commands.convert", "official .pth checkpoint + options -> pixelwise model dir"),
    "export": ("pixelwise.commands.export", "export a model to ONNX with dynamic height and width"),
    "models": ("pixelwise.commands.models", "list the registered model names and the shipped models; "
                                            "--details NAME: a model's card"),
    "app": ("pixelwise.commands.app", "browser demo: paint label maps, deblur photos, compare speed (needs [app])"),
}


def build_parser() -> argparse.ArgumentParser:
    from pixelwise import __version__

    parser = argparse.ArgumentParser(prog="pixelwise", description="Fast image-to-image translation.")
    parser.add_argument("--version", action="version", version=f"pixelwise {__version__}",
                        help="print pixelwise's version (the installed package's metadata) and exit")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    # argparse stops collecting positionals at the first option, so in ``train CONFIG --run-dir RUN a.b=1``
    # the override ``a.b=1`` comes back unrecognised: hand such key=value strings to commands that take them.
    args, extras = parser.parse_known_args(argv)
    late = [e for e in extras if "=" in e and not e.startswith("-")]
    if late and hasattr(args, "overrides"):
        args.overrides = list(args.overrides or []) + late
        extras = [e for e in extras if e not in late]
    if extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not getattr(args, "_run", None):
        build_parser().print_help()
        return 2
    from pixelwise.commands.runtime_args import apply_runtime_args
    from pixelwise.errors import PixelwiseError

    try:
        apply_runtime_args(args)
        return int(args._run(args) or 0)
    except PixelwiseError as exc:
        print(f"pixelwise {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an I/O failure no library check turned into a PixelwiseError: still one line
        from pixelwise.fileio import io_error_message

        print(f"pixelwise {args.command}: error: {io_error_message(exc.filename or '', exc, 'access')}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
