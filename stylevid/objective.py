"""The total loss of one optimisation: content + (guided) style + TV + weighted pixel anchors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .config import StyleParams
from .imageio import to_tensor
from .losses import (
    content_loss,
    gram_distance,
    gram_matrix,
    gram_split,
    split_gram_distance,
    total_variation,
    weighted_pixel_loss,
)
from .vgg import VGG19Encoder, layer_scale


@dataclass
class RegionTarget:
    """Target Gram matrices of one region; ``guides`` (per style layer) is None for the whole
    image."""

    grams: dict[str, Tensor]
    guides: dict[str, Tensor] | None
    weight: float = 1.0


@dataclass
class PixelAnchor:
    """Pull pixels towards ``target`` with per-pixel ``confidence`` (1, 1, H, W).

    Used for the temporal loss (target = previous stylized frame warped by the flow,
    confidence = consistency weights) and for regions kept unstylized.
    """

    name: str
    target: Tensor
    confidence: Tensor
    weight: float
    fine_weight: float = 1.0  # how firmly the finest detail is held (losses.weighted_pixel_loss)

    @classmethod
    def of(cls, name: str, target: np.ndarray, confidence: np.ndarray, weight: float,
           device: torch.device, fine_weight: float = 1.0) -> PixelAnchor:
        """An anchor to a uint8 RGB frame (H, W, 3) with per-pixel ``confidence`` (H, W)."""
        return cls(name, to_tensor(target, device),
                   torch.from_numpy(confidence.astype(np.float32))[None, None].to(device),
                   weight, fine_weight)

    def resized(self, height: int, width: int) -> PixelAnchor:
        """The anchor at another resolution (for coarse-to-fine levels)."""
        if self.target.shape[-2:] == (height, width):
            return self
        target = F.interpolate(self.target, size=(height, width), mode="bilinear",
                               align_corners=False)
        confidence = F.interpolate(self.confidence, size=(height, width), mode="area")
        return PixelAnchor(self.name, target, confidence, self.weight, self.fine_weight)


def layer_guides(mask: Tensor, layers: tuple[str, ...]) -> dict[str, Tensor]:
    """Propagate a guide (1, 1, H, W) to each layer's resolution through the network's own
    2x2 pooling chain, so guides and feature maps line up exactly and edges stay soft."""
    by_scale = {1: mask}
    scale = 1
    while scale < max(layer_scale(name) for name in layers):
        by_scale[scale * 2] = F.avg_pool2d(by_scale[scale], kernel_size=2, stride=2)
        scale *= 2
    return {name: by_scale[layer_scale(name)] for name in layers}


def _normalised(weights: tuple[float, ...] | None, count: int) -> list[float]:
    values = list(weights) if weights is not None else [1.0] * count
    total = sum(values)
    return [w / total for w in values]


def fresh_guides(anchors: Sequence[PixelAnchor],
                 layers: tuple[str, ...]) -> dict[str, Tensor] | None:
    """How far each position of each style layer is free of the pixel anchors (1 - the sum of
    their confidences, clamped): a later frame's fresh pixels (disocclusions, the strip a
    camera move reveals). None without anchors (a still image, a shot's first frame)."""
    if not anchors:
        return None
    held = torch.stack([anchor.confidence for anchor in anchors]).sum(0).clamp(0.0, 1.0)
    return layer_guides(1.0 - held, layers)


class Objective:
    """Callable total loss of an image (1, 3, H, W); ``terms`` gives the weighted parts.

    With ``fresh`` guides (:func:`fresh_guides`: a later video frame held to its
    neighbours), each region's style loss is split between the pixels the anchors hold and
    the fresh ones, each part asked for the style on its own (``split_gram_distance``). One
    Gram matrix of the whole frame asks the few fresh pixels for what the held ones leave
    over: its optimum is ``G_fresh = A + (N_held / N_fresh)(A - G_held)``, the held part's
    deviation from the target A amplified by the ratio of the areas (30x for a 2 px strip
    of a 64 px frame). Painted as that complement, each strip a camera pan brought into view
    came out grainier than an independent painting, and the next frames, showing it in
    another window, inherited a patchwork (docs/benchmarks.md, "Fresh pixels").
    """

    def __init__(
        self,
        encoder: VGG19Encoder,
        params: StyleParams,
        content_targets: dict[str, Tensor],
        regions: list[RegionTarget],
        anchors: list[PixelAnchor] | None = None,
        fresh: dict[str, Tensor] | None = None,
    ) -> None:
        self.encoder = encoder
        self.params = params
        self.content_targets = content_targets
        self.regions = regions
        self.anchors = anchors or []
        # per region, per style layer: how it splits into held and fresh positions
        self.splits = [
            {name: gram_split(region.guides[name] if region.guides is not None else None,
                              fresh[name]) for name in region.grams} if fresh is not None
            else {} for region in regions]
        self.layer_weights = dict(zip(
            params.style_layers,
            _normalised(params.style_layer_weights, len(params.style_layers)),
            strict=True,
        ))

    def terms(self, image: Tensor) -> dict[str, Tensor]:
        """Weighted loss terms by name."""
        p = self.params
        features = self.encoder(image)
        content = torch.stack([
            content_loss(features[name], target) for name, target in self.content_targets.items()
        ]).mean()
        terms = {"content": p.content_weight * content}
        style = image.new_zeros(())
        for region, splits in zip(self.regions, self.splits, strict=True):
            for name, target in region.grams.items():
                guide = region.guides[name] if region.guides is not None else None
                gram = gram_matrix(features[name], guide)
                split = splits.get(name)
                distance = gram_distance(gram, target) if split is None else \
                    split_gram_distance(features[name], gram, split, target)
                style = style + region.weight * self.layer_weights[name] * distance
        terms["style"] = p.style_weight * style
        if p.tv_weight:
            terms["tv"] = p.tv_weight * total_variation(image)
        for anchor in self.anchors:
            loss = weighted_pixel_loss(image, anchor.target, anchor.confidence,
                                       anchor.fine_weight)
            terms[anchor.name] = terms.get(anchor.name, image.new_zeros(())) + anchor.weight * loss
        return terms

    def __call__(self, image: Tensor) -> Tensor:
        return torch.stack(list(self.terms(image).values())).sum()
