"""The run config: one typed :class:`RunConfig` per training run, from a YAML preset plus dotted overrides.

A preset is a YAML file in ``configs/`` (or any path) with the sections below. A preset may start with
``base:``, one preset or a list of overlays merged in order, so variants state only what differs; names, overlays
and the old names that still work are :mod:`pixelwise.presets`.

    pixelwise train deblurgan-bundled-tiny train.max_steps=4 data.crop_height=32 --run-dir RUN
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pixelwise.config import apply_overrides, from_dict
from pixelwise.data.config import DataConfig
from pixelwise.errors import PixelwiseError
from pixelwise.presets import load_preset_dict, preset_path


@dataclass
class ModelSection:
    """The generator. ``options`` override the registry defaults of ``name`` (widths, depths, ...); the
    input channels are not options: they follow the ``data`` section (see ``recipes.generator_config``)."""

    name: str = "asapnet"  # registry name: asapnet, pix2pixhd, pix2pixhd-local, deblurgan, deblurgan-asap
    options: dict[str, Any] = field(default_factory=dict)
    init: Literal["pytorch", "normal", "xavier"] = "pytorch"  # fresh weights: models.layers.init_weights
    init_from: str | None = None  # start from a trained generator (model/checkpoint/run dir); matching keys


@dataclass
class DiscriminatorSection:
    """The discriminator (critic). Its ``input_nc`` follows ``conditional`` and the data's input channels."""

    name: str = "spade-multiscale"  # pix2pixhd-multiscale, spade-multiscale or patchgan
    options: dict[str, Any] = field(default_factory=dict)
    conditional: bool = True  # sees cat([network input, image]) (pix2pixHD, SPADE) or the image alone
    init: Literal["pytorch", "normal", "xavier"] = "pytorch"  # fresh weights: models.layers.init_weights


@dataclass
class LossConfig:
    """Loss terms and weights; a weight of 0 switches its term off."""

    gan: Literal["hinge", "lsgan", "wgan-gp", "bce"] = "hinge"
    gan_weight: float = 1.0
    gan_reduction: Literal["mean", "sum"] = "mean"  # over discriminator scales: SPADE mean, pix2pixHD sum
    d_weight: float = 1.0  # multiplies the discriminator's real + fake loss (pix2pixHD: 0.5)
    gp_weight: float = 10.0  # WGAN-GP gradient penalty lambda (used only with gan: wgan-gp)
    feature_matching: float = 10.0  # discriminator feature matching
    vgg: float = 10.0  # VGG19 perceptual loss (relu1_1..relu5_1, L1)
    content: float = 0.0  # DeblurGAN content loss (VGG19 conv3_3, MSE)
    l1: float = 0.0  # pixel L1 to the target (a content term from step 0; see train.gan_warmup_steps)
    mse: float = 0.0  # pixel mean squared error to the target (the loss PSNR measures; from step 0 as l1)
    # pixelwise restoration terms (from step 0 as l1; see losses.psnr_loss / charbonnier_loss / fft_l1_loss):
    psnr: float = 0.0  # minus the PSNR (dB) of each image, averaged: a smooth image counts as much as a busy one
    charbonnier: float = 0.0  # sqrt(diff^2 + 1e-6): L1 near the target, smooth at 0
    fft: float = 0.0  # L1 of the 2-D FFT difference (MIMO-UNet's frequency term): weights lost high frequencies
    vgg_weights: str = "imagenet"  # imagenet (torch.hub cache file) | random (untrained features) | a path
    vgg_normalize: bool = True  # ImageNet mean/std normalisation of [-1, 1] images before VGG

    @property
    def uses_vgg(self) -> bool:
        return self.vgg > 0 or self.content > 0

    @property
    def pixel_terms(self) -> bool:
        """Whether a pixelwise restoration term (psnr, charbonnier, fft) is on."""
        return self.psnr > 0 or self.charbonnier > 0 or self.fft > 0


@dataclass
class OptimConfig:
    """Adam for both networks (all four papers); with a weight decay, AdamW (decoupled decay, each step
    multiplies a weight by 1 - lr * weight_decay) on the network's weights (parameters of 2 or more dimensions:
    conv and linear kernels), never on biases or normalisation parameters."""

    lr_g: float = 1e-4
    lr_d: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.9)
    weight_decay_g: float = 0.0  # 0: plain Adam (the papers)
    weight_decay_d: float = 0.0


@dataclass
class TrainConfig:
    """Length, schedule, hardware and bookkeeping of the run. One step = ``critic_steps`` discriminator
    updates then one generator update, on one batch."""

    epochs: int = 200  # epochs at the initial learning rate (the papers' niter)
    decay_epochs: int = 100  # then linear decay to 0 over this many epochs (niter_decay)
    max_steps: int | None = None  # stop after this many steps (None: after epochs + decay_epochs)
    decay_steps: int = 0  # also decay linearly to 0 over the last decay_steps of max_steps (short runs)
    # how the last decay_steps decay: "linear" (the papers) or "cosine" (half a cosine from 1 to 0)
    lr_schedule: Literal["linear", "cosine"] = "linear"
    critic_steps: int = 1  # discriminator updates per generator update (DeblurGAN: 5)
    # content before adversary: the generator's adversarial and feature-matching terms are off for the first
    # gan_warmup_steps steps, then ramp in linearly over the next gan_warmup_steps (0: on from step 0, as the
    # papers). The discriminator trains throughout. See recipes.adversarial_factor.
    gan_warmup_steps: int = 0
    fix_global_epochs: int = 0  # pix2pixhd-local: train only the enhancer for this many epochs
    batch_size: int = 1  # per process
    num_workers: int = 0  # DataLoader workers per process (> 0: resumes are exact at epoch boundaries only)
    seed: int = 0
    device: str = "auto"  # auto (CUDA when available) | cpu | cuda | cuda:N
    # autocast dtype, named as on the CLI (--dtype): float32 | bfloat16 | float16 (adds gradient scaling); the
    # older spellings fp32 / bf16 / fp16 are accepted as aliases
    precision: Literal["float32", "bfloat16", "float16", "fp32", "bf16", "fp16"] = "float32"
    channels_last: bool = False
    compile: bool = False  # torch.compile the networks
    deterministic: bool = False  # deterministic algorithms (CPU runs are deterministic either way)
    log_every: int = 10  # metrics.jsonl / TensorBoard / progress bar every N steps
    sample_every: int = 500  # samples/step_N.png (input | output | target) every N steps; 0: never
    checkpoint_every: int = 1000  # checkpoints/step_N every N steps (and always at the end); 0: end only
    keep_checkpoints: int = 3  # keep the newest K checkpoints
    tensorboard: bool = True
    progress: bool = True  # tqdm progress bar (rank 0)

    def __post_init__(self) -> None:
        from pixelwise.runtime import canonical_dtype

        self.precision = canonical_dtype(self.precision)  # type: ignore[assignment]


@dataclass
class RunConfig:
    """Everything a training run needs; saved resolved as ``RUN/config.yaml``."""

    description: str = ""
    model: ModelSection = field(default_factory=ModelSection)
    discriminator: DiscriminatorSection = field(default_factory=DiscriminatorSection)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        """Cross-field checks, with the option to change in every message."""
        t, loss = self.train, self.loss
        positive = {"train.critic_steps": t.critic_steps, "train.batch_size": t.batch_size,
                    "train.log_every": t.log_every, "train.keep_checkpoints": t.keep_checkpoints}
        for key, value in positive.items():
            if value < 1:
                raise PixelwiseError(f"{key}={value} must be >= 1")
        non_negative = {"train.epochs": t.epochs, "train.decay_epochs": t.decay_epochs,
                        "train.decay_steps": t.decay_steps, "train.fix_global_epochs": t.fix_global_epochs,
                        "train.num_workers": t.num_workers, "train.sample_every": t.sample_every,
                        "train.checkpoint_every": t.checkpoint_every,
                        "train.gan_warmup_steps": t.gan_warmup_steps}
        for key, value in non_negative.items():
            if value < 0:
                raise PixelwiseError(f"{key}={value} must be >= 0")
        if t.max_steps is not None and t.max_steps < 1:
            raise PixelwiseError(f"train.max_steps={t.max_steps} must be >= 1 (or null for epoch-based length)")
        if t.max_steps is None and t.epochs + t.decay_epochs < 1:
            raise PixelwiseError("train.epochs + train.decay_epochs is 0: set one of them or train.max_steps")
        if t.decay_steps and (t.max_steps is None or t.decay_steps > t.max_steps):
            raise PixelwiseError(f"train.decay_steps={t.decay_steps} needs train.max_steps >= decay_steps")
        if t.fix_global_epochs and self.model.name != "pix2pixhd-local":
            raise PixelwiseError(
                f"train.fix_global_epochs={t.fix_global_epochs} applies to pix2pixhd-local only "
                f"(model.name is {self.model.name!r}); set it to 0"
            )
        if not t.device.startswith(("auto", "cpu", "cuda")):
            raise PixelwiseError(f"train.device={t.device!r}: use auto, cpu, cuda or cuda:N")
        for key in ("gan_weight", "d_weight", "gp_weight", "feature_matching", "vgg", "content", "l1", "mse",
                    "psnr", "charbonnier", "fft"):
            if getattr(loss, key) < 0:
                raise PixelwiseError(f"loss.{key}={getattr(loss, key)} must be >= 0")
        if t.gan_warmup_steps and not (loss.l1 > 0 or loss.mse > 0 or loss.vgg > 0 or loss.content > 0
                                       or loss.pixel_terms):
            raise PixelwiseError(
                f"train.gan_warmup_steps={t.gan_warmup_steps} switches the adversarial terms off at first, which "
                f"leaves nothing to train: set loss.l1 (or loss.mse / loss.vgg / loss.content) above 0, or the "
                f"warm-up to 0"
            )
        if self.optim.lr_g <= 0 or self.optim.lr_d <= 0:
            raise PixelwiseError("optim.lr_g and optim.lr_d must be > 0")
        if self.optim.weight_decay_g < 0 or self.optim.weight_decay_d < 0:
            raise PixelwiseError("optim.weight_decay_g and optim.weight_decay_d must be >= 0 (0: plain Adam)")


def run_config_from_dict(data: dict[str, Any], where: str = "config") -> RunConfig:
    config = from_dict(RunConfig, data, where=where)
    config.validate()
    return config


def load_run_config(name_or_path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Preset name or YAML path + dotted ``key=value`` overrides -> a validated :class:`RunConfig`."""
    data = apply_overrides(load_preset_dict(name_or_path), list(overrides))
    try:
        return run_config_from_dict(data, where="config")
    except PixelwiseError as exc:
        source = str(preset_path(name_or_path)) + (" with overrides" if overrides else "")
        raise PixelwiseError(f"{source}: {exc}") from exc
