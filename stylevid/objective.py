"""The total loss of one optimisation: content + (guided) style + TV + weighted pixel anchors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .config import StyleParams
from .imageio import to_tensor
from .losses import content_loss, gram_distance, gram_matrix, total_variation, weighted_pixel_loss
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


class Objective:
    """Callable total loss of an image (1, 3, H, W); ``terms`` gives the weighted parts."""

    def __init__(
        self,
        encoder: VGG19Encoder,
        params: StyleParams,
        content_targets: dict[str, Tensor],
        regions: list[RegionTarget],
        anchors: list[PixelAnchor] | None = None,
    ) -> None:
        self.encoder = encoder
        self.params = params
        self.content_targets = content_targets
        self.regions = regions
        self.anchors = anchors or []
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
        for region in self.regions:
            for name, target in region.grams.items():
                guide = region.guides[name] if region.guides is not None else None
                gram = gram_matrix(features[name], guide)
                style = style + region.weight * self.layer_weights[name] * gram_distance(
                    gram, target)
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
