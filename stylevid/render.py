"""The video pipeline: decode, optical flow ahead of time, temporal stylization, resume, encode."""

from __future__ import annotations

import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from fractions import Fraction
from itertools import islice
from pathlib import Path

import numpy as np
import torch

from .config import StyleParams
from .engine import Region, Stylizer
from .errors import UserError
from .flow import compute_flow, warp
from .fsutil import check_writable
from .imageio import to_tensor
from .objective import PixelAnchor
from .still import finish
from .temporal import consistency_weights, consistent_fraction, fill_holes, long_term_weights
from .video import FRAME_SUFFIXES, VideoInfo, encode, output_size, probe, read_frames
from .workdir import WorkDir, file_digest

LONG_TERM = (1, 2, 4)  # Ruder et al.: J = {1, 2, 4} frames back
FORMAT_VERSION = 1


@dataclass(frozen=True)
class RenderOptions:
    """Video-specific settings (the image settings are in :class:`StyleParams`)."""

    first_iterations: int = 500
    # Calibrated on camera pans with exact flow: 5e6 lowers the warping error about 10x
    # against independent frames at the same style loss (scripts/bench_temporal.py).
    temporal_weight: float = 5e6
    long_term: bool = False
    flow_method: str = "dis"
    flow_preset: str = "medium"
    # A frame whose consistent fraction falls below this starts a new shot.
    cut_threshold: float = 0.3
    start: float | None = None
    duration: float | None = None
    folder_fps: float = 25.0
    crf: int = 18


@dataclass
class Motion:
    """Backward flow of frame i (to frame i-j) and its consistency weights."""

    backward: np.ndarray
    weights: np.ndarray


@dataclass
class RenderSummary:
    frames: int
    rendered: int
    cuts: list[int]
    seconds: float


FrameCallback = Callable[[int, int, float], None]  # (frame index, frames total, loss)
RegionsFn = Callable[[int, np.ndarray], Sequence[Region]]
AnchorsFn = Callable[[int, np.ndarray], Sequence[PixelAnchor]]


def motion_between(first: np.ndarray, second: np.ndarray, options: RenderOptions) -> Motion:
    """Flows both ways between ``first`` and ``second`` and the weights for ``second``."""
    backward = compute_flow(second, first, options.flow_method, options.flow_preset)
    forward = compute_flow(first, second, options.flow_method, options.flow_preset)
    return Motion(backward, consistency_weights(backward, forward))


def default_work_dir(output: Path) -> Path:
    return output.parent / f".{output.name}.stylevid"


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
        "options": asdict(options),
        **extra,
    }


class _MotionPrefetcher:
    """Computes the motion of upcoming frames in worker threads while the GPU/CPU optimizes
    the current one (OpenCV releases the GIL), and caches it in the work folder."""

    def __init__(self, work: WorkDir, options: RenderOptions, workers: int = 2) -> None:
        self.work, self.options = work, options
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flow")

    def submit(self, index: int, previous: np.ndarray, current: np.ndarray) -> Future[Motion]:
        return self.pool.submit(self._motion, index, previous, current)

    def _motion(self, index: int, previous: np.ndarray, current: np.ndarray) -> Motion:
        cached = self.work.load_motion(index)
        if cached is not None:
            return Motion(*cached)
        motion = motion_between(previous, current, self.options)
        self.work.save_motion(index, motion.backward, motion.weights)
        return motion

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _frames_ahead(frames: Iterator[np.ndarray], done: int, prefetch: _MotionPrefetcher,
                  lookahead: int = 4) -> Iterator[tuple[int, np.ndarray, Future[Motion] | None]]:
    """(index, content frame, motion of frame i-1 -> i) with motion computed ahead."""
    queue: deque[tuple[int, np.ndarray, Future[Motion] | None]] = deque()
    previous = None
    for index, frame in enumerate(frames):
        future = prefetch.submit(index, previous, frame) \
            if previous is not None and index >= done else None
        queue.append((index, frame, future))
        previous = frame
        if len(queue) > lookahead:
            yield queue.popleft()
    yield from queue


class VideoRenderer:
    """Stylizes one video (or one part of it) frame by frame with temporal consistency."""

    def __init__(self, stylizer: Stylizer, options: RenderOptions) -> None:
        self.stylizer = stylizer
        self.options = options

    @property
    def params(self) -> StyleParams:
        return self.stylizer.params

    def stylize_frame(self, content: np.ndarray, regions: Sequence[Region],
                      history: dict[int, np.ndarray], motions: dict[int, Motion],
                      on_step: Callable[[int, float, torch.Tensor], None] | None = None,
                      extra_anchors: Sequence[PixelAnchor] = ()
                      ) -> tuple[np.ndarray, float]:
        """One frame. ``history[j]`` is the stylized frame j back (uint8), ``motions[j]`` the
        motion from it to this frame; empty for a first frame or a new shot.
        ``extra_anchors`` pull it towards other targets (a later keyframe, on Ray)."""
        p, o = self.params, self.options
        if not history or o.temporal_weight == 0:
            iterations = o.first_iterations if not history and o.temporal_weight else p.iterations
            result = self.stylizer.stylize(content, regions, iterations=iterations,
                                           anchors=extra_anchors, on_step=on_step)
        else:
            backs = sorted(history)
            warped = {j: warp(history[j], motions[j].backward) for j in backs}
            weights = long_term_weights([motions[j].weights for j in backs])
            anchors = [
                PixelAnchor("temporal", to_tensor(warped[j], self.stylizer.device),
                            torch.from_numpy(w)[None, None].to(self.stylizer.device),
                            o.temporal_weight)
                for j, w in zip(backs, weights, strict=True)
            ] + list(extra_anchors)
            init = to_tensor(fill_holes(warped[1], motions[1].weights), self.stylizer.device)
            result = self.stylizer.stylize(content, regions, init=init, anchors=anchors,
                                           iterations=p.iterations, sizes=[max(content.shape)],
                                           on_step=on_step)
        return finish(result.image, content, p), result.losses[-1]


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
    on_frame: FrameCallback | None = None,
    on_step: Callable[[int, float, torch.Tensor], None] | None = None,
) -> RangeResult:
    """Render frames [first, last) of ``source`` into ``work`` (numbered from 0 there),
    skipping the ones it already holds. The whole-video render and each distributed chunk
    both run this; ``anchors_for(index, content)`` adds pixel anchors to a frame."""
    options = renderer.options
    done = work.done_count()
    total = _expected_frames(info, options) - first if last is None else last - first
    prefetch = _MotionPrefetcher(work, options)
    recent: dict[int, np.ndarray] = {}  # stylized frames by index (last 4)
    contents: dict[int, np.ndarray] = {}  # content frames by index (last 4)
    cuts: list[int] = []
    rendered = count = 0
    try:
        frames = islice(read_frames(source, info, *size, options.start, options.duration),
                        first, last)
        for index, content, future in _frames_ahead(frames, done, prefetch):
            count = index + 1
            contents[index] = content
            if index < done:
                if index >= done - max(LONG_TERM):
                    recent[index] = work.read_frame(index)
                continue
            motion = future.result() if future is not None else None
            history, motions = _history(index, motion, recent, contents, options, cuts)
            extra = anchors_for(first + index, content) if anchors_for is not None else ()
            image, loss = renderer.stylize_frame(content, regions_for(first + index, content),
                                                 history, motions, on_step=on_step,
                                                 extra_anchors=extra)
            work.write_frame(index, image)
            rendered += 1
            recent[index] = image
            for old in [k for k in recent if k <= index - max(LONG_TERM)]:
                recent.pop(old)
                contents.pop(old, None)
            if on_frame is not None:
                on_frame(index, max(total, count), loss)
    finally:
        prefetch.close()
    return RangeResult(count, rendered, [first + c for c in cuts])


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
) -> RenderSummary:
    """Render ``source`` (video file or frame folder) to ``output`` (video file or folder).

    Finished frames go to the work folder as they are done; running again with the same
    settings resumes. The output is encoded (with the input's audio) only when every frame
    is done, and written atomically.
    """
    began = time.monotonic()
    source, output = Path(source), Path(output)
    info = probe(source, Fraction(options.folder_fps).limit_denominator(1001))
    size = output_size(info, stylizer.params.size)
    check_output(output)
    work = WorkDir(work_dir or default_work_dir(output))
    work.open(manifest_for(source, styles, stylizer.params, options, size, manifest_extra or {}))
    result = render_frames(source, info, size, work, VideoRenderer(stylizer, options),
                           regions_for=regions_for, on_frame=on_frame, on_step=on_step)
    if result.frames == 0:
        raise UserError(no_frames_message(source, options))
    write_output(work, result.frames, output, source, info, options)
    return RenderSummary(frames=result.frames, rendered=result.rendered, cuts=result.cuts,
                         seconds=time.monotonic() - began)


def no_frames_message(source: Path, options: RenderOptions) -> str:
    where = " in the chosen --start/--duration" if options.start or options.duration else ""
    return f"{source} has no frames{where}"


def check_output(output: Path) -> None:
    """Refuse a picture as the output of a video render, before any work is done."""
    if not is_frame_folder(output) and output.suffix.lower() in FRAME_SUFFIXES:
        raise UserError(f"output {output} is a picture; give a video file (.mp4) or a folder")
    if not is_frame_folder(output):
        check_writable(output)


def _history(index: int, motion: Motion | None, recent: dict[int, np.ndarray],
             contents: dict[int, np.ndarray], options: RenderOptions,
             cuts: list[int]) -> tuple[dict[int, np.ndarray], dict[int, Motion]]:
    """Earlier stylized frames and their motion to frame ``index`` (empty: start fresh)."""
    if motion is None or options.temporal_weight == 0:
        return {}, {}
    if consistent_fraction(motion.weights) < options.cut_threshold:
        cuts.append(index)
        return {}, {}
    history, motions = {1: recent[index - 1]}, {1: motion}
    if options.long_term:
        for back in LONG_TERM[1:]:
            earlier = index - back
            if earlier in recent and earlier in contents and not any(
                    earlier < cut <= index for cut in cuts):
                history[back] = recent[earlier]
                motions[back] = motion_between(contents[earlier], contents[index], options)
    return history, motions


def _expected_frames(info: VideoInfo, options: RenderOptions) -> int:
    seconds = info.duration - (options.start or 0)
    if options.duration:
        seconds = min(seconds, options.duration)
    return max(1, round(seconds * float(info.fps)))


def is_frame_folder(output: Path) -> bool:
    """Outputs without a video extension are folders of PNG frames."""
    return output.suffix == "" or output.is_dir()


def write_output(work: WorkDir, count: int, output: Path, source: Path, info: VideoInfo,
                 options: RenderOptions) -> None:
    """Copy the finished frames to a folder, or encode them with the source's audio."""
    if is_frame_folder(output):
        output.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            target = output / f"{index:06d}.png"
            tmp = target.with_suffix(".part.png")
            shutil.copyfile(work.frame_path(index), tmp)
            tmp.replace(target)
        return
    audio = str(source) if info.has_audio else None
    encode(work.pattern(), info.fps, output, audio_source=audio, start=options.start,
           duration=options.duration, crf=options.crf)

