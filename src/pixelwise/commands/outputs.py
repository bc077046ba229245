"""The output flags ``pixelwise deblur`` and ``pixelwise infer`` share: --format, --quality, --suffix, --overwrite."""

from __future__ import annotations

import argparse

from pixelwise.output_plan import DEFAULT_FORMAT, OUTPUT_FORMATS

DEFAULT_QUALITY = 95  # the value of pixelwise.photo_io.DEFAULT_QUALITY (checked by a test): --help stays cheap


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default=DEFAULT_FORMAT,
                        help=f"output file format (default: {DEFAULT_FORMAT}); same: each input's own format. "
                             f"16-bit inputs stay 16-bit in png (and same for TIFF/PPM); jpg cannot hold alpha")
    parser.add_argument("--quality", type=int, default=None, metavar="N",
                        help=f"JPEG / WebP quality 1-100 (default: {DEFAULT_QUALITY})")
    parser.add_argument("--suffix", default="", metavar="TEXT",
                        help="added to each output's name: photo.jpg -> photo<TEXT>.png (e.g. _sharp); lets "
                             "--output be the inputs' own folder")
    parser.add_argument("--overwrite", action="store_true",
                        help="redo outputs that already exist (default: skip them, so a stopped run resumes)")


def output_options(args: argparse.Namespace) -> dict[str, object]:
    return {"format": args.format, "quality": args.quality, "suffix": args.suffix, "overwrite": args.overwrite}


def report(written: list, output: str, what: str = "image(s)") -> None:
    """The command's last lines: what was written, and what was skipped because it existed."""
    print(f"wrote {len(written)} {what} to {output}")
    skipped = getattr(written, "skipped", [])
    if skipped:
        print(f"skipped {len(skipped)} existing output(s) in {output} (--overwrite redoes them)")
