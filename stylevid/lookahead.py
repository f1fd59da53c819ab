"""Keyframes ahead: the pixels a later frame sees for the first time, painted in advance.

A later frame is held to its predecessor wherever the flow reaches it; the pixels it cannot
reach (the strip a camera move reveals, disocclusions) are optimised while everything else
is held. The style loss is one Gram matrix of the whole frame, which the held pixels nearly
satisfy, so the few free pixels are driven by what the held ones leave over: on a pan they
turned a little greener every frame, whatever they started from (mirrored strokes, the photo,
mirrored strokes recoloured to the frame) and however long they were optimised (150
iterations without early stop), until the whole picture was green.

So every ``interval`` frames the frame that many frames ahead is rendered first: the current
frame carried there along the flow, as a later frame. In this keyframe the pixels new since
the current frame are a large part of the picture and are painted as such. The frames in
between take their new pixels from the keyframe, carried back along the flow: as their start
and, with the temporal loss's weight, as a target. The keyframes are kept in the work folder,
so a resumed render continues with the same ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import RenderOptions
from .imageio import read_image, write_image
from .motion import Motion, MotionCache, carried_along, carried_weights
from .objective import PixelAnchor

# Renders a keyframe: (segment start, keyframe index) -> the keyframe, continuing the start's
# stylized frame (render.VideoRenderer.continued).
RenderKey = Callable[[int, int], np.ndarray]


@dataclass(frozen=True)
class Segment:
    """Frames (start, until] guided by the keyframe at ``end`` (none if it is less than 2
    frames on): ``start`` is rendered; ``until`` is ``end`` before a scene cut, else the next
    grid point (frames past ``end`` there, e.g. those pulled to a Ray chunk's next keyframe,
    get no guide)."""

    start: int
    end: int
    until: int

    def __contains__(self, index: int) -> bool:
        return self.start < index <= self.until


class KeyframesAhead:
    """Guides for the later frames of one range of a clip (frames counted from 0).

    Segments begin on a grid of ``interval`` frames and at scene cuts, and end before the
    next cut or at the last frame ``available`` says exists, so a resumed render plans the
    same segments as an uninterrupted one.
    """

    def __init__(self, folder: Path, cache: MotionCache, options: RenderOptions,
                 frame: Callable[[int], np.ndarray], available: Callable[[int], bool],
                 render_key: RenderKey, device: torch.device) -> None:
        self.folder = folder
        self.cache = cache
        self.options = options
        self.frame = frame  # content frame i (those of the segment being planned)
        self.available = available  # whether the range has frame i
        self.render_key = render_key
        self.device = device
        self.segment: Segment | None = None
        self.key: np.ndarray | None = None  # the segment's keyframe, if it has one
        self.back: list[tuple[int, Motion, np.ndarray]] = []  # the keyframe's way back
        # the keyframe carried back to each frame between (and how reliably), carried when
        # a frame first asks: a Ray keyframe task needs the keyframes only
        self.guides: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def anchors(self, index: int, neighbours: Sequence[tuple[np.ndarray, Motion]]
                ) -> list[PixelAnchor]:
        """The pull of the keyframe ahead on the pixels of frame ``index`` that its
        ``neighbours`` (the stylized frames it is held to) do not reliably show."""
        segment = self._segment_of(index)
        if self.key is not None and not self.guides:
            self.guides[segment.end] = (self.key, np.ones(self.key.shape[:2], np.float32))
            for target, image, weights in carried_along(self.key, self.back):
                self.guides[target] = (image, weights)
            self.back = []  # the flows: no longer needed (memory, at large frames)
        if index not in self.guides:
            return []
        image, visible = self.guides[index]
        covered = np.max([motion.hold for _, motion in neighbours], axis=0)
        confidence = (1.0 - covered) * visible
        o = self.options
        return [PixelAnchor.of("ahead", image, confidence, o.temporal_weight, self.device,
                               o.temporal_fine_weight)]

    def keyframe_for(self, index: int) -> tuple[int, np.ndarray] | None:
        """The keyframe that guides frame ``index`` (rendered now if the folder lacks it):
        its frame and picture; None if no keyframe guides it."""
        segment = self._segment_of(index)
        return None if self.key is None else (segment.end, self.key)

    def _segment_of(self, index: int) -> Segment:
        if self.segment is None or index not in self.segment:
            self._plan(index)
        assert self.segment is not None
        return self.segment

    def _plan(self, index: int) -> None:
        """The segment that holds frame ``index``, its keyframe and the guides."""
        interval = self.options.lookahead
        start = (index - 1) // interval * interval
        start = max([start, *[i for i in range(start + 1, index) if self._cut(i)]])
        end, until = start, (start // interval + 1) * interval
        while end < until and self.available(end + 1):
            if self._cut(end + 1):
                until = end
                break
            end += 1
        self.segment, self.key, self.back, self.guides = Segment(start, end, until), None, [], {}
        if end - start < 2:  # the keyframe would be the next frame itself
            return
        method, preset = self.options.flow_method, self.options.flow_preset
        back = list(carried_weights(self.cache, range(end, start, -1), self.frame, method,
                                    preset))
        if not self._reveals(back):  # a still shot: nothing to paint in advance
            return
        path = self.folder / f"{start:06d}-{end:06d}.png"
        if path.is_file():
            key = read_image(path)
        else:
            key = self.render_key(start, end)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_image(path, key)
        self.key, self.back = key, back

    def _reveals(self, back: Sequence[tuple[int, Motion, np.ndarray]]) -> bool:
        """Whether the keyframe would guide some pixel of a frame before it with at least half
        its weight (``back``: the frames between, with how reliably the keyframe reaches
        them): one that the frame before shows with weight < 1/2 (new in this frame) and the
        keyframe reaches with weight >= 1/2. On a still shot it would guide none: Ruder's
        checker leaves every frame's last row and column unreliable (rule 1), but no frame
        reaches them from another either."""
        o = self.options
        for target, _, visible in back:
            covered = self.cache.get(target, target - 1, self.frame, o.flow_method,
                                     o.flow_preset).hold
            if ((1.0 - covered) * visible >= 0.5).any():
                return True
        return False

    def _cut(self, index: int) -> bool:
        """Whether frame ``index`` starts a new shot (as the render decides it)."""
        motion = self.cache.get(index, index - 1, self.frame, self.options.flow_method,
                                self.options.flow_preset)
        return motion.is_cut(self.options.cut_threshold)
