"""From masks and ``--region LABEL=STYLE`` mappings to the engine's regions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .color import match_colors
from .config import RegionSpec, StyleParams, StyleSpec
from .engine import Region, StyleImage
from .errors import UserError
from .imageio import SKIMAGE_PREFIX, read_image, write_image
from .masks import fit_labels, label_colours, read_binary_masks, read_labels, segment, soft_masks

KEEP = "keep"
ANY = "*"


@dataclass(frozen=True)
class RegionRule:
    """``LABEL=STYLE[@WEIGHT]``: the style (or ``keep``) of one label."""

    label: str
    style: str
    weight: float = 1.0


def parse_rule(text: str) -> RegionRule:
    """Parse one ``--region`` value."""
    label, sep, rest = text.partition("=")
    if not sep or not label or not rest:
        raise UserError(
            f"--region {text!r}: expected LABEL=STYLE, LABEL=STYLE@WEIGHT or LABEL=keep")
    style, _, weight_text = rest.rpartition("@") if "@" in rest else (rest, "", "")
    try:
        weight = float(weight_text) if weight_text else 1.0
    except ValueError as exc:
        raise UserError(f"--region {text!r}: weight {weight_text!r} is not a number") from exc
    if weight < 0:
        raise UserError(f"--region {text!r}: weight must be >= 0")
    return RegionRule(label.strip().lower().lstrip("#"), style, weight)


def map_regions(
    labels: np.ndarray,
    names: Sequence[str],
    rules: Sequence[RegionRule],
    styles_for: dict[str, tuple[StyleImage, ...]],
) -> list[Region]:
    """One engine region per label present in ``labels``; every label needs a rule.
    ``styles_for`` gives the styles of each rule's label."""
    by_label = {rule.label: rule for rule in rules}
    unknown = [label for label in by_label if label != ANY and label not in names]
    if unknown:
        raise UserError(f"--region names label(s) {', '.join(unknown)} that the mask does not "
                        f"have; its labels are {', '.join(names)}")
    present = [i for i in range(len(names)) if np.any(labels == i)]
    missing = [names[i] for i in present if names[i] not in by_label and ANY not in by_label]
    if missing:
        raise UserError(f"no --region for label(s) {', '.join(missing)} "
                        f"(use LABEL=style.jpg, LABEL=keep, or *=style.jpg for the rest)")
    masks = soft_masks(labels, len(names))
    regions = []
    for i in present:
        rule = by_label.get(names[i]) or by_label[ANY]
        styles = () if rule.style == KEEP else styles_for[rule.label]
        regions.append(Region(masks[i], styles, rule.weight))
    return regions


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
            picture = match_colors(picture, content)
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


def build_regions(
    content: np.ndarray,
    params: StyleParams,
    styles: Sequence[StyleSpec],
    spec: RegionSpec | None = None,
    *,
    labels_out: Path | None = None,
) -> tuple[list[Region], np.ndarray | None]:
    """The regions asked for, and the label map at content size (None without masks).

    Without masks or segmentation this is one whole-image region with ``styles``. With
    segments the automatic label map is written to ``labels_out`` for the user to see.
    Style masks (``LABEL=MASK``) take a region's style only from part of its picture.
    """
    spec = spec or RegionSpec()
    masks, rules, style_masks, segments = spec.masks, spec.rules, spec.style_masks, \
        spec.segments
    if spec.whole:
        if rules:
            raise UserError("--region needs --mask or --segment")
        return [Region(None, load_styles(styles, content, params))], None
    if masks and segments:
        raise UserError("give either --mask or --segment, not both")
    height, width = content.shape[:2]
    if segments:
        labels = segment(content, segments, seed=params.seed)
        names = [str(i) for i in range(segments)]
        if labels_out is not None:
            write_image(labels_out, label_colours(labels))
    else:
        labels, names = read_labels(masks[0]) if len(masks) == 1 else read_binary_masks(list(masks))
        labels = fit_labels(labels, height, width, source=masks[0])
    parsed = [parse_rule(text) for text in rules]
    if not parsed:
        raise UserError(f"give --region LABEL=STYLE for the mask's labels ({', '.join(names)})")
    return map_regions(labels, names, parsed,
                       styles_by_label(parsed, style_masks, content, params)), labels


def styles_by_label(rules: Sequence[RegionRule], style_masks: Sequence[str],
                    content: np.ndarray, params: StyleParams) -> dict[str, tuple[StyleImage, ...]]:
    """The style pictures of every rule, with their ``--style-mask`` when given."""
    mask_of = {}
    for text in style_masks:
        label, sep, path = text.partition("=")
        if not sep or not path:
            raise UserError(f"--style-mask {text!r}: expected LABEL=MASK")
        if not Path(path).is_file():
            raise UserError(f"style mask not found: {path}")
        mask_of[label.strip().lower().lstrip("#")] = path
    unknown = sorted(set(mask_of) - {rule.label for rule in rules if rule.style != KEEP})
    if unknown:
        raise UserError(f"--style-mask for label(s) {', '.join(unknown)} without a style --region")
    return {
        rule.label: load_styles([style_for_rule(rule.style, mask_of.get(rule.label))], content,
                                params)
        for rule in rules if rule.style != KEEP
    }


def style_for_rule(path: str, mask: str | None = None) -> StyleSpec:
    """The style file named by a --region rule."""
    if not path.startswith(SKIMAGE_PREFIX) and not Path(path).is_file():
        raise UserError(f"style image not found: {path}")
    return StyleSpec(path, mask=mask)


def preview_sheet(content: np.ndarray, labels: np.ndarray, result: np.ndarray) -> np.ndarray:
    """Content, content with the regions overlaid, and the result, side by side."""
    overlay = (0.5 * content + 0.5 * label_colours(labels)).astype(np.uint8)
    return np.hstack([content, overlay, result])
