"""Temporal consistency (Ruder, Dosovitskiy & Brox 2016) and its measurement (Lai et al. 2018).

Notation of Ruder et al.: for frames i-1 -> i, ``w`` is the forward flow (i-1 to i) and
``ŵ`` the backward flow (i to i-1); the previous stylized frame warped to frame i is
``ω(x) = x_{i-1}(x + ŵ(x))``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .flow import sample_grid, warp

# Ruder et al.'s consistencyChecker smooths the flow (Gaussian, sigma 0.8) before taking the
# derivatives of the motion-boundary test.
_SMOOTH_SIGMA = 0.8


def consistency_weights(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Per-pixel weights c in {0, 1} for frame i (H, W) float32.

    0 where (a) the forward-backward check fails,
    ``|w̃ + ŵ|² > 0.01 (|w̃|² + |ŵ|²) + 0.5`` with ``w̃(x) = w(x + ŵ(x))``; (b) a motion
    boundary, ``|∇û|² + |∇v̂|² > 0.01 |ŵ|² + 0.002``; (c) ``x + ŵ(x)`` leaves the frame.
    """
    h, w = backward.shape[:2]
    map_x, map_y = sample_grid(backward)
    forward_at = cv2.remap(forward, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    b2 = (backward**2).sum(-1)
    f2 = (forward_at**2).sum(-1)
    disoccluded = ((forward_at + backward) ** 2).sum(-1) > 0.01 * (f2 + b2) + 0.5
    smooth = cv2.GaussianBlur(backward, (0, 0), _SMOOTH_SIGMA)
    gradient = np.zeros((h, w), np.float32)
    for channel in range(2):
        gy, gx = np.gradient(smooth[..., channel])
        gradient += gx**2 + gy**2
    boundary = gradient > 0.01 * b2 + 0.002
    outside = (map_x < 0) | (map_x > w - 1) | (map_y < 0) | (map_y > h - 1)
    return (~(disoccluded | boundary | outside)).astype(np.float32)


def long_term_weights(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Ruder's long-term combination for frames J = (1, 2, 4, ...) back, closest first:
    ``c_j = max(c_j - Σ_{k<j} c_k, 0)``, so each pixel is pulled by its nearest consistent
    earlier frame only."""
    combined, used = [], np.zeros_like(weights[0])
    for weight in weights:
        combined.append(np.maximum(weight - used, 0.0))
        used = used + weight
    return combined


def consistent_fraction(weights: np.ndarray) -> float:
    """Fraction of pixels whose motion is consistent (drops towards 0 at a scene cut)."""
    return float(weights.mean())


def warping_error(frames: Sequence[np.ndarray], backward_flows: Sequence[np.ndarray],
                  masks: Sequence[np.ndarray]) -> float:
    """Lai et al. 2018 warping error of a video: for t >= 1, the masked mean squared
    difference between frame t and frame t-1 warped by the flow, pixels in [0, 1],
    averaged over all frame pairs.

    ``backward_flows[t-1]`` and ``masks[t-1]`` belong to the pair (t-1, t).
    """
    errors = []
    for t in range(1, len(frames)):
        current = frames[t].astype(np.float64) / 255.0
        previous = warp(frames[t - 1], backward_flows[t - 1]).astype(np.float64) / 255.0
        mask = masks[t - 1].astype(np.float64)
        squared = ((current - previous) ** 2).sum(-1)
        errors.append((mask * squared).sum() / max(mask.sum(), 1.0))
    return float(np.mean(errors)) if errors else 0.0


def fill_holes(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Fill pixels with weight 0 (disoccluded, out of frame) from their surroundings, so a
    warped frame makes a sensible starting point for the next optimisation."""
    holes = (weights < 0.5).astype(np.uint8)
    if not holes.any():
        return image
    return cv2.inpaint(image, holes, 3, cv2.INPAINT_TELEA)
