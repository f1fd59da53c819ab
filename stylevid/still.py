"""Still-image pipeline: read files, stylize with the engine, preserve colours, write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .color import keep_content_chroma
from .config import RegionSpec, StyleParams, StyleSpec
from .engine import ProgressFn, Stylizer
from .errors import UserError
from .imageio import (
    ALPHA_SUFFIXES,
    check_image_output,
    check_image_source,
    longest_shape,
    read_alpha,
    read_image,
    resize_longest,
    resize_to,
    to_array,
    write_image,
)
from .memory import check_fits
from .regions import build_regions


def finish(stylized: torch.Tensor, content: np.ndarray, params: StyleParams) -> np.ndarray:
    """Tensor result -> RGB uint8, with luminance-only transfer when asked."""
    image = to_array(stylized)
    if params.preserve_colors == "luminance":
        image = keep_content_chroma(image, content)
    return image


@dataclass(frozen=True)
class StillResult:
    content: np.ndarray  # the content at the output size, RGB uint8
    image: np.ndarray  # the stylized picture, RGB uint8
    labels: np.ndarray | None  # the region labels at the output size (None: one region)


def load_at_size(picture: str | Path | np.ndarray, params: StyleParams,
                 device: torch.device) -> np.ndarray:
    """A picture (file, built-in name or RGB array) at the output size, after checking that
    a frame of that size fits in memory (before anything is allocated for it)."""
    image = picture if isinstance(picture, np.ndarray) else read_image(picture)
    height, width = longest_shape(image.shape[0], image.shape[1], params.size)
    check_fits(height, width, params, device.type)
    return resize_longest(image, params.size)


def stylize_still(
    content: str | Path | np.ndarray,
    styles: Sequence[StyleSpec],
    output: str | Path | None,
    params: StyleParams,
    device: torch.device,
    *,
    regions: RegionSpec | None = None,
    on_step: ProgressFn | None = None,
) -> StillResult:
    """Stylize one picture (a file, ``skimage:NAME``, ``builtin:NAME`` or an RGB uint8
    array) and, if ``output`` is given, write it atomically.

    Everything that can fail is checked before the optimisation starts: the output's
    name and folder, the inputs, the memory the size needs. With ``regions.segments``
    the automatic labels are written beside the output (``OUT.regions.png``).
    """
    output = Path(output) if output is not None else None
    if output is not None:
        check_image_output(output)
        if not isinstance(content, np.ndarray) and Path(content).resolve() == output.resolve():
            raise UserError(f"the output {output} would replace the content picture")
    if params.init not in ("content", "noise"):
        check_image_source(params.init)
    resized = load_at_size(content, params, device)
    labels_out = output.with_suffix(".regions.png") if output is not None else None
    parts, labels = build_regions(resized, params, styles, regions, labels_out=labels_out)
    result = Stylizer(params, device).stylize(resized, parts, on_step=on_step)
    image = finish(result.image, resized, params)
    if output is not None:
        write_image(output, _with_content_alpha(image, content, output))
    return StillResult(resized, image, labels)


def _with_content_alpha(image: np.ndarray, content: str | Path | np.ndarray,
                        output: Path) -> np.ndarray:
    """``image`` with the content picture's transparency, where it has some and the output
    format holds it (a logo on a transparent background stays on one)."""
    if isinstance(content, np.ndarray) or output.suffix.lower() not in ALPHA_SUFFIXES:
        return image
    alpha = read_alpha(content)
    if alpha is None:
        return image
    return np.dstack([image, resize_to(alpha, *image.shape[:2])])
