"""The video pipeline: decode, optical flow ahead of time, temporal stylization, resume, encode."""

from __future__ import annotations

import math
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .color import match_colors
from .config import RenderOptions, StyleParams
from .encode import OUTPUT_SUFFIXES, check_container, encode
from .engine import Region, Stylizer
from .errors import UserError
from .fsutil import check_writable
from .imageio import check_image_source, to_array, to_tensor
from .lookahead import KeyframesAhead, fresh_keyframe_pulls, fresh_keyframes
from .memory import check_fits
from .motion import Motion, MotionCache, MotionPrefetcher, carried
from .objective import PixelAnchor
from .still import finish
from .temporal import beyond_source, long_term_weights
from .video import FRAME_SUFFIXES, VideoInfo, output_size, probe, read_frames
from .workdir import WorkDir, file_digest

LONG_TERM = (1, 2, 4)  # Ruder et al.: J = {1, 2, 4} frames back
# 3: mirrored edges and mirrored history for pixels a camera move reveals
# 4: the temporal loss holds the finest detail lightly (RenderOptions.temporal_fine_weight)
# 5: each point evaluated once, and the plateau judged from the 6th evaluation on
#    (optimize.optimize_image): a frame may stop at another iteration
# 6: the pixels a frame sees first are painted by a keyframe ahead (RenderOptions.lookahead)
# 7: no keyframe ahead where it would guide nothing (a still shot); disocclusions start from
#    the content in the colours of the covered pixels
# 8: later passes hold their neighbour's finest detail at RenderOptions.pass_fine_weight
# 9: L-BFGS learns from the projected step and sizes its first step (optimize); a later
#    frame's style loss is split between held and fresh pixels (losses.split_gram_distance)
# 10: the stylized history keeps its finest detail when carried along the flow (Motion.carry)
# 11: ... wherever it is held (Motion.hold), not only where Ruder's weight vouches for it
# 12: ... sampled from its band-limited interpolant instead (Motion.carry)
# 13: a keyframe ahead is painted afresh where the camera has zoomed (lookahead.py)
# 14: later passes hold each pixel by Motion.hold, and to the frame's last result wherever
#     Ruder's weights hold less than all
# 15: a shot's first frame stops its coarse level on a looser plateau
#     (config.COARSE_TOLERANCE_FACTOR)
# 16: HDR frames are tone-mapped and interlaced ones deinterlaced as they are decoded
#     (video.decode_args), pictures turned upright by their EXIF orientation
#     (imageio.read_image); a progressive SDR clip and an untagged picture read as before
FORMAT_VERSION = 16


@dataclass
class RenderSummary:
    frames: int
    rendered: int
    cuts: list[int]
    seconds: float
    work_dir: Path  # where the finished frames are


# (frame index, frames total, loss); a resumed render first reports its last finished frame
# with the loss NaN
FrameCallback = Callable[[int, int, float], None]
# A frame's regions (frame index, content); the first pass asks for every frame in order,
# later passes in any order.
RegionsFn = Callable[[int, np.ndarray], Sequence[Region]]
AnchorsFn = Callable[[int, np.ndarray], Sequence[PixelAnchor]]


def joined(pulls: Sequence[AnchorsFn]) -> AnchorsFn:
    """One anchors function giving the anchors of all ``pulls``."""
    def anchors_for(index: int, content: np.ndarray) -> list[PixelAnchor]:
        return [anchor for pull in pulls for anchor in pull(index, content)]

    return anchors_for


def default_work_dir(output: Path) -> Path:
    return output.parent / f".{output.name}.stylevid"


def work_dir_for(output: Path, manifest: dict[str, Any]) -> Path:
    """The output's work folder, ``.OUT.stylevid`` beside it; while that does not exist,
    the folder of the same render written to another format beside it (``out.mp4``'s for
    ``out.gif``, or a frame folder's), so that a finished render is only encoded again
    instead of rendered again in a folder of its own."""
    own = default_work_dir(output)
    if own.exists():
        return own
    for suffix in ("", *OUTPUT_SUFFIXES):
        other = default_work_dir(output.with_suffix(suffix))
        if other != own and WorkDir(other).holds(manifest):
            return other
    return own


def manifest_for(source: Path, styles: Sequence[str], params: StyleParams,
                 options: RenderOptions, size: tuple[int, int], extra: dict) -> dict:
    """Everything that decides the frames of a render (and so whether a resume is safe)."""
    stat = source.stat()
    return {
        "format": FORMAT_VERSION,
        "input": {"path": str(source.resolve()), "bytes": stat.st_size,
                  "mtime": int(stat.st_mtime)},
        "styles": [file_digest(s) for s in styles],
        "size": list(size),
        "params": params.as_dict(),
        # The number of passes does not change a pass's frames (more can be added to a
        # finished render), nor does the encoding quality.
        "options": {k: v for k, v in asdict(options).items()
                    if k not in ("crf", "pix_fmt", "passes")},
        **extra,
    }


def _frames_ahead(frames: Iterator[tuple[int, np.ndarray]], done: int,
                 prefetch: MotionPrefetcher, lookahead: int = 4
                 ) -> Iterator[tuple[int, np.ndarray, Future[Motion] | None]]:
    """(index, content frame, motion of frame i towards i-1) with the frames read and their
    motion computed ``lookahead`` frames ahead."""
    queue: deque[tuple[int, np.ndarray, Future[Motion] | None]] = deque()
    previous = None
    for index, frame in frames:
        future = prefetch.submit(index, index - 1, frame, previous) \
            if previous is not None and index >= done else None
        queue.append((index, frame, future))
        previous = frame
        if len(queue) > lookahead:
            yield queue.popleft()
    yield from queue


Neighbour = tuple[np.ndarray, Motion]  # a stylized neighbour frame, this frame's motion to it

class VideoRenderer:
    """Stylizes the frames of one video (or one part of it) with temporal consistency."""

    def __init__(self, stylizer: Stylizer, options: RenderOptions) -> None:
        self.stylizer = stylizer
        self.options = options

    @property
    def params(self) -> StyleParams:
        return self.stylizer.params

    def stylize_frame(self, content: np.ndarray, regions: Sequence[Region],
                      neighbours: Sequence[Neighbour] = (), *,
                      previous: np.ndarray | None = None, temporal: bool = True,
                      on_step: Callable[[int, float, torch.Tensor], None] | None = None,
                      extra_anchors: Sequence[PixelAnchor] = ()) -> tuple[np.ndarray, float]:
        """One frame.

        ``neighbours`` are already stylized frames, closest first (the previous frame, then
        2 and 4 back with long-term consistency), with this frame's motion towards each.
        Neighbours are carried here with their finest detail (:meth:`Motion.carry`). Without
        ``previous`` (the first pass) the frame starts from the carried neighbours (pixels
        none covers from the content), or, with no neighbour (a shot's first frame, or any
        frame without the temporal loss), fresh and coarse-to-fine with
        ``options.first_iterations``. With ``previous`` (this frame's result of the last pass)
        it starts from Ruder's blend ``(previous + δ c ω) / (1 + δ c)`` of that result and
        the nearest neighbour carried here. ``temporal`` adds the temporal loss towards the
        carried neighbours, weighted by their :attr:`Motion.hold` (Ruder's weights, and 1
        where the content agrees), and in a later pass towards ``previous`` too wherever
        Ruder's weights hold less than all; ``extra_anchors`` pull the frame towards other
        targets (a later keyframe, on Ray).
        """
        p, o = self.params, self.options
        device = self.stylizer.device
        use_neighbours = neighbours and o.temporal_weight > 0
        if not use_neighbours and previous is None:
            result = self.stylizer.stylize(content, regions, iterations=o.first_iterations,
                                           anchors=extra_anchors, on_step=on_step)
            return finish(result.image, content, p), result.losses[-1]
        anchors = list(extra_anchors)
        if use_neighbours:
            warped = [motion.carry(image) for image, motion in neighbours]
            holds = [motion.hold for _, motion in neighbours]
            if previous is None:
                start = _composite(warped, holds, neighbours[0][1].flow, content)
                if extra_anchors and temporal:
                    start = _settled(start, holds[0], extra_anchors, o.temporal_weight)
            else:
                blend = (o.blend_weight * neighbours[0][1].weights)[..., None]
                start = np.round((previous + blend * warped[0]) / (1.0 + blend)
                                 ).astype(np.uint8)
            if temporal:
                combined = long_term_weights(holds)
                fine = o.temporal_fine_weight if previous is None else o.pass_fine_weight
                anchors += [PixelAnchor.of("temporal", image, w, o.temporal_weight, device, fine)
                            for image, w in zip(warped, combined, strict=True)]
                if previous is not None:
                    # What Ruder's weights do not hold (the strip a backward pass brings into
                    # view, disocclusions, and the band along a moving edge that the hold
                    # keeps) holds to the frame's last result as well: left free, a 2 px
                    # strip a frame grew new stripes in every pass (pan, 3 passes: warping
                    # error 0.00040 -> 0.00025, the stripes gone). The band, held both ways,
                    # settles halfway between its neighbour and its last result in every
                    # pass: held by Ruder's weights alone it stayed as the pass before left
                    # it (a disc moving over a photo: 3 passes 1.05x one pass's warping
                    # error, now 0.91x), and held to its neighbour alone it carried the
                    # colours of bedroom.mp4's last frames to its first, 12-14/255 darker.
                    ruder = long_term_weights([motion.weights for _, motion in neighbours])
                    free = np.clip(1.0 - sum(ruder), 0.0, 1.0)
                    anchors.append(PixelAnchor.of("previous pass", previous, free,
                                                  o.temporal_weight, device))
        else:
            assert previous is not None
            start = previous
        result = self.stylizer.stylize(content, regions, init=to_tensor(start, device),
                                       anchors=anchors, iterations=p.iterations,
                                       sizes=[max(content.shape)], warm_start=True,
                                       on_step=on_step)
        return finish(result.image, content, p), result.losses[-1]


    def continued(self, earlier: np.ndarray, path: Sequence[int], cache: MotionCache,
                  frame: Callable[[int], np.ndarray], content: np.ndarray,
                  regions: Sequence[Region],
                  on_step: Callable[[int, float, torch.Tensor], None] | None = None
                  ) -> np.ndarray:
        """Frame ``path[-1]`` (``content``) rendered as a later frame of ``earlier`` (the
        stylized frame ``path[0]``) carried to it frame by frame along the cached flow,
        the holds multiplied along the way: a Ray chunk's keyframe from the one before,
        a keyframe ahead from the current frame. ``frame(i)`` gives content frame i, should
        a flow be missing."""
        o = self.options
        *_, (_, image, weights) = carried(earlier, cache, path, frame, o.flow_method,
                                          o.flow_preset)
        return self.stylize_frame(content, regions, [(image, Motion.still(weights))],
                                  on_step=on_step)[0]


def _composite(warped: Sequence[np.ndarray], holds: Sequence[np.ndarray], flow: np.ndarray,
               content: np.ndarray) -> np.ndarray:
    """The start of a later frame: each pixel from the first warped neighbour that holds it
    (its :attr:`Motion.hold` in ``holds`` >= 0.5; ``flow``: the nearest neighbour's).
    Pixels beyond the nearest neighbour's edges (a camera
    move brings them into view; its weights are 0 there) start from that neighbour mirrored
    beyond its edge: painted strokes, which the content loss then reshapes (on the pan
    benchmark, style loss 6.4e7 against 8.1e7 when they start from the content). Pixels no
    neighbour reliably shows inside the frame (disocclusions) start from the content
    re-coloured with the colours of the pixels that are covered: the photo's structure in
    the painting's colours. Started from the photo itself, they kept some of its colours
    whenever a frame stopped before painting them over, and the frames after inherited them
    (bedroom.mp4, 200 frames at 20 iterations a later frame: the mean grey climbed from 123
    to 156 of the photo's 180)."""
    start = warped[0].copy()
    covered = holds[0] >= 0.5
    for image, hold in zip(warped[1:], holds[1:], strict=True):
        take = ~covered & (hold >= 0.5)
        start[take] = image[take]
        covered |= take
    disoccluded = ~covered & ~beyond_source(flow)
    if disoccluded.any() and covered.any():
        painted = match_colors(content, start[covered][None])
        start[disoccluded] = painted[disoccluded]
    return start


def _settled(start: np.ndarray, weights: np.ndarray, anchors: Sequence[PixelAnchor],
             temporal_weight: float) -> np.ndarray:
    """Where the pixel terms settle: the start moved towards the anchors' targets (a later
    keyframe, on Ray) as far as their pull outweighs the temporal loss's (its hold ``c``,
    :attr:`Motion.hold`): ``(c x + sum b w k) / (c + sum b w)``. A few iterations then
    suffice to arrive at the keyframe; pixels no term holds keep their start."""
    total = weights.astype(np.float64)[..., None]
    moved = total * start
    for anchor in anchors:
        pull = anchor.weight / temporal_weight * anchor.confidence[0, 0].double().cpu().numpy()
        moved += pull[..., None] * to_array(anchor.target).astype(np.float64)
        total = total + pull[..., None]
    settled = np.divide(moved, total, out=start.astype(np.float64), where=total > 0)
    return np.clip(np.round(settled), 0, 255).astype(np.uint8)


@dataclass
class _Decoded:
    """How far the decoder has read a range: frames so far, and whether it has ended."""

    count: int = 0
    ended: bool = False

    def may_have(self, index: int) -> bool:
        """Whether the range has frame ``index`` (read, or not ruled out yet)."""
        return index < self.count or not self.ended


@dataclass
class RangeResult:
    """Frames of a range seen, rendered now, and where new shots started."""

    frames: int
    rendered: int
    cuts: list[int]


def render_frames(
    source: Path,
    info: VideoInfo,
    size: tuple[int, int],
    work: WorkDir,
    renderer: VideoRenderer,
    *,
    first: int = 0,
    last: int | None = None,
    regions_for: RegionsFn,
    anchors_for: AnchorsFn | None = None,
    keyframes_before: int | None = None,
    ahead_dir: Path | None = None,
    on_frame: FrameCallback | None = None,
    on_step: Callable[[int, float, torch.Tensor], None] | None = None,
) -> RangeResult:
    """First pass: render frames [first, last) of ``source`` into ``work`` (numbered from 0
    there) in order, skipping the ones it already holds. The whole-video render and each
    distributed chunk both run this; ``anchors_for(index, content)`` adds pixel anchors.
    Keyframes ahead (``options.lookahead``) are placed before frame ``keyframes_before``
    (counted from ``first``; default: anywhere in the range) and kept in the folder
    ``ahead_dir`` (default: the work folder's ``ahead``)."""
    options = renderer.options
    done = work.done_count()
    total = expected_frames(info, options) - first if last is None else last - first
    prefetch = MotionPrefetcher(work.motion, options.flow_method, options.flow_preset)
    recent: dict[int, np.ndarray] = {}  # stylized frames by index (last 4)
    contents: dict[int, np.ndarray] = {}  # content frames read and not yet passed
    regions: dict[int, Sequence[Region]] = {}
    decoded = _Decoded()

    def read() -> Iterator[tuple[int, np.ndarray]]:
        frames = islice(read_frames(source, info, *size, options.start, options.duration),
                        first, last)
        for index, content in enumerate(frames):
            contents[index] = content
            # Regions are built from the clip's first frame (histogram colours) and carried
            # frame after frame (masks along the flow): ask for every frame, in order, so a
            # resumed render builds the same regions as an uninterrupted one.
            regions[index] = regions_for(first + index, content)
            decoded.count = index + 1
            yield index, content
        decoded.ended = True

    ahead = None
    if options.lookahead > 1 and options.temporal_weight > 0:
        def render_key(start: int, end: int) -> np.ndarray:
            earlier = recent[start] if start in recent else work.read_frame(start)
            return renderer.continued(earlier, range(start, end + 1), work.motion,
                                      contents.__getitem__, contents[end], regions[end],
                                      on_step)

        def paint_key(end: int) -> np.ndarray:
            return renderer.stylize_frame(contents[end], regions[end], on_step=on_step)[0]

        ahead = KeyframesAhead(ahead_dir or work.root / "ahead", work.motion, options,
                               contents.__getitem__,
                               lambda i: decoded.may_have(i) and (
                                   keyframes_before is None or i < keyframes_before),
                               render_key, paint_key, renderer.stylizer.device)
    cuts: list[int] = []
    rendered = count = 0
    if done and on_frame is not None:
        on_frame(done - 1, max(total, done), math.nan)
    try:
        reading = _frames_ahead(read(), done, prefetch,
                                lookahead=max(4, options.lookahead + 1 if ahead else 0))
        for index, content, future in reading:
            count = index + 1
            if index < done:
                if index >= done - max(LONG_TERM):
                    recent[index] = work.read_frame(index)
                _forget(index, contents, regions)
                continue
            motion = future.result() if future is not None else None
            neighbours = _earlier(index, motion, recent, contents, work.motion, options, cuts)
            extra = list(anchors_for(first + index, content)) if anchors_for is not None else []
            if ahead is not None and neighbours:
                extra += ahead.anchors(index, neighbours)
            image, loss = renderer.stylize_frame(content, regions[index], neighbours,
                                                 temporal=_temporal(1, options),
                                                 on_step=on_step, extra_anchors=extra)
            work.write_frame(index, image)
            rendered += 1
            recent[index] = image
            for old in [k for k in recent if k <= index - max(LONG_TERM)]:
                recent.pop(old)
            _forget(index, contents, regions)
            if on_frame is not None:
                on_frame(index, max(total, count), loss)
    finally:
        prefetch.close()
    return RangeResult(count, rendered, [first + c for c in cuts])


def _forget(index: int, contents: dict[int, np.ndarray],
            regions: dict[int, Sequence[Region]]) -> None:
    """Drop what frames long passed no longer need (long-term consistency looks 4 back)."""
    old = index - max(LONG_TERM)
    contents.pop(old, None)
    regions.pop(old, None)


def _temporal(pass_index: int, options: RenderOptions) -> bool:
    return options.temporal_weight > 0 and pass_index >= options.temporal_from_pass


def _earlier(index: int, motion: Motion | None, recent: dict[int, np.ndarray],
             contents: dict[int, np.ndarray], cache: MotionCache, options: RenderOptions,
             cuts: list[int]) -> list[Neighbour]:
    """Earlier stylized frames with this frame's motion to them (empty: start fresh)."""
    if motion is None or options.temporal_weight == 0:
        return []
    if motion.is_cut(options.cut_threshold):
        cuts.append(index)
        return []
    neighbours = [(recent[index - 1], motion)]
    if options.long_term:
        for back in LONG_TERM[1:]:
            earlier = index - back
            if earlier in recent and earlier in contents and not any(
                    earlier < cut <= index for cut in cuts):
                neighbours.append((recent[earlier], cache.get(
                    index, earlier, contents.__getitem__, options.flow_method,
                    options.flow_preset)))
    return neighbours


def refine_pass(
    pass_index: int,
    contents: Sequence[np.ndarray],
    work: WorkDir,
    renderer: VideoRenderer,
    *,
    regions_for: RegionsFn,
    first: int = 0,
    fixed: Mapping[int, np.ndarray] | None = None,
    anchors_for: AnchorsFn | None = None,
    on_frame: FrameCallback | None = None,
    on_step: Callable[[int, float, torch.Tensor], None] | None = None,
) -> int:
    """Pass ``pass_index`` >= 2 of Ruder's multi-pass algorithm over a rendered clip: odd
    passes run forward, even passes backward; each frame starts from its result of the pass
    before blended with its neighbour in this pass (not across scene cuts). Frames already
    in the pass's folder are kept. ``fixed`` frames (a distributed chunk's keyframes) are
    not rendered again: each pass holds them as they are, and their neighbours start from
    and hold to them. ``regions_for`` and ``anchors_for`` get frame numbers counted from
    ``first``, as in :func:`render_frames`. Returns the number of frames rendered now."""
    options = renderer.options
    count = len(contents)
    cache = work.motion
    step = 1 if pass_index % 2 else -1
    order = range(count) if step == 1 else range(count - 1, -1, -1)
    cuts = {i for i in range(1, count)
            if _cached(cache, i, i - 1, contents, options).is_cut(options.cut_threshold)}
    done: dict[int, np.ndarray] = {}
    rendered = 0
    for position, index in enumerate(order):
        done.pop(index - step * (max(LONG_TERM) + 1), None)
        if work.frame_path(index, pass_index).is_file():
            done[index] = work.read_frame(index, pass_index)
            continue
        if fixed and index in fixed:
            work.write_frame(index, fixed[index], pass_index)
            done[index] = fixed[index]
            continue
        neighbours = []
        for back in (LONG_TERM if options.long_term else LONG_TERM[:1]):
            other = index - step * back
            crossing = range(min(index, other) + 1, max(index, other) + 1)
            if other in done and not any(c in cuts for c in crossing):
                neighbours.append((done[other], _cached(cache, index, other, contents, options)))
        previous = work.read_frame(index, pass_index - 1)
        extra = anchors_for(first + index, contents[index]) if anchors_for is not None else ()
        image, loss = renderer.stylize_frame(
            contents[index], regions_for(first + index, contents[index]), neighbours,
            previous=previous, temporal=_temporal(pass_index, options), on_step=on_step,
            extra_anchors=extra)
        work.write_frame(index, image, pass_index)
        done[index] = image
        rendered += 1
        if on_frame is not None:
            on_frame(position, count, loss)
    return rendered


def _cached(cache: MotionCache, target: int, source: int, contents: Sequence[np.ndarray],
            options: RenderOptions) -> Motion:
    return cache.get(target, source, contents.__getitem__, options.flow_method,
                     options.flow_preset)


def render_video(
    source: str | Path,
    output: str | Path,
    styles: Sequence[str],
    stylizer: Stylizer,
    options: RenderOptions,
    *,
    regions_for: RegionsFn,
    work_dir: Path | None = None,
    manifest_extra: dict | None = None,
    on_frame: FrameCallback | None = None,
    on_step: Callable[[int, float, torch.Tensor], None] | None = None,
    on_pass: Callable[[int], None] | None = None,
    on_encode: Callable[[int, int], None] | None = None,
) -> RenderSummary:
    """Render ``source`` (video file or frame folder) to ``output`` (video file or folder).

    Finished frames go to the work folder as they are done; running again with the same
    settings resumes (also within later passes). The output is encoded (with the input's
    audio) only when every frame of the last pass is done, and written atomically.
    ``on_pass(k)`` is called when pass k starts, ``on_encode(written, frames)`` as the
    output is encoded.
    """
    began = time.monotonic()
    source, output = Path(source), Path(output)
    info = probe(source, options.frame_rate)
    size = output_size(info, stylizer.params.size)
    check_output(output, info, options)
    check_span(source, info, options)
    if output.resolve() == source.resolve():
        raise UserError(f"the output {output} would replace the input video")
    if stylizer.params.init not in ("content", "noise"):
        check_image_source(stylizer.params.init)
    check_fits(size[1], size[0], stylizer.params, stylizer.device.type)
    manifest = manifest_for(source, styles, stylizer.params, options, size, manifest_extra or {})
    work = WorkDir(work_dir or work_dir_for(output, manifest))
    work.open(manifest)
    renderer = VideoRenderer(stylizer, options)
    if on_pass is not None:
        on_pass(1)
    result = render_frames(source, info, size, work, renderer,
                           regions_for=regions_for, on_frame=on_frame, on_step=on_step)
    if result.frames == 0:
        raise UserError(no_frames_message(source, options))
    rendered = result.rendered
    if options.passes > 1:
        contents = work.clip(lambda: read_frames(source, info, *size, options.start,
                                                 options.duration), result.frames, size[1],
                             size[0])
        fresh = fresh_keyframes(work.root / "ahead")
        pulls = fresh_keyframe_pulls(fresh, 0, len(contents), work.motion,
                                     contents.__getitem__, options, stylizer.device)
        for pass_index in range(2, options.passes + 1):
            if on_pass is not None:
                on_pass(pass_index)
            # the first pass asked for every frame's regions in order, so that regions
            # carried along the flow are kept for any order (video_regions)
            rendered += refine_pass(pass_index, contents, work, renderer,
                                    regions_for=regions_for, fixed=fresh,
                                    anchors_for=joined(pulls) if pulls else None,
                                    on_frame=on_frame, on_step=on_step)
    write_output(work, result.frames, output, source, info, options, options.passes,
                 on_encode)
    return RenderSummary(frames=result.frames, rendered=rendered, cuts=result.cuts,
                         seconds=time.monotonic() - began, work_dir=work.root)


def check_span(source: Path, info: VideoInfo, options: RenderOptions) -> None:
    """Refuse a ``--start`` at or past the end of the clip before any work (a work folder
    would be opened for nothing)."""
    if options.start and info.duration and options.start >= info.duration:
        raise UserError(f"--start {options.start:g} is past the end of {source}, which lasts "
                        f"{info.duration:g} s")


def no_frames_message(source: Path, options: RenderOptions) -> str:
    where = " in the chosen --start/--duration" if options.start or options.duration else ""
    return f"{source} has no frames{where}"


def check_output(output: Path, info: VideoInfo, options: RenderOptions) -> None:
    """Refuse what cannot hold a video (a picture, a text file, a missing folder, a GIF of
    60 frames a second) before any work is done."""
    if is_frame_folder(output):
        parent = output.resolve().parent
        if not parent.is_dir():
            raise UserError(f"cannot write frames to {output}: folder {parent} does not exist")
        if output.exists() and not output.is_dir():
            raise UserError(f"cannot write frames to {output}: it is a file, not a folder "
                            "(give a video file name such as out.mp4 or a folder)")
        return
    if output.suffix.lower() in FRAME_SUFFIXES:
        raise UserError(f"output {output} is a picture; give a video file (.mp4) or a folder")
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UserError(f"cannot write {output}: give a video file name "
                        f"({', '.join(OUTPUT_SUFFIXES)}) or a folder for PNG frames, "
                        f"not {output.suffix!r}")
    check_container(output, info.fps, options.pix_fmt)
    check_writable(output)


def expected_frames(info: VideoInfo, options: RenderOptions) -> int:
    """About how many frames the chosen part of the clip has (from its duration)."""
    seconds = info.duration - (options.start or 0)
    if options.duration:
        seconds = min(seconds, options.duration)
    return max(1, round(seconds * float(info.fps)))


def is_frame_folder(output: Path) -> bool:
    """Outputs without a video extension are folders of PNG frames."""
    return output.suffix == "" or output.is_dir()


def write_output(work: WorkDir, count: int, output: Path, source: Path, info: VideoInfo,
                 options: RenderOptions, pass_index: int = 1,
                 on_encode: Callable[[int, int], None] | None = None) -> None:
    """Copy the finished frames of a pass to a folder, or encode them with the source's
    audio; ``on_encode(written, count)`` follows the encoding."""
    if is_frame_folder(output):
        output.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            target = output / f"{index:06d}.png"
            tmp = target.with_suffix(".part.png")
            shutil.copyfile(work.frame_path(index, pass_index), tmp)
            tmp.replace(target)
        return
    audio = str(source) if info.has_audio else None
    encode(work.pattern(pass_index), info.fps, output, audio_source=audio,
           audio_codec=info.audio_codec, start=options.start,
           duration=count / float(info.fps), crf=options.crf, pix_fmt=options.pix_fmt,
           on_progress=(lambda written: on_encode(written, count)) if on_encode else None)

