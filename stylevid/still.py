"""Still-image pipeline: read files, stylize with the engine, preserve colours, write."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .color import keep_content_chroma, match_style_colors
from .config import StyleParams
from .engine import ProgressFn, Region, StyleImage, Stylizer
from .errors import UserError
from .fsutil import check_writable
from .imageio import read_image, resize_longest, to_array, write_image


@dataclass(frozen=True)
class StyleSpec:
    """A style file with its blend weight and, optionally, a mask of the part to use."""

    path: str
    weight: float = 1.0
    mask: str | None = None


def load_styles(specs: Sequence[StyleSpec], content: np.ndarray,
                params: StyleParams) -> tuple[StyleImage, ...]:
    """Read the style pictures; with ``preserve_colors=histogram`` re-colour them like the
    content first."""
    if not specs:
        raise UserError("give at least one --style image")
    if any(spec.weight < 0 for spec in specs) or sum(spec.weight for spec in specs) <= 0:
        raise UserError("style weights must be non-negative and not all zero")
    styles = []
    for spec in specs:
        picture = read_image(spec.path)
        if params.preserve_colors == "histogram":
            picture = match_style_colors(picture, content)
        mask = _style_mask(spec.mask, picture) if spec.mask else None
        styles.append(StyleImage(picture, spec.weight, mask))
    return tuple(styles)


def _style_mask(path: str, picture: np.ndarray) -> np.ndarray:
    """Binary mask (label 1 = the part to use) at the style picture's size."""
    from .masks import fit_labels, read_labels

    labels, _ = read_labels(path)
    fitted = fit_labels(labels, *picture.shape[:2], source=path)
    if not fitted.any():
        raise UserError(f"style mask {path} selects nothing (no white pixels)")
    return (fitted == 1).astype(np.float32)


def finish(stylized: torch.Tensor, content: np.ndarray, params: StyleParams) -> np.ndarray:
    """Tensor result -> RGB uint8, with luminance-only transfer when asked."""
    image = to_array(stylized)
    if params.preserve_colors == "luminance":
        image = keep_content_chroma(image, content)
    return image


def stylize_still(
    content_path: str,
    regions_for: Callable[[np.ndarray], Sequence[Region]],
    output: Path,
    params: StyleParams,
    device: torch.device,
    on_step: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stylize one picture and write it atomically; returns (content, result) as RGB uint8.

    ``regions_for(content)`` builds the regions (one whole-image region for plain transfer)
    from the content at its output size.
    """
    check_writable(output)
    content = resize_longest(read_image(content_path), params.size)
    regions = regions_for(content)
    stylizer = Stylizer(params, device)
    result = stylizer.stylize(content, regions, on_step=on_step)
    image = finish(result.image, content, params)
    write_image(output, image)
    return content, image
