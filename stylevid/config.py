"""Every setting of a stylization, once: its default, its source, and its validation.

The CLI, job files and the Python API all build these frozen dataclasses; each one checks
itself on construction (types, ranges, finite numbers, layer names, choices) and converts
what a YAML file may hand over as text (``5e-4`` is a string to YAML) or as a list. A bad
value raises :class:`ConfigError`, which names the setting. This module imports no torch,
so that ``stylevid --help`` answers at once.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from typing import Any, TypeVar

from .errors import UserError

VGG19_BLOCK_CONVS = (2, 2, 4, 4, 4)  # convolutions per block


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    for block, convs in enumerate(VGG19_BLOCK_CONVS, start=1):
        for conv in range(1, convs + 1):
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
        names.append(f"pool{block}")
    return tuple(names)


LAYER_NAMES = _layer_names()
# Gatys, Ecker & Bethge 2016, "Image Style Transfer Using Convolutional Neural Networks":
# content on conv4_2 (its relu here, as in neural-style), style on conv1_1 ... conv5_1
# with equal weights, average pooling, L-BFGS.
CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
POOLINGS = ("avg", "max")
OPTIMIZERS = ("lbfgs", "adam")
COLOR_MODES = ("none", "luminance", "histogram")
PRECISIONS = ("auto", "fp32", "bf16")
FLOW_METHODS = ("dis", "farneback")
# H.264 chroma: yuv420p plays everywhere; yuv444p keeps the strokes' colour at full resolution
# (bedroom.mp4 at 512x288, crf 18, x264's grain tuning: style loss 1.04x the lossless frames'
# against 1.29x, warping error 1.16x against 1.61x, at 1.1x the bitrate;
# scripts/bench_encoder.py), but browsers and most hardware players do not decode it.
PIX_FMTS = ("yuv420p", "yuv444p")
FLOW_PRESETS = ("ultrafast", "fast", "medium", "fine")  # flow.DIS_PRESETS
FLOW_PRESET = "fine"  # the default; why: flow.DIS_PRESETS
MIN_SIZE = 16  # four 2x poolings before relu5_1 still leave a pixel

# `stylevid render` and batch jobs: later frames start from the previous frame carried along
# the flow with its detail (motion.Motion.carry) and need far fewer iterations than a still:
# at 256 px the loss is within 0.3-0.6 % of where the plateau rule stopped (after about 43
# evaluations) by the 20th. 18, with the keyframes ahead (18 more every 16 frames) 19.1
# evaluations a later frame: bedroom.mp4 at 512x288 keeps 1.00x independent frames'
# sharpness in the last quarter at 1.07x their style loss (20: 1.02x, 1.08x, 21.3
# evaluations; scripts/bench_video.py, docs/benchmarks.md).
VIDEO_SIZE = 512
VIDEO_ITERATIONS = 18
MAX_BLEND = 16  # Ray: frames pulled towards the next chunk's keyframe, at most


class ConfigError(UserError):
    """A setting with a bad value; ``setting`` is its field name."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting} {problem}")
        self.setting, self.problem = setting, problem


def _real(name: str, value: Any, *, low: float | None = None, above: float | None = None,
          high: float | None = None) -> float:
    """``value`` as a finite float (numbers, or numeric text as YAML gives ``5e-4``)."""
    if isinstance(value, bool):
        raise ConfigError(name, f"must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(name, f"must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(name, f"must be a finite number, not {value!r}")
    if low is not None and number < low:
        raise ConfigError(name, f"must be >= {low:g}, not {value!r}")
    if above is not None and number <= above:
        raise ConfigError(name, f"must be > {above:g}, not {value!r}")
    if high is not None and number > high:
        raise ConfigError(name, f"must be <= {high:g}, not {value!r}")
    return number


def _integer(name: str, value: Any, *, low: int | None = None,
             high: int | None = None) -> int:
    """``value`` as an int (ints or integer text; not 2.5, not True)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ConfigError(name, f"must be a whole number, not {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(name, f"must be a whole number, not {value!r}") from None
    if low is not None and number < low:
        raise ConfigError(name, f"must be >= {low}, not {value!r}")
    if high is not None and number > high:
        raise ConfigError(name, f"must be <= {high}, not {value!r}")
    return number


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _sequence(name: str, value: Any) -> tuple[Any, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ConfigError(name, f"must be a non-empty list, not {value!r}")
    return tuple(items)


def _layers(name: str, value: Any) -> tuple[str, ...]:
    layers = tuple(str(v).strip() for v in _sequence(name, value))
    unknown = [layer for layer in layers if layer not in LAYER_NAMES]
    if unknown:
        raise ConfigError(name, f"has unknown VGG-19 layer {unknown[0]!r} "
                                "(known: conv1_1, relu1_1, pool1 ... relu5_4)")
    return layers


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(name, f"must be true or false, not {value!r}")
    return value


_C = TypeVar("_C", bound="_Checked")


class _Checked:
    """Frozen dataclass base: ``_check`` returns the converted value of every field."""

    def __post_init__(self) -> None:
        for name, value in self._check().items():
            object.__setattr__(self, name, value)

    def _check(self) -> dict[str, Any]:
        raise NotImplementedError

    def with_(self: _C, **changes: Any) -> _C:
        """A checked copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[type-var]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (for manifests)."""
        return asdict(self)  # type: ignore[call-overload]


# A coarse level only gives the next one its start, and its last evaluations polish detail
# that the enlargement blurs: it stops on a plateau this many times looser than the final
# level's. At 512 px: 50-64 evaluations at 256 px instead of 151-190, and the run ends after
# 0.79-0.95x the time at the same loss within 0.2 % (docs/benchmarks.md, "A coarse level
# stopped sooner").
COARSE_TOLERANCE_FACTOR = 10.0


@dataclass(frozen=True)
class StyleParams(_Checked):
    """Everything that decides how one image is stylized (and nothing about files)."""

    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    # Relative weight of each style layer (Gatys: equal); normalised to sum to 1.
    style_layer_weights: tuple[float, ...] | None = None
    # Loss weights for this package's normalisation (content = feature MSE, style = Gatys
    # E_l with mass-normalised Grams, images in [0, 1]); calibrated so that the defaults
    # give a neural-style-like balance at 256-1024 px.
    content_weight: float = 1.0
    style_weight: float = 5e-4
    tv_weight: float = 10.0
    pooling: str = "avg"  # Gatys 2016, Sec. 2: average pooling gives more appealing results
    optimizer: str = "lbfgs"  # Gatys 2016 and neural-style default
    learning_rate: float | None = None  # None: 1.0 for L-BFGS, 0.02 for Adam
    iterations: int = 500  # neural-style default
    # Stop when the loss improved by less than this fraction per evaluation over the last 20
    # evaluations (from a later frame's warm start over all of them from the 6th on:
    # optimize.optimize_image).
    tolerance: float = 2e-4
    init: str = "content"  # "content", "noise" or a path to an image
    size: int = 512  # longest side of the output, pixels
    # Number of coarse-to-fine levels, each twice the previous size; None = automatic
    # (levels down to about 256 px on the longest side).
    scales: int | None = None
    style_scale: float = 1.0  # style image size relative to the content (neural-style)
    preserve_colors: str = "none"  # "none", "luminance" (Gatys 2016b) or "histogram"
    seed: int = 0
    # Arithmetic of the VGG convolutions: "fp32", "bf16" (Gram matrices and losses stay fp32)
    # or "auto" (bf16 where the hardware runs it natively: CUDA with bf16, CPUs with AMX or
    # AVX512-BF16).
    precision: str = "auto"

    def _check(self) -> dict[str, Any]:
        style_layers = _layers("style_layers", self.style_layers)
        layer_weights = self.style_layer_weights
        if layer_weights is not None:
            layer_weights = tuple(_real("style_layer_weights", w, low=0)
                                  for w in _sequence("style_layer_weights", layer_weights))
            if len(layer_weights) != len(style_layers):
                raise ConfigError("style_layer_weights", f"has {len(layer_weights)} values for "
                                                         f"{len(style_layers)} style layers")
            if sum(layer_weights) <= 0:
                raise ConfigError("style_layer_weights", "must not all be 0")
        return {
            "content_layers": _layers("content_layers", self.content_layers),
            "style_layers": style_layers,
            "style_layer_weights": layer_weights,
            "content_weight": _real("content_weight", self.content_weight, low=0),
            "style_weight": _real("style_weight", self.style_weight, low=0),
            "tv_weight": _real("tv_weight", self.tv_weight, low=0),
            "pooling": _choice("pooling", self.pooling, POOLINGS),
            "optimizer": _choice("optimizer", self.optimizer, OPTIMIZERS),
            "learning_rate": None if self.learning_rate is None
            else _real("learning_rate", self.learning_rate, above=0),
            "iterations": _integer("iterations", self.iterations, low=1),
            "tolerance": _real("tolerance", self.tolerance, low=0, high=1),
            "init": str(self.init),
            "size": _integer("size", self.size, low=MIN_SIZE),
            "scales": None if self.scales is None else _integer("scales", self.scales, low=1),
            "style_scale": _real("style_scale", self.style_scale, above=0, high=16),
            "preserve_colors": _choice("preserve_colors", self.preserve_colors, COLOR_MODES),
            "seed": _integer("seed", self.seed, low=0),
            "precision": _choice("precision", self.precision, PRECISIONS),
        }

    @property
    def lr(self) -> float:
        """The learning rate actually used by the chosen optimizer."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 1.0 if self.optimizer == "lbfgs" else 0.02

    def scale_sizes(self, size: int | None = None) -> list[int]:
        """Longest sides of the coarse-to-fine levels, smallest first."""
        final = size or self.size
        levels = self.scales
        if levels is None:
            levels = 1
            while final // 2 ** levels >= 256:
                levels += 1
        return [max(32, final // 2**k) for k in reversed(range(levels))]

    def level_tolerance(self, final: bool) -> float:
        """The plateau tolerance of the final level, or of a coarse one (looser)."""
        return self.tolerance if final else self.tolerance * COARSE_TOLERANCE_FACTOR


def video_params(**changes: Any) -> StyleParams:
    """Image settings with the video defaults (`stylevid render`, batch jobs)."""
    return StyleParams(**{"size": VIDEO_SIZE, "iterations": VIDEO_ITERATIONS, **changes})


@dataclass(frozen=True)
class RenderOptions(_Checked):
    """Video-specific settings (the image settings are in :class:`StyleParams`)."""

    first_iterations: int = 500  # a frame started afresh: a shot's first, or any unheld one
    # Calibrated on camera pans with exact flow: 5e6 lowers the warping error about 50x
    # against independent frames (scripts/results/video_quality.md).
    temporal_weight: float = 5e6
    # How firmly the temporal loss holds the finest detail (the Nyquist band) relative to the
    # rest (losses.weighted_pixel_loss): warping the previous frame by a sub-pixel flow
    # blurs that band, and holding it fully compounds the blur along the clip.
    temporal_fine_weight: float = 0.15
    # The same in passes after the first, which start from the frame's own result: held in
    # full (1, Ruder's loss) the resampled neighbour's blur still built up along each pass
    # (bedroom.mp4, 3 passes: 0.80x independent frames' sharpness in the last quarter, 0.89x
    # with 0.6); held as lightly as in the first pass, detail grew pass after pass.
    pass_fine_weight: float = 0.6
    long_term: bool = False
    # Every this many frames, the frame that many ahead is rendered first (a keyframe) and
    # paints the pixels the frames in between see for the first time (lookahead.py); 0 or 1:
    # none (on a 2 px/frame pan the new strips otherwise turned the picture green).
    lookahead: int = 16
    # Ruder et al.'s multi-pass algorithm: passes after the first alternate direction, start
    # each frame from its previous result blended with its neighbour of this pass
    # (``blend_weight``, Ruder's blendWeight), and use the temporal loss from pass
    # ``temporal_from_pass`` on (Ruder's use_temporalLoss_after).
    passes: int = 1
    temporal_from_pass: int = 1
    blend_weight: float = 1.0
    flow_method: str = "dis"
    flow_preset: str = FLOW_PRESET
    # A frame whose consistent fraction falls below this starts a new shot.
    cut_threshold: float = 0.3
    start: float | None = None
    duration: float | None = None
    # Frames a second: a frame folder's (None: 25), or the rate a video is rendered at
    # (None: its own; another rate drops or repeats frames, as ffmpeg's fps filter does).
    fps: float | None = None
    crf: int = 18  # H.264 quality (x264: 0 lossless ... 51), 18 = visually lossless
    pix_fmt: str = "yuv420p"  # PIX_FMTS

    @property
    def frame_rate(self) -> Fraction | None:
        """``fps`` as the exact rate ffmpeg is given (29.97 as 30000/1001)."""
        return None if self.fps is None else Fraction(self.fps).limit_denominator(1001)

    def _check(self) -> dict[str, Any]:
        return {
            "first_iterations": _integer("first_iterations", self.first_iterations, low=1),
            "temporal_weight": _real("temporal_weight", self.temporal_weight, low=0),
            "temporal_fine_weight": _real("temporal_fine_weight", self.temporal_fine_weight,
                                          low=0, high=1),
            "pass_fine_weight": _real("pass_fine_weight", self.pass_fine_weight, low=0,
                                      high=1),
            "long_term": _flag("long_term", self.long_term),
            "lookahead": _integer("lookahead", self.lookahead, low=0),
            "passes": _integer("passes", self.passes, low=1),
            "temporal_from_pass": _integer("temporal_from_pass", self.temporal_from_pass,
                                           low=1),
            "blend_weight": _real("blend_weight", self.blend_weight, low=0),
            "flow_method": _choice("flow_method", self.flow_method, FLOW_METHODS),
            "flow_preset": _choice("flow_preset", self.flow_preset, FLOW_PRESETS),
            "cut_threshold": _real("cut_threshold", self.cut_threshold, low=0, high=1),
            "start": None if self.start is None else _real("start", self.start, low=0),
            "duration": None if self.duration is None
            else _real("duration", self.duration, above=0),
            "fps": None if self.fps is None else _real("fps", self.fps, above=0, high=1000),
            "crf": _integer("crf", self.crf, low=0, high=51),
            "pix_fmt": _choice("pix_fmt", self.pix_fmt, PIX_FMTS),
        }


@dataclass(frozen=True)
class RayOptions(_Checked):
    """How a render is split and scheduled on Ray."""

    workers: int | None = None  # None: one per GPU, else one per CPU
    chunk_frames: int = 48  # frames per chunk within a shot
    # Frames before a seam pulled towards the next chunk's first frame; None: a third of a
    # chunk, at most 16 (bedroom.mp4: the worst pulled pair 1.75x the interior's warping
    # error with 16, 2.74x with 8; scripts/results/seams_blend*.md).
    blend: int | None = None
    address: str | None = None  # None: start a local Ray instance

    @property
    def blend_frames(self) -> int:
        """``blend`` as resolved on construction (never None then)."""
        assert self.blend is not None
        return self.blend

    def _check(self) -> dict[str, Any]:
        chunk_frames = _integer("chunk_frames", self.chunk_frames, low=2)
        blend = (min(MAX_BLEND, max(1, chunk_frames // 3)) if self.blend is None
                 else _integer("blend", self.blend, low=1))
        if blend >= chunk_frames:
            raise ConfigError("blend", f"must be smaller than chunk_frames ({chunk_frames}), "
                                       f"not {blend}")
        return {
            "workers": None if self.workers is None else _integer("workers", self.workers,
                                                                  low=1),
            "chunk_frames": chunk_frames,
            "blend": blend,
            "address": None if self.address is None else str(self.address),
        }


@dataclass(frozen=True)
class RegionSpec(_Checked):
    """Which parts of the content get which style: masks or automatic segments, and
    ``LABEL=STYLE[@WEIGHT]`` / ``LABEL=keep`` rules; empty = one style everywhere."""

    masks: tuple[str, ...] = ()  # a label image, or one binary mask per region
    rules: tuple[str, ...] = ()  # LABEL=STYLE, LABEL=STYLE@WEIGHT, LABEL=keep, *=STYLE
    style_masks: tuple[str, ...] = ()  # LABEL=MASK: take that region's style from part of it
    segments: int | None = None  # split the content into this many regions (SLIC)

    def _check(self) -> dict[str, Any]:
        return {"masks": tuple(str(m) for m in self.masks),
                "rules": tuple(str(r) for r in self.rules),
                "style_masks": tuple(str(m) for m in self.style_masks),
                "segments": None if self.segments is None
                else _integer("segment", self.segments, low=1, high=64)}

    @property
    def whole(self) -> bool:
        """One style over the whole picture (no masks, no segments)."""
        return not self.masks and self.segments is None


@dataclass(frozen=True)
class StyleSpec(_Checked):
    """A style file with its blend weight and, optionally, a mask of the part to use."""

    path: str
    weight: float = 1.0
    mask: str | None = None

    def _check(self) -> dict[str, Any]:
        return {"path": str(self.path), "weight": _real("style_weights", self.weight, low=0),
                "mask": None if self.mask is None else str(self.mask)}
