"""pixelwise export: a model to ONNX with dynamic batch, height and width."""

from __future__ import annotations

import argparse

EPILOG = """\
Height and width are dynamic multiples of the model's size multiple (ASAP-Net: S; pix2pixHD:
2^n_downsample_global [x 2^n_local_enhancers]; DeblurGAN: 4): pad inputs to it. Label models take
int64 `label` (B,1,H,W) [+ `instance` (B,1,H,W)] ids by default (--input dense: the float one-hot input);
photo models take `input` (B,3,H,W) in [-1,1]. The output is `image` (B,3,H,W) in [-1,1]. The file is
checked with onnxruntime against PyTorch at two sizes unless --no-verify.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("model", help="model dir (config.json + model.safetensors), checkpoint dir, run dir "
                                      "or Hub repo id org/name")
    parser.add_argument("--format", choices=["onnx"], default="onnx", help="export format (onnx)")
    parser.add_argument("--output", "-o", required=True, help="file to write, e.g. model.onnx")
    parser.add_argument("--input", dest="input_kind", choices=["auto", "labels", "dense"], default="auto",
                        help="graph input for label models: integer maps (default) or the dense one-hot tensor")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (18)")
    parser.add_argument("--no-verify", action="store_true", help="skip the onnxruntime parity check")


def run(args: argparse.Namespace) -> int:
    from pixelwise.export import export_onnx

    path = export_onnx(args.model, args.output, input_kind=args.input_kind, opset=args.opset,
                       verify=not args.no_verify, report=print)
    print(f"wrote {path}")
    return 0
