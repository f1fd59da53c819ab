"""Region masks: label images (integer or colour-coded), binary masks, automatic segmentation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import UserError
from .imageio import read_image

# Colours that cover less than this fraction of a colour-coded map are anti-aliasing.
_MIN_COLOUR_FRACTION = 0.002
_MAX_LABELS = 64


def _grey_or_none(rgb: np.ndarray) -> np.ndarray | None:
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
        return rgb[..., 0]
    return None


@dataclass(frozen=True)
class LabelPalette:
    """How a label map's pixels become labels: ``binary`` (grey, thresholded at 128),
    ``grey`` (grey values are the labels) or ``colour`` (the nearest of ``colours``)."""

    kind: str
    names: tuple[str, ...]
    colours: np.ndarray | None = None  # (K, 3) uint8, for "colour"


def _packed(rgb: np.ndarray) -> np.ndarray:
    flat = rgb.reshape(-1, 3).astype(np.uint32)
    return (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]


def label_palette(maps: Iterable[np.ndarray]) -> LabelPalette:
    """The palette of one label map or of every frame of a mask video together, so a label
    keeps its number (and its style) in the frames where another label is missing.

    Grey maps with few values are integer labels (a 0/255 map becomes 0/1; a JPEG
    mask is thresholded at 128). Colour maps are snapped to their main colours (anti-aliased
    edges join the nearest one) and labels are named by hex colour, e.g. ``ff0000``.
    """
    all_grey, greys = True, np.zeros(0, np.uint8)
    colours, counts = np.zeros(0, np.uint32), np.zeros(0, np.int64)
    for rgb in maps:
        grey = _grey_or_none(rgb) if all_grey else None
        all_grey = grey is not None
        if grey is not None:
            greys = np.union1d(greys, np.unique(grey))
        values, frame_counts = np.unique(_packed(rgb), return_counts=True)
        colours, where = np.unique(np.concatenate([colours, values]), return_inverse=True)
        counts = np.bincount(where, np.concatenate([counts, frame_counts])).astype(np.int64)
    if all_grey and len(greys):
        if len(greys) > _MAX_LABELS or set(greys.tolist()) <= {0, 255}:
            return LabelPalette("binary", ("0", "1"))
        return LabelPalette("grey", tuple(str(v) for v in range(int(greys.max()) + 1)))
    main = colours[counts >= _MIN_COLOUR_FRACTION * counts.sum()]
    if len(main) > _MAX_LABELS:
        raise UserError(f"the colour-coded mask has {len(main)} main colours; "
                        f"at most {_MAX_LABELS} regions are supported")
    rgb_main = np.stack([(main >> 16) & 255, (main >> 8) & 255, main & 255], 1).astype(np.uint8)
    return LabelPalette("colour", tuple("{:02x}{:02x}{:02x}".format(*c) for c in rgb_main),
                        rgb_main)


def apply_palette(rgb: np.ndarray, palette: LabelPalette) -> np.ndarray:
    """Label map (H, W) int32 of ``rgb`` by ``palette``."""
    if palette.kind == "binary":
        return (rgb[..., 0] >= 128).astype(np.int32)
    if palette.kind == "grey":
        return rgb[..., 0].astype(np.int32)
    assert palette.colours is not None
    distance = ((rgb[:, :, None, :].astype(np.int32)
                 - palette.colours[None, None].astype(np.int32)) ** 2)
    return distance.sum(-1).argmin(-1).astype(np.int32)


def labels_from_rgb(rgb: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Label map (H, W) int and the label names of one map (see :func:`label_palette`)."""
    palette = label_palette([rgb])
    return apply_palette(rgb, palette), list(palette.names)


def read_labels(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """Read a label image file (see :func:`labels_from_rgb`)."""
    return labels_from_rgb(read_image(path))


def read_binary_masks(paths: list[str]) -> tuple[np.ndarray, list[str]]:
    """One binary mask per region -> labels 1..N (0 where no mask is on)."""
    labels: np.ndarray | None = None
    for index, path in enumerate(paths, start=1):
        grey = read_image(path)[..., 0]
        if labels is None:
            labels = np.zeros(grey.shape, np.int32)
        elif grey.shape != labels.shape:
            raise UserError(f"mask {path} is {grey.shape[1]}x{grey.shape[0]}, the first mask is "
                            f"{labels.shape[1]}x{labels.shape[0]}")
        labels[grey >= 128] = index
    assert labels is not None
    return labels, [str(i) for i in range(len(paths) + 1)]


def fit_labels(labels: np.ndarray, height: int, width: int, *, source: str) -> np.ndarray:
    """Resize a label map to (H, W) by nearest neighbour; a different aspect ratio is an error."""
    h, w = labels.shape
    if abs((w / h) / (width / height) - 1) > 0.02:
        raise UserError(f"{source} is {w}x{h} but the content is {width}x{height}: "
                        "the aspect ratios differ")
    return cv2.resize(labels.astype(np.float32), (width, height),
                      interpolation=cv2.INTER_NEAREST).astype(np.int32)


def soft_masks(labels: np.ndarray, count: int) -> list[np.ndarray]:
    """One float mask per label (0..count-1) with a one-pixel soft edge against seams."""
    masks = []
    for label in range(count):
        mask = (labels == label).astype(np.float32)
        masks.append(cv2.GaussianBlur(mask, (3, 3), 0))
    total = np.maximum(np.sum(masks, axis=0), 1e-6)
    return [m / total for m in masks]


def segment(image: np.ndarray, regions: int, *, seed: int = 0) -> np.ndarray:
    """Automatic segmentation into ``regions`` colour-coherent parts.

    SLIC superpixels (scikit-image) are grouped by their mean Lab colour and position with
    k-means (OpenCV); labels are ordered by area, largest first.
    """
    from skimage.color import rgb2lab
    from skimage.segmentation import slic

    superpixels = slic(image, n_segments=max(50, regions * 40), compactness=10, start_label=0)
    lab = rgb2lab(image)
    h, w = superpixels.shape
    ys, xs = np.mgrid[0:h, 0:w]
    n = superpixels.max() + 1
    counts = np.bincount(superpixels.ravel(), minlength=n).astype(np.float64)
    channels = (lab[..., 0], lab[..., 1], lab[..., 2], ys * 50.0 / h, xs * 50.0 / w)
    features = [np.bincount(superpixels.ravel(), weights=channel.ravel(), minlength=n) / counts
                for channel in channels]
    data = np.stack(features, axis=1).astype(np.float32)
    k = min(regions, n)
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-3)
    _, cluster, _ = cv2.kmeans(  # type: ignore[call-overload, unused-ignore]
        data, k, None, criteria, 5, cv2.KMEANS_PP_CENTERS)
    labels = cluster.ravel()[superpixels]
    order = np.argsort(-np.bincount(labels.ravel(), minlength=k))
    return np.argsort(order)[labels].astype(np.int32)


def label_colours(labels: np.ndarray) -> np.ndarray:
    """A colour picture of a label map (for saving and previews)."""
    palette = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200],
                        [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230],
                        [210, 245, 60], [250, 190, 190], [0, 128, 128], [170, 110, 40]],
                       dtype=np.uint8)
    return palette[labels % len(palette)]
