"""Temporal consistency (Ruder, Dosovitskiy & Brox 2016) and its measurement (Lai et al. 2018).

Notation of Ruder et al.: for frames i-1 -> i, ``w`` is the forward flow (i-1 to i) and
``ŵ`` the backward flow (i to i-1); the previous stylized frame warped to frame i is
``ω(x) = x_{i-1}(x + ŵ(x))``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .flow import warp

# Ruder et al.'s consistencyChecker (artistic-videos): derivatives with the 3-tap central
# difference [-1/2, 0, 1/2], the final reliability map smoothed with a normalised Gaussian of
# sigma 0.8 and 2*ceil(2*0.8)+1 = 5 taps; both filters mirror the border (x[-1] = x[0]).
_DERIVATIVE = np.array([[-0.5, 0.0, 0.5]], np.float32)
_SMOOTH_SIGMA, _SMOOTH_TAPS = 0.8, 5


def _bilinear(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``field`` (H, W, C) at real positions (x, y) with exact bilinear weights; positions
    must have all four neighbours inside (cv2.remap rounds its weights to 1/32)."""
    x0, y0 = np.floor(x).astype(np.intp), np.floor(y).astype(np.intp)
    ax, ay = (x - x0)[..., None], (y - y0)[..., None]
    top = (1 - ax) * field[y0, x0] + ax * field[y0, x0 + 1]
    bottom = (1 - ax) * field[y0 + 1, x0] + ax * field[y0 + 1, x0 + 1]
    return (1 - ay) * top + ay * bottom


def beyond_source(flow: np.ndarray) -> np.ndarray:
    """Pixels x whose source position x + flow(x) has not all four bilinear neighbours
    inside the source frame (H, W) bool: the strip a camera move brings into view, and with
    any flow the last row and column (Ruder's rule 1, see :func:`reliability`)."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    bx, by = xs + flow[..., 0], ys + flow[..., 1]
    return ~((bx >= 0) & (np.floor(bx) + 1 < w) & (by >= 0) & (np.floor(by) + 1 < h))


def reliability(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s unsmoothed reliability of each pixel of frame i, (H, W) float32.

    Computed as their ``consistencyChecker`` does, with ``backward`` = ŵ (frame i to i-1)
    and ``forward`` = w (frame i-1 to i), on the raw (unsmoothed) flows. Every pixel starts
    at 1; then, first rule that applies:

    1. ``x + ŵ(x)`` has not all four bilinear neighbours inside frame i-1: 0 (so the last
       row and column are always 0);
    2. the forward-backward check fails, ``|w̃ + ŵ|² >= 0.01 (|w̃|² + |ŵ|²) + 0.5`` with
       ``w̃(x) = w(x + ŵ(x))`` (bilinear): -1, so that smoothing spreads occlusions outwards;
    3. a motion boundary, ``|∂x ŵ|² + |∂y ŵ|² > 0.01 |ŵ|² + 0.002``: 0.
    """
    h, w = backward.shape[:2]
    backward = backward.astype(np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    bx, by = xs + backward[..., 0], ys + backward[..., 1]
    outside = beyond_source(backward)
    inside = ~outside
    forward_at = np.zeros_like(backward)
    forward_at[inside] = _bilinear(forward.astype(np.float32), bx[inside], by[inside])
    b2 = (backward**2).sum(-1)
    disoccluded = ((forward_at + backward) ** 2).sum(-1) >= \
        0.01 * (b2 + (forward_at**2).sum(-1)) + 0.5
    edge = np.zeros((h, w), np.float32)
    for channel in range(2):
        flow = np.ascontiguousarray(backward[..., channel])
        dx = cv2.filter2D(flow, -1, _DERIVATIVE, borderType=cv2.BORDER_REFLECT)
        dy = cv2.filter2D(flow, -1, _DERIVATIVE.T, borderType=cv2.BORDER_REFLECT)
        edge += dx**2 + dy**2
    boundary = edge > 0.01 * b2 + 0.002
    reliable = np.ones((h, w), np.float32)
    reliable[boundary] = 0.0
    reliable[disoccluded] = -1.0
    reliable[outside] = 0.0
    return reliable


def consistency_weights(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s consistency weights c of frame i, (H, W) float32 in [0, 1]: the
    :func:`reliability` map smoothed with their Gaussian and clipped to [0, 1], as their
    checker writes it (used as it is, not thresholded, by the temporal loss)."""
    smoothed = cv2.GaussianBlur(reliability(backward, forward), (_SMOOTH_TAPS, _SMOOTH_TAPS),
                                _SMOOTH_SIGMA, borderType=cv2.BORDER_REFLECT)
    return np.clip(smoothed, 0.0, 1.0)


def content_agrees(target: np.ndarray, carried_source: np.ndarray, flow: np.ndarray,
                   tolerance: float) -> np.ndarray:
    """Pixels of the target frame whose content the source frame shows at the flow's
    position: the mean absolute RGB difference between ``target`` and the source's content
    carried here along ``flow`` (``carried_source``, uint8) is at most ``tolerance`` (of
    255), and the source position lies inside the source frame. (H, W) bool.

    Where the flow is right, the source frame's content carried along it is the target's
    own picture; where it points at an occluder (a disocclusion) or is wrong, it differs."""
    difference = np.abs(target.astype(np.int16) - carried_source.astype(np.int16)).mean(-1)
    return (difference <= tolerance) & ~beyond_source(flow)


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
