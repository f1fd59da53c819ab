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

A camera zooming in or pulling back scales the painted strokes too: carried along the flow,
they grow and shrink with the scene (a 1 % a frame zoom in: 0.58x independent frames'
sharpness in the last quarter of 48 frames; pulling back, a fine grain), and nothing in the
objective paints them back at the screen's scale. So where the camera's zoom
(:attr:`Motion.zoom`) since the last fresh keyframe passes ``REFRESH_ZOOM``, the keyframe at
the segment's end is painted afresh, as a shot's first frame, and the ``FRESH_BLEND`` frames
before it are pulled towards it, with a weight rising to it (:func:`keyframe_ramp`), as a Ray
chunk's last frames are pulled to the next chunk's keyframe (measured: docs/benchmarks.md,
"Keyframes painted afresh where the camera zooms").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import RenderOptions
from .imageio import read_image, write_image
from .motion import Motion, MotionCache, carried, carried_along, carried_weights
from .objective import PixelAnchor

# Renders a keyframe: (segment start, keyframe index) -> the keyframe, continuing the start's
# stylized frame (render.VideoRenderer.continued).
RenderKey = Callable[[int, int], np.ndarray]
# Paints a keyframe afresh: keyframe index -> the keyframe, as a shot's first frame.
PaintKey = Callable[[int], np.ndarray]

# The camera's zoom since the last fresh keyframe (or the shot's start) beyond which a
# keyframe is painted afresh: the zoom benchmark's 1 % a frame passes it in every 16-frame
# segment (1.17x, DIS flow); bedroom.mp4's camera moving into the room stays well below it
# (at most 1.02x-1.05x from its first frame, at 64-256 px), as does a pan (1.00x).
REFRESH_ZOOM = 1.1
# Frames before a fresh keyframe pulled towards it: with all 16 of a segment, a pull-back
# pulled the frames after a keyframe towards the next one magnified 1.15x (0.8x independent
# frames' sharpness); with 8, 0.9x.
FRESH_BLEND = 8
RAMP_CAP = 20.0  # the largest pull towards a keyframe, relative to the temporal weight


def keyframe_ramp(index: int, key: int, blend: int) -> float:
    """Weight of the pull towards the next keyframe ``key`` at frame ``index``, relative to
    the temporal weight. With two quadratic pulls of weights 1 (previous frame) and ``b``
    (keyframe) a pixel settles at the fraction b / (1 + b) of the remaining way to the
    keyframe; ``b = r / (1 - r)`` with r rising linearly over the last ``blend`` frames
    (capped at ``RAMP_CAP``). The fractions compound: the steps are largest in the middle of
    the blend and the last ones arrive at the keyframe (seam pair 0.2x the interior on the
    pan benchmark). Equal steps of 1/(blend + 1) (``b = 1/(key - index)``) were tried: the
    blend peaks fell a little, but the seam pair rose to 2.4-4.2x
    (scripts/results/seams.md)."""
    if not key - blend <= index < key:
        return 0.0
    ramp = (index - (key - blend) + 1) / (blend + 1)
    return min(RAMP_CAP, ramp / (1.0 - ramp))


Pull = Callable[[int, np.ndarray], list[PixelAnchor]]  # (frame, content) -> its anchors


def keyframe_pull(key: int, image: Callable[[], np.ndarray], frames: Sequence[int],
                  cache: MotionCache, frame: Callable[[int], np.ndarray],
                  options: RenderOptions, blend: int, device: torch.device) -> Pull:
    """Anchors that bring ``frames`` (next to keyframe ``key``, on one side of it, nearest
    first) to it, with the weight rising towards it (:func:`keyframe_ramp`, mirrored for
    frames after it). The keyframe (``image()``, read on first use) is carried to each of
    them frame by frame along the cached flow (small motions, accurate flow);
    ``frame(index)`` gives the content frames, should a flow be missing."""
    targets: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def anchors_for(index: int, content: np.ndarray) -> list[PixelAnchor]:
        if index not in frames:
            return []
        if not targets:
            for target, warped, weights in carried(image(), cache, [key, *frames], frame,
                                                   options.flow_method, options.flow_preset):
                targets[target] = (warped, weights)
        warped, weights = targets[index]
        strength = keyframe_ramp(index if index < key else 2 * key - index, key, blend)
        return [PixelAnchor.of("keyframe", warped, weights, strength * options.temporal_weight,
                               device)]

    return anchors_for


def fresh_keyframes(folder: Path) -> dict[int, np.ndarray]:
    """The keyframes ahead painted afresh in ``folder`` (:class:`KeyframesAhead`'s), by
    frame (counted as the folder's range counts them)."""
    return {int(path.name.split("-")[1]): read_image(path)
            for path in sorted(folder.glob("*-fresh.png"))}


def fresh_keyframe_pulls(fresh: Mapping[int, np.ndarray], first: int, count: int,
                         cache: MotionCache, frame: Callable[[int], np.ndarray],
                         options: RenderOptions, device: torch.device) -> list[Pull]:
    """For passes after the first, which hold ``fresh`` keyframes (of frames ``first`` + k)
    as they are: the ``FRESH_BLEND`` frames on either side of each, within frames [first,
    first + count), pulled towards it (:func:`keyframe_pull`). Without them, a later pass
    blended each frame with its neighbour across the keyframes, and the strokes grew with a
    zoom again (0.73x independent frames' sharpness in the last quarter, 0.90x after one
    pass)."""
    pulls = []
    for index, image in fresh.items():
        def keyframe(image: np.ndarray = image) -> np.ndarray:
            return image

        key = first + index
        for side in (range(key - 1, max(first, key - FRESH_BLEND) - 1, -1),
                     range(key + 1, min(first + count, key + FRESH_BLEND + 1))):
            pulls.append(keyframe_pull(key, keyframe, list(side), cache, frame, options,
                                       FRESH_BLEND, device))
    return pulls


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
                 render_key: RenderKey, paint_key: PaintKey, device: torch.device) -> None:
        self.folder = folder
        self.cache = cache
        self.options = options
        self.frame = frame  # content frame i (those of the segment being planned)
        self.available = available  # whether the range has frame i
        self.render_key = render_key
        self.paint_key = paint_key
        self.device = device
        self.segment: Segment | None = None
        self.key: np.ndarray | None = None  # the segment's keyframe, if it has one
        self.fresh = False  # whether it is painted afresh (the segment is pulled to it)
        # frame i: the log of the camera's zoom from frame i-1, and whether it starts a shot
        self.log_zoom: list[float] = [0.0]
        self.cuts: list[bool] = [True]
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
        anchors = [PixelAnchor.of("ahead", image, confidence, o.temporal_weight, self.device,
                                  o.temporal_fine_weight)]
        if self.fresh:
            blend = min(FRESH_BLEND, segment.end - segment.start)
            pull = RAMP_CAP if index == segment.end else keyframe_ramp(index, segment.end,
                                                                      blend)
            if pull > 0:
                anchors.append(PixelAnchor.of("fresh keyframe", image, visible,
                                              pull * o.temporal_weight, self.device))
        return anchors

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
        self.fresh = False
        if end - start < 2:  # the keyframe would be the next frame itself
            return
        method, preset = self.options.flow_method, self.options.flow_preset
        back = list(carried_weights(self.cache, range(end, start, -1), self.frame, method,
                                    preset))
        fresh = self._zoomed(start, end)
        if not fresh and not self._reveals(back):  # a still shot: nothing to paint ahead
            return
        path = self.folder / f"{start:06d}-{end:06d}{'-fresh' if fresh else ''}.png"
        if path.is_file():
            key = read_image(path)
        else:
            key = self.paint_key(end) if fresh else self.render_key(start, end)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_image(path, key)
        self.key, self.back, self.fresh = key, back, fresh

    def _zoomed(self, start: int, end: int) -> bool:
        """Whether the keyframe at ``end`` is painted afresh: the camera's zoom since the last
        fresh keyframe of the shot, or its start, passes ``REFRESH_ZOOM``. The earlier
        segments of the shot are followed from its start, each ending on the grid, so the
        answer depends on the cached flow only (a resumed render, and a Ray keyframe task
        that renders the keyframes ahead of a chunk, decide as the chunk's render does)."""
        self._scan(end)
        shot = max(i for i in range(end + 1) if self.cuts[i])
        zoom = np.cumsum([0.0, *self.log_zoom[shot + 1:end + 1]])  # log, since the shot's start
        limit, interval = math.log(REFRESH_ZOOM), self.options.lookahead
        reference = 0.0
        for grid in range((shot // interval + 1) * interval, start + 1, interval):
            if abs(zoom[grid - shot] - reference) >= limit:
                reference = zoom[grid - shot]
        return bool(abs(zoom[end - shot] - reference) >= limit)

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
        self._scan(index)
        return self.cuts[index]

    def _scan(self, index: int) -> None:
        """``log_zoom`` and ``cuts`` known up to frame ``index``, each frame's motion
        towards the one before read once."""
        for frame in range(len(self.log_zoom), index + 1):
            motion = self.cache.get(frame, frame - 1, self.frame, self.options.flow_method,
                                    self.options.flow_preset)
            self.log_zoom.append(math.log(motion.zoom))
            self.cuts.append(motion.is_cut(self.options.cut_threshold))
