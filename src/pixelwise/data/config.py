"""The ``data:`` section of a run config: where the files are, how they are laid out and how samples are made.

Loaded from YAML by :func:`pixelwise.config.from_dict`; every field is a plain value. The layout formats:

=================  ==================================================================================  ======
format             files under ``root``                                                                task
=================  ==================================================================================  ======
cityscapes         ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` + ``gtFine/<split>/<city>/*_gtFine_  labels
                   {labelIds,instanceIds}.png`` (the released layout)
flat               ``<split>_label/ <split>_img/ [<split>_inst/]`` (pix2pixHD) or ``<split>_labels/        labels
                   <split>_images/ [<split>_instances/]`` (SPADE/ASAP-Net), matched by name
paired             ``[<split>/]A/`` + ``[<split>/]B/`` (or ``A/<split>/``, ``B/<split>/``), same names    photo
aligned            ``[<split>/]*.png``, each image A|B side by side (pix2pix)                               photo
gopro              ``<split>/<sequence>/{blur,blur_gamma,sharp}/*.png`` (GoPro_Large)                     photo
blur               ``[<split>/]**/*.png`` sharp photos, blurred on the fly (:mod:`pixelwise.data.blur`)     photo
bundled-labels     none (``root`` unused): a Cityscapes stand-in derived from scikit-image's photos        labels
bundled-blur       none (``root`` unused): scikit-image's photos, blurred on the fly                        photo
=================  ==================================================================================  ======
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pixelwise.errors import PixelwiseError
from pixelwise.input_kind import InputKind

if TYPE_CHECKING:
    from pixelwise.data.camera import CameraOptions

FORMATS = ("cityscapes", "flat", "paired", "aligned", "gopro", "blur", "bundled-labels", "bundled-blur")
LABEL_FORMATS = ("cityscapes", "flat", "bundled-labels")
TASKS = ("auto", "labels", "photo", "rgb")  # auto or an InputKind (rgb: the older name of photo)


@dataclass
class DataConfig:
    """Dataset layout and sample preparation. Defaults: the bundled deblurring demo data."""

    format: str = "bundled-blur"  # one of FORMATS (table above)
    root: str = ""  # dataset folder; unused for bundled-* formats
    split: str = "train"  # training split (folder name: train / val / test)
    eval_split: str | None = None  # evaluation split; None: "val" for cityscapes, else "test"
    task: str = "auto"  # "labels" (label map -> photo) or "photo" (photo -> photo; also "rgb"); auto: from format
    # --- label-map task ---
    label_nc: int = 35  # number of label ids (one-hot channels); ids must be < label_nc
    contain_dontcare_label: bool = False  # id 255 means "don't care" and becomes id label_nc (+1 channel)
    instance_edge: bool = True  # load instance maps and append their edge map as the last input channel
    label_set: str = "ids"  # cityscapes: "ids" (35 ids, official) or "train_ids" (19 classes, rest -> 255)
    # --- size: resize (labels NEAREST, photos BICUBIC), then crop (random when training) ---
    load_height: int | None = None  # resize to this height; None: keep (or follow load_width's aspect)
    load_width: int | None = None  # resize to this width; None: keep (or follow load_height's aspect)
    crop_height: int | None = None  # crop height; None: no crop along y
    crop_width: int | None = None  # crop width; None: no crop along x
    eval_crop: bool = False  # evaluation: centre crop to the crop size (True) or whole image (False)
    flip: bool = True  # random horizontal flip when training
    # --- paired / aligned / gopro ---
    direction: str = "AtoB"  # paired/aligned: "AtoB" (A is the input) or "BtoA"
    gopro_input: str = "blur"  # gopro: "blur" (linear) or "blur_gamma" folder as the network input
    # --- on-the-fly motion blur (formats blur, bundled-blur) ---
    blur_strength: float | list[float] = field(default_factory=lambda: [0.2, 1.0])  # s or [lo, hi] in [0, 1]
    blur_max_length: float = 60.0  # camera-path length at strength 1, in pixels of the loaded (resized) image
    # how a training strength is drawn from the range: "uniform" in strength; "log": path length log-uniform
    # from 1 px (or lo) to hi * blur_max_length, so light blur is as common as heavy; "mixed": half each
    blur_strength_sampling: str = "uniform"
    blur_noise: float = 0.0  # std of Gaussian sensor noise added after blurring (intensity units, 0..1)
    # camera realism (pixelwise.data.camera; all off by default): blur in linear light with this gamma (0: off),
    # clipped highlights boosted by this gain before the blur (1: off), Poisson-Gaussian sensor noise in linear
    # light (variance shot * x + read^2; 0: off), a JPEG round trip at this quality (0: off)
    blur_gamma: float = 0.0
    blur_highlight_gain: float = 1.0
    blur_shot_noise: float = 0.0
    blur_read_noise: float = 0.0
    blur_jpeg_quality: int = 0
    # --- misc ---
    seed: int = 0  # seed of everything random that is not training augmentation (eval blur kernels)
    max_images: int | None = None  # use only the first N samples (sorted by name); None: all
    # training only: each epoch visits every sample this many times (fresh random crop / flip / blur each visit),
    # so a small photo set still makes epochs long enough that the data loader's workers are not restarted every
    # few steps (a GPU with a large batch would otherwise wait on them); evaluation sees every sample once
    repeat: int = 1
    validate: str = "headers"  # pre-flight check of every file before training: full | headers | off

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise PixelwiseError(f"data.format={self.format!r} is not one of {list(FORMATS)}")
        if self.task not in TASKS:
            raise PixelwiseError(f"data.task={self.task!r} is not one of {list(TASKS)}")
        if self.label_set not in ("ids", "train_ids"):
            raise PixelwiseError(f"data.label_set={self.label_set!r} must be 'ids' or 'train_ids'")
        if self.direction not in ("AtoB", "BtoA"):
            raise PixelwiseError(f"data.direction={self.direction!r} must be 'AtoB' or 'BtoA'")
        if self.gopro_input not in ("blur", "blur_gamma"):
            raise PixelwiseError(f"data.gopro_input={self.gopro_input!r} must be 'blur' or 'blur_gamma'")
        if self.validate in (False, "False", "false"):  # YAML reads a bare `off` as false
            self.validate = "off"
        if self.validate not in ("full", "headers", "off"):
            raise PixelwiseError(f"data.validate={self.validate!r} must be 'full', 'headers' or 'off'")
        if self.label_nc < 1:
            raise PixelwiseError(f"data.label_nc={self.label_nc} must be >= 1")
        if not isinstance(self.repeat, int) or isinstance(self.repeat, bool) or self.repeat < 1:
            raise PixelwiseError(f"data.repeat={self.repeat!r} must be an integer >= 1")
        for name in ("load_height", "load_width", "crop_height", "crop_width", "max_images"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise PixelwiseError(f"data.{name}={value} must be >= 1 (or null)")
        if self.blur_max_length < 0 or self.blur_noise < 0:
            raise PixelwiseError("data.blur_max_length and data.blur_noise must be >= 0")
        self.camera_options()  # checks the camera realism options
        from pixelwise.data.strength import STRENGTH_SAMPLINGS, parse_strength

        if self.blur_strength_sampling not in STRENGTH_SAMPLINGS:
            raise PixelwiseError(f"data.blur_strength_sampling={self.blur_strength_sampling!r} must be one of "
                                 f"{list(STRENGTH_SAMPLINGS)}")
        lo, hi = parse_strength(self.blur_strength, where="data.blur_strength")
        self.blur_strength = [lo, hi]

    def camera_options(self) -> CameraOptions:
        """The camera realism options of on-the-fly blur (``blur_gamma`` ... ``blur_jpeg_quality``)."""
        from pixelwise.data.camera import CameraOptions

        try:
            return CameraOptions(self.blur_gamma, self.blur_highlight_gain, self.blur_shot_noise,
                                 self.blur_read_noise, self.blur_jpeg_quality)
        except PixelwiseError as exc:
            raise PixelwiseError(f"data.blur_*: {exc}") from None

    @property
    def resolved_task(self) -> InputKind:
        """:class:`InputKind`: label maps or photos (``auto``: from the format)."""
        if self.task != "auto":
            return InputKind(self.task)
        return InputKind.LABELS if self.format in LABEL_FORMATS else InputKind.PHOTO

    @property
    def uses_instances(self) -> bool:
        return self.resolved_task == "labels" and self.instance_edge

    @property
    def resolved_eval_split(self) -> str:
        if self.eval_split:
            return self.eval_split
        return "val" if self.format == "cityscapes" else "test"
