"""Regions for every frame of a video: a mask video or folder, or one mask carried along
the optical flow."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from .config import RegionSpec, RenderOptions, StyleParams, StyleSpec
from .engine import Region
from .errors import UserError
from .flow import compute_flow, sample_grid
from .imageio import check_image_source
from .masks import apply_palette, fit_labels, label_palette, read_labels, segment
from .regions import KEEP, build_regions, map_regions, parse_rule, styles_by_label
from .render import RegionsFn, expected_frames
from .video import FRAME_SUFFIXES, VideoInfo, probe, read_frames
from .workdir import file_digest


def propagate_labels(labels: np.ndarray, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Carry a label map from the previous frame to the current one along the flow."""
    backward = compute_flow(current, previous)
    map_x, map_y = sample_grid(backward)
    return cv2.remap(labels.astype(np.float32), map_x, map_y, interpolation=cv2.INTER_NEAREST,
                     borderMode=cv2.BORDER_REPLICATE).astype(np.int32)


class _LabelSequence:
    """Label map of each frame from a mask video/folder, or propagated from the first.

    Propagated labels depend on every frame before, so they are asked for in order; a
    render of several passes keeps them (as uint8, 0.15 MB a frame at 512x288), and its
    later passes ask in any order. Before, those passes held every frame's regions (their
    float masks, 1.8 MB a frame with three labels) and carried the mask along the flow
    through the whole clip a second time."""

    def __init__(self, mask: str | None, segments: int | None, seed: int,
                 options: RenderOptions, clip: VideoInfo | None) -> None:
        self.mask, self.segments, self.seed = mask, segments, seed
        self.options, self.clip = options, clip
        self.per_frame: list[np.ndarray] | None = None
        self.names: list[str] = []
        self.last: tuple[int, np.ndarray, np.ndarray] | None = None
        self.kept: dict[int, np.ndarray] | None = {} if options.passes > 1 else None

    def labels(self, index: int, content: np.ndarray) -> np.ndarray:
        height, width = content.shape[:2]
        if self.mask is not None and _is_sequence(self.mask):
            if self.per_frame is None:
                self.per_frame, self.names = _read_label_sequence(
                    self.mask, width, height, self.options,
                    self.clip.fps if self.clip is not None else None)
            if index >= len(self.per_frame):
                raise UserError(f"mask sequence {self.mask} has {len(self.per_frame)} frames; "
                                f"the video has more")
            return self.per_frame[index]
        if self.kept is not None and index in self.kept:
            return self.kept[index]
        if self.last is None or index != self.last[0] + 1:
            if self.segments:
                labels = segment(content, self.segments, seed=self.seed)
                self.names = [str(i) for i in range(self.segments)]
            else:
                assert self.mask is not None
                raw, self.names = read_labels(self.mask)
                labels = fit_labels(raw, height, width, source=self.mask)
        else:
            labels = propagate_labels(self.last[1], self.last[2], content)
        self.last = (index, labels, content)
        if self.kept is not None:
            self.kept[index] = labels.astype(np.uint8 if len(self.names) <= 256 else np.uint16)
        return labels


def _is_sequence(mask: str) -> bool:
    path = Path(mask)
    return path.is_dir() or (path.is_file() and path.suffix.lower() not in FRAME_SUFFIXES)


def _read_label_sequence(mask: str, width: int, height: int, options: RenderOptions,
                         fps: Fraction | None) -> tuple[list[np.ndarray], list[str]]:
    """Every frame's label map (uint8) by one palette taken over all frames (read twice,
    never all held as pictures): frame by frame, a label missing from a frame renumbered
    the others there, and their styles swapped. The sequence is per frame of the input, so
    it is cut as the render is (``--start``, ``--duration``) at the render's frame rate
    ``fps`` (a folder holds a picture per frame at that rate; a video is decoded at it)."""
    info = probe(mask, fps)

    def frames() -> Iterator[np.ndarray]:
        return read_frames(mask, info, width, height, options.start, options.duration)

    palette = label_palette(frames())
    labels = [apply_palette(frame, palette).astype(np.uint8) for frame in frames()]
    return labels, list(palette.names)


def _check_sequence_length(mask: str, clip: VideoInfo, options: RenderOptions) -> None:
    """Refuse, before any work, a mask sequence with fewer frames than the render (both
    counted from their durations, so one frame of slack)."""
    have = expected_frames(probe(mask, clip.fps), options)
    want = expected_frames(clip, options)
    if have < want - 1:
        cut = " from --start" if options.start else ""
        raise UserError(f"mask sequence {mask} has {have} frames{cut}; the video has {want}")


def regions_source(spec: RegionSpec, styles: Sequence[StyleSpec], params: StyleParams,
                   options: RenderOptions | None = None, clip: VideoInfo | None = None
                   ) -> tuple[RegionsFn, dict]:
    """The per-frame regions of a render and what the manifest must record about them;
    ``options`` (``--start``, ``--duration``) and ``clip``, the input as rendered (its frame
    rate), place a mask sequence's frames; one too short is refused here, before any work."""
    if spec.whole:
        if spec.rules:
            raise UserError("--region needs --mask or --segment")
        for style in styles:  # before the work folder is written
            check_image_source(style.path)
        cache: list[Sequence[Region]] = []

        def whole(_index: int, content: np.ndarray) -> Sequence[Region]:
            if not cache:
                cache.append(build_regions(content, params, styles)[0])
            return cache[0]

        return whole, {}
    if len(spec.masks) > 1:
        raise UserError("for videos give one --mask (label image, mask video or folder)")
    mask = spec.masks[0] if spec.masks else None
    if mask is not None and not Path(mask).exists():
        raise UserError(f"mask not found: {mask}")
    options = options or RenderOptions()
    if mask is not None and clip is not None and _is_sequence(mask):
        _check_sequence_length(mask, clip, options)
    sequence = _LabelSequence(mask, spec.segments, params.seed, options, clip)
    rules = [parse_rule(text) for text in spec.rules]
    if not rules:
        raise UserError("give --region LABEL=STYLE for the mask's labels")
    styles_for: dict[str, tuple] = {}

    def regional(index: int, content: np.ndarray) -> Sequence[Region]:
        labels = sequence.labels(index, content)
        if not styles_for:
            styles_for.update(styles_by_label(rules, spec.style_masks, content, params))
        return map_regions(labels, sequence.names, rules, styles_for)

    extra = {"mask": file_digest(mask) if mask and Path(mask).is_file() else mask,
             "segments": spec.segments,
             "regions": [f"{r.label}={r.style if r.style == KEEP else file_digest(r.style)}"
                         f"@{r.weight:g}" for r in rules],
             "style_masks": [f"{text.partition('=')[0]}={file_digest(text.partition('=')[2])}"
                             for text in spec.style_masks]}
    return regional, extra


def carried_along_flow(spec: RegionSpec) -> bool:
    """Whether a frame's regions depend on every frame before it (one mask or automatic
    segments carried along the flow), not only on the clip's first frame."""
    if spec.whole:
        return False
    return not (spec.masks and _is_sequence(spec.masks[0]))


def from_clip_start(regions_for: RegionsFn, frames_from: Callable[[int], Iterator[np.ndarray]],
                    first: int, carried: bool) -> RegionsFn:
    """``regions_for`` for a render that starts at frame ``first`` (a Ray chunk), answering
    exactly as in a render from the clip's start: it is shown the clip's first frame (colours
    and style targets come from it) and, when regions are ``carried`` along the flow, every
    frame up to the one asked for (``frames_from(k)`` decodes from frame k). Answers from
    ``first`` on are kept, so a frame ahead (the next chunk's keyframe) may be asked first."""
    answers: dict[int, Sequence[Region]] = {}
    shown = [0]  # regions_for has seen frames 0 .. shown[0] - 1

    def show(index: int, content: np.ndarray) -> Sequence[Region]:
        result = answers[index] = regions_for(index, content)
        shown[0] = index + 1
        for old in [k for k in answers if k < first]:
            answers.pop(old)
        return result

    def ask(index: int, content: np.ndarray) -> Sequence[Region]:
        if index in answers:
            return answers[index]
        if carried and index < shown[0]:
            raise ValueError(f"regions of frame {index} asked for after frame {shown[0] - 1}")
        if shown[0] == 0 and index > 0:
            show(0, next(frames_from(0)))
        if carried and shown[0] < index:
            for k, frame in zip(range(shown[0], index), frames_from(shown[0]), strict=False):
                show(k, frame)
        return show(index, content)

    return ask
