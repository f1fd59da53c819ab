"""Loss functions of neural style transfer, as pure functions of tensors.

Shapes: features (B, C, H, W); guides (B or 1, 1, H, W) with values in [0, 1];
images (B, 3, H, W) in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

_EPS = 1e-8
# split_gram_distance derives the held part's Gram matrix by a subtraction; below this share
# of the region the difference would be mostly rounding, and the region is taken as fresh.
_HELD_SHARE = 1e-3


class _SelfProduct(torch.autograd.Function):
    """``XᵀX`` for X (B, M, C), with the one-product gradient ``X (dG + dGᵀ)``.

    Autograd's own gradient of ``x.mT @ x`` takes two products and a sum of two (B, M, C)
    tensors; for the large early feature maps that is a third of an iteration's Gram cost.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x.mT @ x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        sym = grad + grad.mT
        if x.mT.is_contiguous():  # X is a transposed view: answer in the same layout
            return (sym @ x.mT).mT
        return x @ sym


def _flat(features: Tensor) -> Tensor:
    """(B, H·W, C): a view of channels-last features, a transposed view of channels-first
    ones (nothing is copied)."""
    b, c, h, w = features.shape
    if features.is_contiguous(memory_format=torch.channels_last):
        return features.permute(0, 2, 3, 1).reshape(b, h * w, c)
    return features.reshape(b, c, h * w).mT


def gram_matrix(features: Tensor, guide: Tensor | None = None) -> Tensor:
    """Gram matrix normalised by the spatial mass: (B, C, C).

    Without a guide this is ``F Fᵀ / (H·W)``. With a guide it is the guided Gram matrix of
    Gatys et al. 2017 (Controlling Perceptual Factors): ``(F∘T)(F∘T)ᵀ / Σ T²``.
    The product runs in the features' own memory layout (channels-first or channels-last),
    so neither it nor its gradient copies the large early feature maps.
    """
    b, c, h, w = features.shape
    flat = _flat(features)
    mass: Tensor | float = float(h * w)
    if guide is not None:
        g = guide.reshape(guide.shape[0], h * w, 1)
        flat = flat * g
        mass = (g * g).sum(dim=(1, 2)).clamp_min(_EPS).view(-1, 1, 1)
    return _SelfProduct.apply(flat) / mass


def gram_distance(gram: Tensor, target: Tensor) -> Tensor:
    """Gatys et al. 2016 layer style loss ``Σ(G-A)² / (4 N²)`` with mass-normalised Grams.

    With the Gram normalised by M = H·W this equals the paper's ``Σ(G-A)² / (4 N² M²)``.
    Returns the mean over the batch.
    """
    channels = gram.shape[-1]
    return ((gram - target) ** 2).sum(dim=(-2, -1)).mean() / (4.0 * channels**2)


@dataclass(frozen=True)
class GramSplit:
    """The fresh part of a region at one layer (see :func:`gram_split`)."""

    positions: Tensor  # (K,) flat positions with fresh weight > 0
    roots: Tensor  # (1, K, 1) square roots of their weights over the fresh part's total
    fresh_share: float  # the fresh part's share of the region's weight, in (0, 1)


def gram_split(guide: Tensor | None, fresh: Tensor) -> GramSplit | None:
    """How a region (``guide`` as in :func:`gram_matrix`, None: the whole map) splits into
    held and fresh positions: weights ``r = guide²`` (1 without a guide), of which
    ``r·fresh`` are fresh (``fresh`` (1, 1, H, W) in [0, 1]). None when nothing is fresh or
    next to nothing is held: the split loss is then the plain one."""
    flat_fresh = fresh.reshape(-1)
    region = guide.reshape(-1) ** 2 if guide is not None else torch.ones_like(flat_fresh)
    weights = region * flat_fresh
    total, mass = float(region.sum()), float(weights.sum())
    if not 0.0 < mass < (1.0 - _HELD_SHARE) * total:
        return None
    positions = torch.nonzero(weights > 0).squeeze(1)
    return GramSplit(positions, (weights[positions] / mass).sqrt().view(1, -1, 1), mass / total)


def split_gram_distance(features: Tensor, gram: Tensor, split: GramSplit,
                        target: Tensor) -> Tensor:
    """The style loss of a region split between its held and its fresh positions.

    ``gram`` is the region's ``gram_matrix(features, guide)``. The Gram matrix of each part
    (``Σ w f fᵀ / Σ w`` over its weights w) is compared with the target on its own
    (:func:`gram_distance`), and the two distances are weighted by the parts' shares of the
    region's weight. The fresh part's is taken over its positions only (a later frame's
    fresh pixels are a few percent of it), the held part's follows from the region's,
    exactly: ``Σ r f fᵀ = Σ r·fresh f fᵀ + Σ r·(1 - fresh) f fᵀ``.
    """
    channels = features.shape[1]
    fresh_gram = _SelfProduct.apply(_flat(features)[:, split.positions] * split.roots)
    # With D = G - A (the region's deviation), E = G_fresh - A and s the fresh share, the
    # held part's deviation is (D - s E) / (1 - s): the weighted sum of the two parts'
    # squared deviations is |D - s E|² / (1 - s) + s |E|².
    share = split.fresh_share
    region_off, fresh_off = gram - target, fresh_gram - target
    held_off = torch.add(region_off, fresh_off, alpha=-share)
    squares = (torch.linalg.vector_norm(held_off, dim=(-2, -1)) ** 2 / (1.0 - share)
               + torch.linalg.vector_norm(fresh_off, dim=(-2, -1)) ** 2 * share)
    return squares.mean() / (4.0 * channels**2)


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    """Mean squared difference of feature maps (size-independent form of Gatys' ½Σ(F-P)²)."""
    return F.mse_loss(features, target)


def total_variation(image: Tensor) -> Tensor:
    """Squared total variation, mean over horizontal plus mean over vertical neighbours."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return (dx**2).mean() + (dy**2).mean()


_BINOMIAL = (0.25, 0.5, 0.25)


def binomial_blur(image: Tensor) -> Tensor:
    """3x3 binomial low-pass ``[1 2 1]ᵀ[1 2 1] / 16`` per channel, edges mirrored. It passes a
    constant unchanged and removes a pixel checkerboard (the Nyquist frequency) exactly."""
    channels = image.shape[1]
    k = image.new_tensor(_BINOMIAL)
    padded = F.pad(image, (1, 1, 1, 1), mode="reflect")
    rows = F.conv2d(padded, k.view(1, 1, 1, 3).expand(channels, 1, 1, 3), groups=channels)
    return F.conv2d(rows, k.view(1, 1, 3, 1).expand(channels, 1, 3, 1), groups=channels)


def weighted_pixel_loss(image: Tensor, target: Tensor, weight: Tensor,
                        fine_weight: float = 1.0) -> Tensor:
    """Ruder et al. temporal loss ``1/D Σ c (x - ω)²`` (D = pixels × channels).

    ``weight`` (B or 1, 1, H, W) is the per-pixel confidence c; the same form anchors
    "keep" regions to the content photo. With ``fine_weight`` β < 1 the finest detail of the
    difference is held more lightly: ``1/D Σ c [β (x - ω)² + (1 - β) (B(x - ω))²]`` with B
    the binomial blur, so a difference at the Nyquist frequency costs β times as much and a
    smooth one as much as before.
    """
    difference = image - target
    if fine_weight >= 1.0:
        return (weight * difference**2).mean()
    blurred = binomial_blur(difference)
    return (weight * (fine_weight * difference**2 + (1.0 - fine_weight) * blurred**2)).mean()
