"""pixelwise infer: run a model on label maps or photos of any size; PNGs (or --format) out."""

from __future__ import annotations

import argparse

from pixelwise.commands.runtime_args import add_runtime_args

EPILOG = """\
Inputs are padded to the model's size multiple (photos: reflect, label maps: replicate) and cropped back.
Label maps are single-channel integer id maps (8/16-bit PNG). Models with an instance edge channel read
instance maps from --instances DIR (same names; Cityscapes _labelIds/_instanceIds suffixes ignored), else
from Cityscapes *_instanceIds.png siblings of *_labelIds.png inputs, or --instances-from-labels.

--tile N processes N x N tiles (one at a time on the device) overlapping by --tile-overlap pixels, blended
with weights that ramp across the middle half of each overlap. Tiling is exact only for models without
global context. ASAP-Net's low-res stream and the InstanceNorm layers of every built-in generator see the
whole input, so tiled results differ from untiled ones (usually slightly); use tiles as large as fit.

Photos (photo models) come out as users have them: upright (EXIF orientation), alpha kept unchanged, 16-bit
kept at 16 bits (png, or same for TIFF/PPM), grayscale as grayscale, ICC profile and EXIF carried over. No
input (or instance map) is ever overwritten: such an output is refused before any work. Outputs that exist
are skipped, so a stopped run resumes; --overwrite redoes them.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pixelwise.commands.outputs import add_output_arguments

    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("model", help="model dir (config.json + model.safetensors), checkpoint dir, run dir, "
                                      "or a Hugging Face Hub repo id org/name (pip install \"pixelwise[hub]\"; "
                                      "HF_HUB_OFFLINE=1: the cache only)")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    parser.add_argument("--output", "-o", required=True,
                        help="folder for the outputs (same stems as the inputs, + --suffix)")
    parser.add_argument("--instances", default=None, metavar="DIR", help="folder of instance id maps")
    parser.add_argument("--instances-from-labels", action="store_true",
                        help="no instance maps: draw instance edges at label boundaries only")
    parser.add_argument("--no-instance-edge", action="store_true",
                        help="read a pix2pixHD model's last input channel as a label, not an instance edge map "
                             "(for models saved before their config recorded instance_edge)")
    parser.add_argument("--tile", type=int, default=None, metavar="N", help="tile size in pixels (see below)")
    parser.add_argument("--tile-overlap", type=int, default=64, metavar="M", help="tile overlap in pixels (64)")
    parser.add_argument("--blend", choices=["cosine", "linear"], default="cosine", help="seam weight ramp")
    add_runtime_args(parser, backend=True)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (slow first image)")
    parser.add_argument("--hr-path", choices=["fast", "reference"], default=None,
                        help="ASAP-Net high-res path (default: the model's, normally fast)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from pixelwise.commands.outputs import output_options, report
    from pixelwise.commands.runtime_args import backend_log
    from pixelwise.inference import translate_files

    written = translate_files(
        args.model, args.inputs, args.output, instances=args.instances,
        instances_from_labels=args.instances_from_labels, instance_edge=False if args.no_instance_edge else None,
        tile=args.tile, overlap=args.tile_overlap, blend=args.blend, device=args.device, dtype=args.dtype,
        compile=args.compile, hr_path=args.hr_path, progress=not args.quiet, backend=args.backend,
        report=backend_log("infer"), **output_options(args),
    )
    report(written, args.output)
    return 0
