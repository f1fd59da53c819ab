"""The stylization engine: one VGG encoder, cached style targets, coarse-to-fine optimisation.

Still images, video frames, regions and Ray workers all call :meth:`Stylizer.stylize`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .config import StyleParams
from .device import keep_freed_cpu_memory, resolve_precision
from .imageio import read_image, resize_longest, resize_to, to_tensor
from .losses import gram_matrix
from .memory import lbfgs_history
from .objective import Objective, PixelAnchor, RegionTarget, fresh_guides, layer_guides
from .optimize import optimize_image
from .vgg import VGG19Encoder

ProgressFn = Callable[[int, float, Tensor], None]

# Frames up to this many pixels have glibc keep freed blocks (device.keep_freed_cpu_memory:
# a third of the step time at 960x540). Not above: at 1920x1080 the 530 MB feature maps then
# come from a heap the long-lived L-BFGS history fragments (peak 10.18 GiB against 7.55 GiB
# without, at the same 70 s an iteration; scripts/results/memory.md).
KEEP_FREED_PIXELS = 1280 * 720

# Weight of the pixel anchor that holds "keep" regions to the content photo.
KEEP_WEIGHT = 1e7


@dataclass(frozen=True, eq=False)
class StyleImage:
    """A style picture (RGB uint8), its blend weight, and optionally the part of it to use
    (a float mask in [0, 1] of the picture's size)."""

    image: np.ndarray
    weight: float = 1.0
    mask: np.ndarray | None = None

    @functools.cached_property
    def fingerprint(self) -> str:
        """A digest of the picture and its mask: equal pictures share Gram targets, however
        many times they are loaded (every chunk of a Ray job loads its styles anew)."""
        digest = hashlib.blake2b(digest_size=16)
        for array in (self.image, self.mask):
            if array is not None:
                digest.update(str((array.shape, array.dtype)).encode())
                digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class Region:
    """A part of the content (float mask in [0, 1] at content size; None = all of it) and the
    styles it gets; no styles means "keep the original" there."""

    mask: np.ndarray | None
    styles: tuple[StyleImage, ...]
    weight: float = 1.0

    @property
    def keep(self) -> bool:
        return not self.styles


@dataclass
class StylizeResult:
    """Stylized image (1, 3, H, W) in [0, 1] on the CPU and the loss at every iteration."""

    image: Tensor
    losses: list[float] = field(default_factory=list)


def _mask_tensor(mask: np.ndarray, height: int, width: int, device: torch.device) -> Tensor:
    resized = resize_to(mask.astype(np.float32), height, width)
    return torch.from_numpy(np.clip(resized, 0, 1)).to(device)[None, None]


class Stylizer:
    """Holds the encoder and caches style Gram targets per resolution, for a whole job."""

    def __init__(self, params: StyleParams, device: torch.device | str = "cpu") -> None:
        self.params = params
        self.device = torch.device(device)
        self.precision = resolve_precision(params.precision, self.device)
        self.encoder = VGG19Encoder(params.content_layers + params.style_layers,
                                    params.pooling, self.precision).to(self.device)
        self._gram_cache: dict[tuple[str, int], dict[str, Tensor]] = {}

    @torch.no_grad()
    def style_grams(self, style: StyleImage, content_longest: int) -> dict[str, Tensor]:
        """Gram targets of one style picture for content of the given longest side (cached)."""
        key = (style.fingerprint, content_longest)
        if key not in self._gram_cache:
            size = max(16, round(content_longest * self.params.style_scale))
            picture = resize_longest(style.image, size)
            features = self.encoder(to_tensor(picture, self.device))
            guides = None
            if style.mask is not None:
                height, width = picture.shape[:2]
                mask = _mask_tensor(style.mask, height, width, self.device)
                guides = layer_guides(mask, self.params.style_layers)
            grams = {
                name: gram_matrix(features[name], guides[name] if guides else None)
                for name in self.params.style_layers
            }
            self._gram_cache[key] = grams
        return self._gram_cache[key]

    def region_targets(self, regions: Sequence[Region], height: int,
                       width: int) -> tuple[list[RegionTarget], Tensor | None]:
        """Style targets of the stylized regions, and the union mask of the kept ones, at (H, W)."""
        targets: list[RegionTarget] = []
        keep_masks: list[Tensor] = []
        longest = max(height, width)
        for region in regions:
            mask = (_mask_tensor(region.mask, height, width, self.device)
                    if region.mask is not None else None)
            if region.keep:
                keep_masks.append(mask if mask is not None else
                                  torch.ones(1, 1, height, width, device=self.device))
                continue
            total = sum(s.weight for s in region.styles)
            grams: dict[str, Tensor] = {}
            for style in region.styles:
                for name, gram in self.style_grams(style, longest).items():
                    grams[name] = grams.get(name, 0) + gram * (style.weight / total)
            guides = layer_guides(mask, self.params.style_layers) if mask is not None else None
            targets.append(RegionTarget(grams=grams, guides=guides, weight=region.weight))
        keep = torch.clamp(torch.stack(keep_masks).sum(0), 0, 1) if keep_masks else None
        return targets, keep

    def stylize(
        self,
        content: np.ndarray,
        regions: Sequence[Region],
        *,
        init: Tensor | None = None,
        anchors: Sequence[PixelAnchor] = (),
        iterations: int | None = None,
        sizes: Sequence[int] | None = None,
        warm_start: bool = False,
        on_step: ProgressFn | None = None,
    ) -> StylizeResult:
        """Stylize ``content`` (RGB uint8 at the output size) region by region.

        ``init`` (1, 3, H, W) starts the optimisation (default: ``params.init``);
        ``anchors`` add weighted pixel losses (temporal loss); ``sizes`` are the longest
        sides of the coarse-to-fine levels (default from ``params``), ending at the content's;
        ``warm_start``: ``init`` is expected near the optimum (a later video frame's carried
        picture), so a start on its plateau may stop after a few evaluations.
        """
        p = self.params
        height, width = content.shape[:2]
        if self.device.type == "cpu":  # process-wide: set for each frame's size
            keep_freed_cpu_memory(height * width <= KEEP_FREED_PIXELS)
        levels = list(sizes) if sizes is not None else p.scale_sizes(max(height, width))
        image = init.to(self.device) if init is not None else self._initial(content)
        losses: list[float] = []
        for level, longest in enumerate(levels):
            final = level == len(levels) - 1
            h, w = (height, width) if final else _scaled(height, width, longest)
            level_content = resize_to(content, h, w)
            content_tensor = to_tensor(level_content, self.device)
            image = F.interpolate(image, size=(h, w), mode="bicubic", align_corners=False) \
                if image.shape[-2:] != (h, w) else image
            objective = self.objective(content_tensor, regions, anchors)
            offset = len(losses)

            def step(i: int, loss: float, img: Tensor, offset: int = offset) -> None:
                if on_step is not None:
                    on_step(offset + i, loss, img)

            result = optimize_image(
                image, objective, iterations=iterations or p.iterations,
                optimizer=p.optimizer, lr=p.lr,
                tolerance=p.level_tolerance(final),
                history=lbfgs_history(h * w), warm_start=warm_start and level == 0,
                on_step=step,
            )
            image = result.image
            losses += result.losses
        return StylizeResult(image=image.detach().cpu(), losses=losses)

    def objective(self, content: Tensor, regions: Sequence[Region],
                  anchors: Sequence[PixelAnchor] = ()) -> Objective:
        """The total loss for ``content`` (1, 3, H, W) at its resolution."""
        h, w = content.shape[-2:]
        with torch.no_grad():
            features = self.encoder(content)
        content_targets = {name: features[name] for name in self.params.content_layers}
        targets, keep = self.region_targets(regions, h, w)
        level_anchors = [a.resized(h, w) for a in anchors]
        fresh = fresh_guides(level_anchors, self.params.style_layers)
        if keep is not None:
            level_anchors.append(PixelAnchor("keep", content, keep, KEEP_WEIGHT))
        return Objective(self.encoder, self.params, content_targets, targets, level_anchors,
                         fresh)

    def _initial(self, content: np.ndarray) -> Tensor:
        p = self.params
        if p.init == "content":
            return to_tensor(content, self.device)
        if p.init == "noise":
            generator = torch.Generator().manual_seed(p.seed)
            noise = torch.rand((1, 3, *content.shape[:2]), generator=generator)
            return noise.to(self.device)
        picture = read_image(p.init)
        return to_tensor(resize_to(picture, *content.shape[:2]), self.device)


def _scaled(height: int, width: int, longest: int) -> tuple[int, int]:
    scale = longest / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))
