"""From masks and ``--region LABEL=STYLE`` mappings to the engine's regions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import StyleParams
from .engine import Region, StyleImage
from .errors import UserError
from .imageio import SKIMAGE_PREFIX, write_image
from .masks import fit_labels, label_colours, read_binary_masks, read_labels, segment, soft_masks
from .still import StyleSpec, load_styles

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


def build_regions(
    content: np.ndarray,
    params: StyleParams,
    styles: Sequence[StyleSpec],
    *,
    masks: Sequence[str] = (),
    rules: Sequence[str] = (),
    style_masks: Sequence[str] = (),
    segments: int | None = None,
    labels_out: Path | None = None,
) -> tuple[list[Region], np.ndarray | None]:
    """The regions asked for, and the label map at content size (None without masks).

    Without masks or segmentation this is one whole-image region with ``styles``. With
    ``segments`` the automatic label map is written to ``labels_out`` for the user to see.
    ``style_masks`` (``LABEL=MASK``) take a region's style only from part of its picture.
    """
    if not masks and not segments:
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
