"""Colour preservation (Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer")."""

from __future__ import annotations

import numpy as np
from skimage import color, exposure


def match_colors(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Colour histogram matching, per channel: ``image`` re-coloured with the colours of
    ``reference`` (RGB pixels, ``(..., 3)``, as many dimensions as ``image``)."""
    matched = exposure.match_histograms(image, reference, channel_axis=-1)
    return np.clip(matched, 0, 255).round().astype(np.uint8)


def keep_content_chroma(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Luminance-only transfer: the stylized luminance with the content's chroma (YIQ)."""
    y = color.rgb2yiq(stylized)[..., 0]
    iq = color.rgb2yiq(content)[..., 1:]
    rgb = color.yiq2rgb(np.concatenate([y[..., None], iq], axis=-1))
    return np.clip(rgb * 255.0, 0, 255).round().astype(np.uint8)
