"""The architecture config of ASAP-Net (:class:`ASAPNetConfig`) and its answers to the model contract."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pixelwise.errors import PixelwiseError
from pixelwise.models.base import InputKind, InputSpec

HR_PATHS = ("fast", "reference")


@dataclass
class ASAPNetConfig:
    """Architecture of an ASAP-Net generator. Defaults: the official Cityscapes model at 256x512.

    Two blocks: the paper's architecture (the official options, same names), then pixelwise's own variants
    (:attr:`variant_fields`), none of them in the paper or the official code, each defaulting to the paper's
    behaviour. Both are saved flat in ``config.json``. How the generator *runs* (the high-res path, block sizes,
    a fused kernel) is not part of the config: :class:`ASAPNetExecution`, set with ``set_execution``."""

    count_fields: ClassVar[tuple[str, ...]] = ("pe_frequencies", "lr_unet_middle_blocks")  # may be 0 (checks.py)
    # pixelwise's variants of the architecture (the second block below); their defaults are the paper's
    variant_fields: ClassVar[tuple[str, ...]] = ("shared_mlp_init", "zero_init_output", "cell_blend",
                                                 "pe_frequencies", "hr_label_smoothing", "hr_neighbourhood",
                                                 "hr_dilations", "lowres_arch", "lr_unet_enc_blocks",
                                                 "lr_unet_middle_blocks", "lr_unet_dec_blocks")
    # keys that older config.json files (and model options) held here and that are now ASAPNetExecution settings
    execution_keys: ClassVar[tuple[str, ...]] = ("hr_path",)

    # --- the paper's architecture (Shaham et al., CVPR 2021; the official options) -------------------------
    # label maps ("semantic", the official name; or "labels") or photos ("rgb"; or "photo"): :attr:`input_kind`
    input_mode: Literal["semantic", "rgb", "labels", "photo"] = "semantic"
    label_nc: int = 35  # semantic: number of label ids (one-hot channels); rgb: image channels
    contain_dontcare_label: bool = False  # one extra one-hot channel for id 255 -> label_nc
    instance_edge: bool = True  # an instance-edge channel is appended as the last input channel
    lr_instance: bool = True  # the last input channel feeds only the low-res stream
    downsampling: int = 16  # S: pixels per parameter cell along each axis (power of 2)
    learned_ds_factor: int = 16  # S2: learned downsampling (stride-2 convs) inside the low-res stream
    lr_width: int = 64
    lr_max_width: int = 1024
    lr_depth: int = 7
    hr_width: int = 64
    hr_depth: int = 5
    padding: Literal["zero", "reflect", "replicate"] = "zero"
    output_nc: int = 3
    # DeblurGAN-ASAP (the ASAP-Net paper's deblurring use with DeblurGAN's global skip):
    global_residual: bool = False  # output = clamp(input + G(input), -1, 1) (RGB mode)

    # --- pixelwise variants (not in the paper or the official code; every default is the paper's) -----------
    # fresh weights only: the per-pixel MLPs start as one He-initialised MLP shared by every cell (in the bias of
    # the low-res stream's last conv) plus a small per-cell part; see ASAPNetGenerator.shared_mlp_init_
    shared_mlp_init: bool = False
    zero_init_output: bool = False  # the predicted last MLP layer starts at 0: with global_residual, the identity
    # True: every pixel's output is the bilinear blend of the MLP outputs of its 4 nearest cells (by cell
    # centre) instead of its own cell's alone, so the output is continuous across cell borders (no S x S
    # blocks); 4x the high-res stream's work, reference algorithm only. False = the paper and official model
    cell_blend: bool = False
    # how many of the positional encoding's frequencies the per-pixel MLP sees: the k lowest (periods S, S/2,
    # ...); None = all log2 S (the paper and official model), 0 = none (the MLP sees only its input value)
    pe_frequencies: int | None = None
    # k (odd), semantic mode: the per-pixel MLP sees each input channel's mean over the k x k window around its
    # pixel (each label's share of the window; replicate-padded) instead of the pixel's own one-hot, so it can
    # draw soft region boundaries; the low-res stream's input is unchanged. 1 = the paper and official model
    hr_label_smoothing: int = 1
    # k (odd): the per-pixel MLP sees the k x k neighbourhood of the input around its pixel (reflect-padded;
    # channel-major, then row, then column) instead of the pixel alone; 1 = the paper and official model.
    # RGB mode only (an option for deblurring, where the MLP must see edges to sharpen them)
    hr_neighbourhood: int = 1
    # with hr_neighbourhood k > 1: the k x k window is taken at each of these dilations (taps d pixels apart) and
    # the windows stacked, so the MLP sees a wide support at few inputs (1, 2, 4, 8: taps up to 8 * (k // 2) px
    # away): the low-res stream can then predict a spatially varying deconvolution filter of wide support
    # (the kernel-prediction view of ASAP-Net). (1,) = one dense window
    hr_dilations: tuple[int, ...] = (1,)
    # the low-res stream: "plain" (the paper: 3x3 conv blocks) or "unet" (pixel-unshuffle by learned_ds_factor,
    # an encoder-decoder of NAFNet blocks with the lr_unet_* blocks per level, then the 1x1 parameter conv):
    # a receptive field of the whole crop at low cost, for blur longer than the paper's layers see
    lowres_arch: Literal["plain", "unet"] = "plain"
    lr_unet_enc_blocks: tuple[int, ...] = (1, 1, 1)
    lr_unet_middle_blocks: int = 2
    lr_unet_dec_blocks: tuple[int, ...] = (1, 1, 1)

    def variants(self) -> dict[str, Any]:
        """The pixelwise variants this config turns on (field -> value; empty: the paper's architecture)."""
        paper = ASAPNetConfig()
        return {f: getattr(self, f) for f in self.variant_fields if getattr(self, f) != getattr(paper, f)}

    @property
    def input_kind(self) -> InputKind:
        """:class:`InputKind` of ``input_mode`` (the one name for label maps vs photos)."""
        return InputKind(self.input_mode)

    @property
    def in_channels(self) -> int:
        """Channels of the dense input tensor that ``forward`` takes (and the low-res stream sees)."""
        if self.input_kind is InputKind.PHOTO:
            return self.label_nc
        return self.label_nc + int(self.contain_dontcare_label) + int(self.instance_edge)

    @property
    def hr_pixel_channels(self) -> int:
        return self.in_channels - int(self.lr_instance)

    @property
    def hr_mlp_pixel_channels(self) -> int:
        """Rows of the per-pixel MLP's first layer fed by the image (before the positional encoding): the
        high-res pixel channels times the ``hr_neighbourhood`` window times the ``hr_dilations``."""
        return self.hr_pixel_channels * self.hr_neighbourhood**2 * len(self.hr_dilations)

    @property
    def onehot_channels(self) -> int:
        """Semantic mode: one-hot channels (label ids, plus the dontcare channel when enabled)."""
        return self.label_nc + int(self.contain_dontcare_label)

    @property
    def predownsample(self) -> int:
        """S1: the fixed tent pre-downsample factor."""
        return self.downsampling // self.learned_ds_factor

    @property
    def num_frequencies(self) -> int:
        """Frequencies of the positional encoding the MLP sees (``pe_frequencies``, default all log2 S)."""
        full = int(math.log2(self.downsampling))
        return full if self.pe_frequencies is None else self.pe_frequencies

    @property
    def mlp_channels(self) -> list[int]:
        first = self.hr_mlp_pixel_channels + 4 * self.num_frequencies
        return [first] + [self.hr_width] * (self.hr_depth - 1) + [self.output_nc]

    @property
    def params_per_cell(self) -> int:
        chans = self.mlp_channels
        return sum(nci * nco + nco for nci, nco in zip(chans[:-1], chans[1:]))

    # --- the model contract (pixelwise.models.base.InputSpec) ---------------------------------------------
    def input_spec(self) -> InputSpec:
        """What this generator takes: label ids (one-hot [+ dontcare] [+ edge], fast label path) or a photo."""
        if self.input_kind is InputKind.PHOTO:
            return InputSpec(InputKind.PHOTO, self.downsampling, channels=self.in_channels)
        return InputSpec(InputKind.LABELS, self.downsampling, self.onehot_channels, self.instance_edge,
                         self.contain_dontcare_label, label_fast_path=True, channels=self.in_channels)

    @classmethod
    def input_options(cls, spec: InputSpec) -> dict[str, Any]:
        """The options that make this generator take the input ``spec`` describes (what the data gives)."""
        if spec.kind is InputKind.LABELS:
            options: dict[str, Any] = {"input_mode": "semantic", "label_nc": spec.label_channels - int(spec.dontcare),
                                       "contain_dontcare_label": spec.dontcare, "instance_edge": spec.instance_edge}
            if not spec.instance_edge:
                options["lr_instance"] = False
            return options
        return {"input_mode": "rgb", "label_nc": spec.channels, "contain_dontcare_label": False,
                "instance_edge": False, "lr_instance": False}

    @classmethod
    def tiny_options(cls) -> dict[str, Any]:
        """A narrow variant for quick CPU runs and tests: same layer structure, far fewer channels."""
        return dict(lr_width=8, lr_max_width=16, lr_depth=1, hr_width=8, hr_depth=2)

    def validate(self) -> None:
        def power_of_two(n: int) -> bool:
            return n >= 1 and (n & (n - 1)) == 0

        if not power_of_two(self.downsampling) or self.downsampling < 2:
            raise ValueError(f"downsampling S={self.downsampling} must be a power of two >= 2")
        if not power_of_two(self.learned_ds_factor) or self.learned_ds_factor < 2:
            raise ValueError(f"learned_ds_factor={self.learned_ds_factor} must be a power of two >= 2")
        if self.learned_ds_factor > self.downsampling:
            raise ValueError(
                f"learned_ds_factor={self.learned_ds_factor} exceeds the total downsampling S={self.downsampling}"
            )
        if self.global_residual and (self.input_kind is not InputKind.PHOTO or self.label_nc != self.output_nc):
            raise ValueError("global_residual needs input_mode='rgb' with as many input as output channels")
        if self.hr_depth < 1:
            raise ValueError("hr_depth must be at least 1")
        if self.hr_neighbourhood < 1 or self.hr_neighbourhood % 2 == 0:
            raise ValueError(f"hr_neighbourhood={self.hr_neighbourhood} must be an odd number >= 1")
        if self.hr_neighbourhood > 1 and self.input_kind is not InputKind.PHOTO:
            raise ValueError("hr_neighbourhood > 1 needs input_mode='rgb' (a label map feeds the MLP one id per pixel)")
        all_frequencies = int(math.log2(self.downsampling))
        if self.pe_frequencies is not None and not 0 <= self.pe_frequencies <= all_frequencies:
            raise ValueError(f"pe_frequencies={self.pe_frequencies} must be between 0 and log2(S) = "
                             f"{all_frequencies} (or null for all)")
        if self.hr_label_smoothing < 1 or self.hr_label_smoothing % 2 == 0:
            raise ValueError(f"hr_label_smoothing={self.hr_label_smoothing} must be an odd number >= 1")
        if self.hr_label_smoothing > 1 and self.input_kind is not InputKind.LABELS:
            raise ValueError("hr_label_smoothing > 1 needs input_mode='semantic' (it averages one-hot labels; "
                             "photos have hr_neighbourhood)")
        if not self.hr_dilations or any(int(d) < 1 for d in self.hr_dilations):
            raise ValueError(f"hr_dilations={list(self.hr_dilations)} must be one or more integers >= 1")
        if tuple(self.hr_dilations) != (1,) and self.hr_neighbourhood == 1:
            raise ValueError("hr_dilations needs hr_neighbourhood > 1 (the window whose taps it spreads)")
        if self.lowres_arch not in ("plain", "unet"):
            raise ValueError(f"lowres_arch={self.lowres_arch!r}: use 'plain' or 'unet'")
        if self.lowres_arch == "unet" and len(self.lr_unet_dec_blocks) != len(self.lr_unet_enc_blocks):
            raise ValueError("lr_unet_dec_blocks needs one entry per level of lr_unet_enc_blocks")


@dataclass(frozen=True)
class ASAPNetExecution:
    """How an ASAP-Net generator runs: choices that never change the function it computes, so they live beside
    the config, not in it (never saved in ``config.json``). Set with :meth:`ASAPNetGenerator.set_execution` or,
    for every ASAP-Net inside a model, :func:`pixelwise.models.asapnet.set_execution` (what infer, bench, export
    and the app use); the registry's ``*-reference`` names preset ``hr_path="reference"``."""

    hr_path: Literal["fast", "reference"] = "fast"  # the high-res algorithm; both compute the same function
    hr_block_pixels: int | None = None  # fast path: pixels per block of cells (cache-sized); None: automatic
    # a fused high-res kernel (pixelwise.kernels.install): used only for inference without gradients, never under
    # tracing / torch.compile / export; None: the PyTorch path
    hr_kernel: Any = None
    lowres_channels_last: bool = False  # run the low-res stream in channels_last

    def __post_init__(self) -> None:
        if self.hr_path not in HR_PATHS:
            raise PixelwiseError(f"hr_path={self.hr_path!r}: use one of {', '.join(HR_PATHS)}")
        if self.hr_block_pixels is not None and (isinstance(self.hr_block_pixels, bool)
                                                 or not isinstance(self.hr_block_pixels, int)
                                                 or self.hr_block_pixels < 1):
            raise PixelwiseError(f"hr_block_pixels={self.hr_block_pixels!r}: use a positive number of pixels "
                                 f"(or None: automatic)")
        if self.hr_kernel is not None and not callable(self.hr_kernel):
            raise PixelwiseError(f"hr_kernel={self.hr_kernel!r} is not callable (see pixelwise.kernels.install)")
