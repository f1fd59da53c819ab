"""Sketch colouring: regional style transfer from a reference picture onto a line drawing.

The sketch and the reference are each split in two (foreground / background), the
regions are matched by their statistics, each sketch region takes the style of its match,
and the sketch's lines are drawn over the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from .engine import Region, StyleImage
from .masks import segment

_LINE_THRESHOLD = 128


@dataclass(frozen=True)
class RegionStats:
    """Shape statistics of a region, all scale-free: area fraction, compactness
    (perimeter² / 4π·area), centre of mass and the share of the picture border it touches."""

    area: float
    compactness: float
    centre: tuple[float, float]
    border: float

    def vector(self) -> np.ndarray:
        return np.array([self.area, min(self.compactness, 10.0) / 10.0, *self.centre,
                         self.border])


def line_mask(sketch: np.ndarray) -> np.ndarray:
    """Darkness of the sketch's lines in [0, 1] (1 = full line)."""
    grey = cv2.cvtColor(sketch, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.clip((255.0 - grey) / 255.0, 0.0, 1.0)


def sketch_foreground(sketch: np.ndarray) -> np.ndarray:
    """Foreground of a line drawing: everything enclosed by its lines (small gaps closed)."""
    lines = line_mask(sketch) > (1 - _LINE_THRESHOLD / 255)
    size = max(3, round(max(sketch.shape[:2]) / 100)) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    closed = cv2.morphologyEx(lines.astype(np.uint8), cv2.MORPH_CLOSE, kernel).astype(bool)
    return ndimage.binary_fill_holes(closed)


def reference_foreground(picture: np.ndarray, seed: int = 0) -> np.ndarray:
    """Two-level segmentation of a picture; the part touching the border less is foreground."""
    labels = segment(picture, 2, seed=seed)
    border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    touching = [np.mean(border == k) for k in (0, 1)]
    return labels == int(np.argmin(touching))


def region_stats(mask: np.ndarray) -> RegionStats:
    """Statistics of a boolean region."""
    h, w = mask.shape
    area = float(mask.mean())
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    compactness = perimeter**2 / (4 * np.pi * max(mask.sum(), 1))
    ys, xs = np.nonzero(mask)
    centre = (float(ys.mean() / h), float(xs.mean() / w)) if ys.size else (0.5, 0.5)
    border = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]]).mean()
    return RegionStats(area, float(compactness), centre, float(border))


def match_regions(sources: list[np.ndarray], targets: list[np.ndarray]) -> list[int]:
    """For each source region, the index of the target region with the closest statistics
    (a one-to-one assignment minimising the total distance)."""
    a = np.stack([region_stats(m).vector() for m in sources])
    b = np.stack([region_stats(m).vector() for m in targets])
    cost = np.linalg.norm(a[:, None] - b[None], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    return [int(c) for _, c in sorted(zip(rows, cols, strict=True))]


def colorize_regions(sketch: np.ndarray, reference: np.ndarray,
                     seed: int = 0) -> tuple[list[Region], np.ndarray]:
    """Regions of the sketch, each styled by its matching part of the reference; and the
    sketch's label map (0 = background, 1 = foreground)."""
    fg = sketch_foreground(sketch)
    ref_fg = reference_foreground(reference, seed)
    sketch_parts = [~fg, fg]
    reference_parts = [~ref_fg, ref_fg]
    matches = match_regions(sketch_parts, reference_parts)
    regions = []
    for part, match in zip(sketch_parts, matches, strict=True):
        style = StyleImage(reference, 1.0, reference_parts[match].astype(np.float32))
        soft = cv2.GaussianBlur(part.astype(np.float32), (3, 3), 0)
        regions.append(Region(soft, (style,)))
    return regions, fg.astype(np.int32)


def flat_colours(regions: list[Region], shape: tuple[int, int]) -> np.ndarray:
    """Each region filled with the mean colour of its part of the reference: the starting
    point of the optimisation (RGB uint8)."""
    out = np.zeros((*shape, 3), np.float32)
    for region in regions:
        style = region.styles[0]
        assert region.mask is not None and style.mask is not None
        weights = style.mask[..., None]
        mean = (style.image * weights).sum((0, 1)) / max(float(weights.sum()), 1.0)
        out += region.mask[..., None] * mean
    return np.clip(out, 0, 255).round().astype(np.uint8)


def overlay_lines(image: np.ndarray, sketch: np.ndarray) -> np.ndarray:
    """Draw the sketch's lines over a coloured picture ("multiply" blending, as line art is
    inked over colour: white paper leaves the colour, a black line stays black)."""
    paper = cv2.cvtColor(sketch, cv2.COLOR_RGB2GRAY)[..., None].astype(np.float32) / 255.0
    return np.clip(image.astype(np.float32) * paper, 0, 255).round().astype(np.uint8)
