"""Loss functions of neural style transfer, as pure functions of tensors.

Shapes: features (B, C, H, W); guides (B or 1, 1, H, W) with values in [0, 1];
images (B, 3, H, W) in [0, 1].
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

_EPS = 1e-8


def gram_matrix(features: Tensor, guide: Tensor | None = None) -> Tensor:
    """Gram matrix normalised by the spatial mass: (B, C, C).

    Without a guide this is ``F Fᵀ / (H·W)``. With a guide it is the guided Gram matrix of
    Gatys et al. 2017 (Controlling Perceptual Factors): ``(F∘T)(F∘T)ᵀ / Σ T²``.
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    if guide is None:
        return flat @ flat.transpose(1, 2) / (h * w)
    g = guide.reshape(guide.shape[0], 1, h * w)
    weighted = flat * g
    mass = (g * g).sum(dim=2, keepdim=True).clamp_min(_EPS)
    return weighted @ weighted.transpose(1, 2) / mass


def gram_distance(gram: Tensor, target: Tensor) -> Tensor:
    """Gatys et al. 2016 layer style loss ``Σ(G-A)² / (4 N²)`` with mass-normalised Grams.

    With the Gram normalised by M = H·W this equals the paper's ``Σ(G-A)² / (4 N² M²)``.
    Returns the mean over the batch.
    """
    channels = gram.shape[-1]
    return ((gram - target) ** 2).sum(dim=(-2, -1)).mean() / (4.0 * channels**2)


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    """Mean squared difference of feature maps (size-independent form of Gatys' ½Σ(F-P)²)."""
    return F.mse_loss(features, target)


def total_variation(image: Tensor) -> Tensor:
    """Squared total variation, mean over horizontal plus mean over vertical neighbours."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return (dx**2).mean() + (dy**2).mean()


def weighted_pixel_loss(image: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Ruder et al. temporal loss ``1/D Σ c (x - ω)²`` (D = pixels × channels).

    ``weight`` (B or 1, 1, H, W) is the per-pixel confidence c; the same form anchors
    "keep" regions to the content photo.
    """
    return (weight * (image - target) ** 2).mean()
