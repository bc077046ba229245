"""What differs between the four recipes, as small functions over the run config (the loop has none of it).

- Which networks, and how their input channels follow the data (:func:`build_generator`,
  :func:`build_discriminator`); conditional discriminators see ``cat([network input, image])``.
- Which losses (:class:`Recipe`: the GAN objective and weights, feature matching, VGG perceptual /
  content, gradient penalty) for the discriminator step and the generator step.
- Which generator parameters are trained (:func:`generator_parameters`: pix2pixHD's local enhancer trains
  only the enhancer for the first ``fix_global_epochs`` epochs, Wang et al. 2018, Sec. 3.2).
- The learning-rate schedule (:func:`lr_factor`: constant, then linear decay to 0, as in all four papers).
- The adversarial warm-up (:func:`adversarial_factor`: content losses first, the GAN terms ramped in).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from pixelwise import losses
from pixelwise.data.config import DataConfig
from pixelwise.errors import PixelwiseError
from pixelwise.models.base import InputSpec
from pixelwise.models.layers import init_weights
from pixelwise.train.config import LossConfig, RunConfig, TrainConfig

IMAGE_CHANNELS = 3


# --- networks ---------------------------------------------------------------------------------------------
def data_input_spec(data: DataConfig) -> InputSpec:
    """What the data section gives the generator, in the terms of the model contract (any size multiple)."""
    from pixelwise.data import input_channels

    if data.resolved_task == "labels":
        return InputSpec("labels", 1, data.label_nc + int(data.contain_dontcare_label), data.instance_edge,
                         data.contain_dontcare_label, channels=input_channels(data))
    return InputSpec("photo", 1, channels=input_channels(data))


def generator_config(config: RunConfig) -> Any:
    """The generator's config dataclass: registry defaults, then ``model.options``, then the input channels
    that follow ``data`` (an option that contradicts the data is an error naming both)."""
    from pixelwise.data import input_channels
    from pixelwise.registry import get_entry, model_config

    entry = get_entry(config.model.name)
    if entry.kind != "generator":
        raise PixelwiseError(f"model.name={config.model.name!r} is a {entry.kind}; choose a generator")
    options = dict(config.model.options)
    derived = entry.config_cls.input_options(data_input_spec(config.data))
    for key, value in derived.items():
        if key in options and options[key] != value:
            raise PixelwiseError(
                f"model.options.{key}={options[key]!r} contradicts the data section, which gives {value!r}; the "
                f"input channels follow data (data.format, data.label_nc, data.contain_dontcare_label, "
                f"data.instance_edge): remove model.options.{key}"
            )
    model_cfg = model_config(config.model.name, **{**options, **derived})
    in_channels = model_cfg.input_spec().channels
    if in_channels != input_channels(config.data):
        raise PixelwiseError(f"model {config.model.name} takes {in_channels} input channels but the data gives "
                             f"{input_channels(config.data)}")
    return model_cfg


def build_generator(config: RunConfig) -> nn.Module:
    from pixelwise.registry import create_model

    model_cfg = generator_config(config)
    try:
        # the generator applies the init scheme, then its config's own inits (zero_init_output, ...), once each
        generator = create_model(config.model.name, config=model_cfg, init=config.model.init)
    except ValueError as exc:
        if isinstance(exc, PixelwiseError):
            raise
        raise PixelwiseError(f"model.options do not make a valid {config.model.name}: {exc}") from exc
    if config.model.init_from:
        init_generator(generator, config.model.init_from)
    return generator


def discriminator_input_channels(config: RunConfig) -> int:
    from pixelwise.data import input_channels

    return IMAGE_CHANNELS + (input_channels(config.data) if config.discriminator.conditional else 0)


def build_discriminator(config: RunConfig) -> nn.Module:
    from pixelwise.registry import create_model, get_entry, model_config

    section = config.discriminator
    entry = get_entry(section.name)
    if entry.kind != "discriminator":
        raise PixelwiseError(f"discriminator.name={section.name!r} is a {entry.kind}; choose a discriminator")
    channels = discriminator_input_channels(config)
    given = section.options.get("input_nc")
    if given is not None and given != channels:
        raise PixelwiseError(
            f"discriminator.options.input_nc={given} contradicts the data and discriminator.conditional, which "
            f"give {channels}: remove discriminator.options.input_nc"
        )
    discriminator = create_model(section.name, config=model_config(section.name, **{**section.options,
                                                                                    "input_nc": channels}))
    return init_weights(discriminator, section.init)


def init_generator(generator: nn.Module, source: str) -> int:
    """Copy every tensor of a trained generator (model, checkpoint or run dir) whose name and shape match,
    as pix2pixHD does when the local enhancer starts from a trained global generator. Returns the count."""
    from pixelwise.models.io import load_state_dict, resolve_generator

    try:
        directory, weights = resolve_generator(source)
        state = load_state_dict(directory / weights)
    except PixelwiseError as exc:
        raise PixelwiseError(f"model.init_from={source}: {exc}") from exc
    own = generator.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise PixelwiseError(f"model.init_from={source}: none of its tensors fits {generator.registry_name}")
    generator.load_state_dict(matched, strict=False)
    return len(matched)


def generator_parameters(generator: nn.Module, train_global: bool) -> list[nn.Parameter]:
    """All parameters, or for pix2pixHD's local enhancer with ``train_global=False`` only the enhancer's
    (the global generator G1 sits under ``model.``)."""
    if train_global:
        return list(generator.parameters())
    return [p for name, p in generator.named_parameters() if not name.startswith("model.")]


def trains_global(config: TrainConfig, epoch: int) -> bool:
    return epoch >= config.fix_global_epochs


# --- schedule ---------------------------------------------------------------------------------------------
def lr_factor(config: TrainConfig, step: int, epoch: int) -> float:
    """Multiplier of the initial learning rates during step ``step`` of epoch ``epoch`` (both 0-based).

    Epoch decay (pix2pixHD / SPADE / DeblurGAN): 1 for the first ``epochs`` epochs, then
    ``1 - (epoch - epochs) / decay_epochs``. Step decay (optional, for runs bounded by ``max_steps``):
    ``1 - (step - (max_steps - decay_steps)) / decay_steps`` over the last ``decay_steps`` steps.
    """
    factor = 1.0
    if config.decay_epochs > 0 and epoch > config.epochs:
        factor *= max(0.0, 1.0 - (epoch - config.epochs) / config.decay_epochs)
    if config.decay_steps > 0 and config.max_steps is not None:
        start = config.max_steps - config.decay_steps
        if step > start:
            progress = min(1.0, (step - start) / config.decay_steps)
            if config.lr_schedule == "cosine":
                factor *= 0.5 * (1.0 + math.cos(math.pi * progress))
            else:
                factor *= 1.0 - progress
    return factor


def adversarial_factor(config: TrainConfig, step: int) -> float:
    """Weight multiplier of the generator's adversarial and feature-matching terms during 0-based step
    ``step``: 0 for the first ``gan_warmup_steps`` steps, then a linear ramp to 1 over the next
    ``gan_warmup_steps`` (``(step - N + 1) / N``), 1 after. It depends on the step alone, so resumed runs
    follow the same schedule. ``gan_warmup_steps=0``: always 1 (the papers)."""
    warmup = config.gan_warmup_steps
    if warmup <= 0:
        return 1.0
    return min(1.0, max(0.0, (step - warmup + 1) / warmup))


def total_steps(config: TrainConfig, steps_per_epoch: int) -> int:
    """Length of the run in steps: ``max_steps`` or (epochs + decay_epochs) full epochs, whichever is first."""
    by_epochs = (config.epochs + config.decay_epochs) * steps_per_epoch
    if config.max_steps is None:
        return by_epochs
    return config.max_steps if by_epochs == 0 else min(config.max_steps, by_epochs)


# --- losses -----------------------------------------------------------------------------------------------
def _split_batch(outputs: losses.DiscriminatorOutput, first: int) -> tuple[losses.DiscriminatorOutput,
                                                                           losses.DiscriminatorOutput]:
    head = [[f[:first] for f in scale] for scale in outputs]
    tail = [[f[first:] for f in scale] for scale in outputs]
    return head, tail


@dataclass
class Recipe:
    """The loss side of a recipe. The loop calls :meth:`discriminator_loss` ``critic_steps`` times and then
    :meth:`generator_loss` once per step. Returned term dicts hold the weighted terms and the total, so
    that they add up (``d_total``, ``g_total``)."""

    loss: LossConfig
    conditional: bool
    vgg: losses.VGGLoss | None = None

    @classmethod
    def from_config(cls, config: RunConfig) -> Recipe:
        loss = config.loss
        vgg = None
        if loss.uses_vgg:
            losses.check_vgg_weights(loss.vgg_weights)
            vgg = losses.VGGLoss(perceptual=loss.vgg > 0, content=loss.content > 0, weights=loss.vgg_weights,
                                 normalize=loss.vgg_normalize)
        return cls(loss=dataclasses.replace(loss), conditional=config.discriminator.conditional, vgg=vgg)

    @property
    def adversarial(self) -> bool:
        """False when loss.gan_weight and loss.feature_matching are both 0: the discriminator would not act on
        the generator, so the loop neither runs nor updates it (a pure content-loss run)."""
        return self.loss.gan_weight > 0 or self.loss.feature_matching > 0

    def to(self, device: torch.device, memory_format: torch.memory_format = torch.contiguous_format) -> Recipe:
        if self.vgg is not None:
            self.vgg.to(device=device, memory_format=memory_format)
        return self

    def discriminator_input(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return torch.cat([condition, image], dim=1) if self.conditional else image

    def discriminate(self, discriminator: nn.Module, condition: torch.Tensor, fake: torch.Tensor,
                     real: torch.Tensor) -> tuple[losses.DiscriminatorOutput, losses.DiscriminatorOutput]:
        """One discriminator pass over fake and real stacked along the batch (as SPADE does; every
        normalisation in these discriminators is per sample), split back into (fake, real) outputs."""
        both = torch.cat([self.discriminator_input(condition, fake), self.discriminator_input(condition, real)])
        return _split_batch(discriminator(both), fake.shape[0])

    def discriminator_loss(self, discriminator: nn.Module, condition: torch.Tensor, real: torch.Tensor,
                           fake: torch.Tensor, grad_scaler: torch.amp.GradScaler | None = None,
                           ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.loss
        fake_out, real_out = self.discriminate(discriminator, condition, fake.detach(), real)
        total = cfg.d_weight * losses.discriminator_loss(real_out, fake_out, cfg.gan, cfg.gan_reduction)
        terms = {"d_gan": total}
        if cfg.gan == "wgan-gp" and cfg.gp_weight > 0:
            penalty = losses.gradient_penalty(discriminator, real, fake, condition if self.conditional else None,
                                              weight=cfg.gp_weight, grad_scaler=grad_scaler)
            terms["d_gp"] = penalty
            total = total + penalty
        terms["d_total"] = total
        return total, terms

    def generator_loss(self, discriminator: nn.Module, condition: torch.Tensor, real: torch.Tensor,
                       fake: torch.Tensor, adversarial: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``adversarial`` (:func:`adversarial_factor`) scales the GAN and feature-matching terms; at 0 the
        discriminator is not run and those terms are logged as 0."""
        cfg = self.loss
        terms: dict[str, torch.Tensor] = {}
        if adversarial <= 0:
            zero = fake.new_zeros((), dtype=torch.float32)
            if cfg.feature_matching > 0:
                terms["g_fm"] = zero
            if cfg.gan_weight > 0:
                terms["g_gan"] = zero
        elif self.adversarial:
            if cfg.feature_matching > 0:
                fake_out, real_out = self.discriminate(discriminator, condition, fake, real)
                terms["g_fm"] = adversarial * cfg.feature_matching * losses.feature_matching_loss(fake_out, real_out)
            else:
                fake_out = discriminator(self.discriminator_input(condition, fake))
            if cfg.gan_weight > 0:
                terms["g_gan"] = adversarial * cfg.gan_weight * losses.generator_loss(fake_out, cfg.gan,
                                                                                      cfg.gan_reduction)
        if self.vgg is not None:
            vgg_terms = self.vgg(fake, real)
            if "vgg" in vgg_terms:
                terms["g_vgg"] = cfg.vgg * vgg_terms["vgg"]
            if "content" in vgg_terms:
                terms["g_content"] = cfg.content * vgg_terms["content"]
        if cfg.l1 > 0:
            terms["g_l1"] = cfg.l1 * torch.nn.functional.l1_loss(fake.float(), real.float())
        if cfg.mse > 0:
            terms["g_mse"] = cfg.mse * torch.nn.functional.mse_loss(fake.float(), real.float())
        if cfg.psnr > 0:
            terms["g_psnr"] = cfg.psnr * losses.psnr_loss(fake, real)
        if cfg.charbonnier > 0:
            terms["g_charbonnier"] = cfg.charbonnier * losses.charbonnier_loss(fake, real)
        if cfg.fft > 0:
            terms["g_fft"] = cfg.fft * losses.fft_l1_loss(fake, real)
        if not terms:
            raise PixelwiseError("every generator loss weight is 0: set loss.gan_weight, loss.vgg, ... above 0")
        total = torch.stack(list(terms.values())).sum()
        terms["g_total"] = total
        return total, terms
