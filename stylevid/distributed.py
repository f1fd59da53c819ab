"""Rendering on Ray: videos split into chunks, chunks spread over GPU (or CPU) workers.

Frames depend on their predecessors, so a video is split where that costs nothing (scene
cuts) and otherwise into chunks. A video's work is three kinds of tasks: its flow (ranges of
frame pairs, into the video's motion cache), then each chunk's first frame (its keyframe,
rendered once: a shot's first fresh, each later one from the keyframe before it carried
along the flow, as a later frame, through the keyframes ahead of the chunk between them,
which that chunk then reads instead of painting its own), then the chunks. A chunk starts
from its keyframe and, over its last ``blend`` frames, is pulled towards the next chunk's
keyframe warped back along the flow with a growing weight: it arrives at the very image the
next chunk starts from, so no seam shows and no frame is rendered twice; the keyframe
continues the strokes of the one before and of the chunk's keyframes ahead, so the pull has
little to change. With ``passes``, each chunk runs Ruder's later passes between its two
keyframes, which stay fixed. Workers are Ray actors that keep the VGG model and the style
targets between tasks. A worker that dies (or its whole node) is restarted by Ray where it
fits, and its task runs again on whichever worker is free (``ray_pool``), keeping the frames
it wrote.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import RayOptions, RegionSpec, RenderOptions, StyleParams, StyleSpec
from .engine import Region, Stylizer
from .errors import UserError
from .imageio import read_image, write_image
from .lookahead import KeyframesAhead, fresh_keyframe_pulls, fresh_keyframes, keyframe_pull
from .motion import MotionCache
from .ray_pool import WorkerPool
from .render import (
    AnchorsFn,
    RegionsFn,
    VideoRenderer,
    check_output,
    check_span,
    expected_frames,
    joined,
    manifest_for,
    no_frames_message,
    refine_pass,
    render_frames,
    work_dir_for,
    write_output,
)
from .video import VideoInfo, output_size, probe, read_frames
from .video_regions import carried_along_flow, from_clip_start, regions_source
from .workdir import WorkDir

# Recorded in a distributed render's manifest (what decides its frames beyond the local
# render's FORMAT_VERSION). 2: a shot's later keyframes continue the keyframe before them.
# 3: keyframes ahead within chunks (RenderOptions.lookahead). 4: a later keyframe continues
# the keyframes ahead of the chunk before it.
CHUNK_FORMAT = 4


@dataclass(frozen=True)
class Chunk:
    """Frames [start, end) of a video; ``next_key`` is the first frame of the following chunk
    of the same shot (None at the end of a shot)."""

    start: int
    end: int
    next_key: int | None

    @property
    def name(self) -> str:
        return f"{self.start:06d}-{self.end:06d}"


def plan_chunks(frames: int, cuts: Sequence[int], chunk_frames: int) -> list[Chunk]:
    """Split ``frames`` at scene ``cuts`` (free) and into chunks of about ``chunk_frames``
    within a shot."""
    bounds = [0, *sorted(c for c in set(cuts) if 0 < c < frames), frames]
    chunks = []
    for shot_start, shot_end in zip(bounds, bounds[1:], strict=False):
        length = shot_end - shot_start
        pieces = max(1, round(length / chunk_frames))
        edges = [shot_start + round(i * length / pieces) for i in range(pieces + 1)]
        for k, (start, end) in enumerate(zip(edges, edges[1:], strict=False)):
            chunks.append(Chunk(start, end, end if k + 1 < pieces else None))
    return chunks


def fill_motion(source: Path, info: VideoInfo, size: tuple[int, int], options: RenderOptions,
                cache: MotionCache, first: int, last: int | None) -> int:
    """Put the motion of every neighbouring pair (i - 1, i), first <= i < last (or to the
    end), into ``cache``; returns how many frames the clip has up to there. A renderer finds
    each pair's flow there: it is computed once for the whole render."""
    skip = max(0, first - 1)
    frames = islice(read_frames(source, info, *size, options.start, options.duration), skip,
                    last)
    previous, count = None, skip
    for index, frame in enumerate(frames, start=skip):
        if previous is not None and index >= first:
            pair = {index - 1: previous, index: frame}
            cache.get(index, index - 1, pair.__getitem__, options.flow_method,
                      options.flow_preset)
        previous, count = frame, index + 1
    return count


def find_cuts(frames: int, cache: MotionCache, threshold: float) -> list[int]:
    """Scene cuts: frames whose consistent-motion fraction towards the previous frame (from
    the filled cache) collapses below ``threshold``."""
    cuts = []
    for index in range(1, frames):
        motion = cache.load(index, index - 1)
        if motion is None:
            raise UserError(f"the motion of frame {index} is missing from {cache.folder}")
        if motion.is_cut(threshold):
            cuts.append(index)
    return cuts


def motion_ranges(expected: int, parts: int) -> list[tuple[int, int | None]]:
    """``parts`` ranges of frame pairs covering a clip of about ``expected`` frames; the
    last is open (the exact frame count is known only once the clip is decoded)."""
    parts = max(1, min(parts, expected // 8))
    bounds = [1 + round(k * (expected - 1) / parts) for k in range(parts)]
    return [(lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False)] + [(bounds[-1], None)]


@dataclass(frozen=True)
class VideoJob:
    """One video to render: where from, where to, with which style."""

    source: Path
    output: Path
    styles: tuple[StyleSpec, ...]
    work_dir: Path | None = None
    regions: RegionSpec = RegionSpec()  # masks or segments; default: the styles everywhere


@dataclass
class FrameTask:
    """What a worker needs to render frames of a video (plain data, sent to the worker)."""

    video: int
    source: Path
    styles: tuple[StyleSpec, ...]
    size: tuple[int, int]
    regions: RegionSpec
    keyframes: Path  # the video's keyframes, rendered by KeyframeTasks
    motion: Path  # the video's motion cache, frames counted from the clip's start


@dataclass
class KeyframeTask(FrameTask):
    """The first frame of a chunk, rendered once before the chunk itself and the chunk
    before it, which is pulled towards it, run: fresh at a shot's start, else from the
    ``previous`` keyframe of its shot carried here along the flow (with the temporal loss
    towards it where the flow is reliable all the way), through the keyframes ahead of the
    chunk between them (``blend``: that chunk's frames pulled towards this keyframe)."""

    index: int
    previous: int | None
    blend: int

    @property
    def path(self) -> Path:
        return keyframe_path(self.keyframes, self.index)


@dataclass
class ChunkTask(FrameTask):
    """One chunk, rendered from its keyframe into its own folder."""

    chunk: Chunk
    folder: Path
    manifest: dict
    blend: int


def keyframe_path(folder: Path, index: int) -> Path:
    return folder / f"{index:06d}.png"


def ahead_folder(keyframes: Path, start: int) -> Path:
    """Where the keyframes ahead of the chunk starting at ``start`` are kept (rendered by the
    next chunk's keyframe task, which continues them)."""
    return keyframes / f"ahead-{start:06d}"


def ahead_before(start: int, next_key: int, blend: int) -> int:
    """The frame (counted from the chunk's ``start``) before which a chunk places keyframes
    ahead: the frames from there on are pulled towards the next chunk's keyframe
    ``next_key`` and take their new pixels from it."""
    return next_key - blend - start


@dataclass
class MotionTask:
    """A range of frame pairs of a video whose motion a worker computes into the cache."""

    video: int
    source: Path
    size: tuple[int, int]
    cache: Path
    first: int
    last: int | None


@dataclass
class AssembleTask:
    """A video whose chunks are all finished: their frames put together in its work folder
    and its output encoded (with the input's sound), by a worker, so that the driver goes
    on dispatching meanwhile (a GIF of 200 frames at 512x288 takes 33 s)."""

    video: int
    source: Path
    output: Path
    work: Path
    chunks: tuple[Chunk, ...]
    frames: int


@dataclass
class VideoPlan:
    job: VideoJob
    info: VideoInfo
    size: tuple[int, int]
    frames: int
    chunks: list[Chunk]
    work: WorkDir
    remaining: set[str] = field(default_factory=set)  # chunks not finished
    keys_done: set[int] = field(default_factory=set)  # keyframes rendered
    keys_waiting: list[KeyframeTask] = field(default_factory=list)  # for the one before
    waiting: list[ChunkTask] = field(default_factory=list)  # chunks waiting for keyframes


class ChunkWorker:
    """Ray actor body: keeps a stylizer (VGG + style targets) per style set."""

    def __init__(self, params: StyleParams, options: RenderOptions, threads: int) -> None:
        from .device import resolve_device

        torch.set_num_threads(max(1, threads))

        self.params, self.options = params, options
        self.device = resolve_device("auto")
        self.stylizers: dict = {}

    def pid(self) -> int:
        return os.getpid()

    def _probe(self, source: Path) -> VideoInfo:
        return probe(source, self.options.frame_rate)

    def _frames(self, task: FrameTask, info: VideoInfo, start: int,
                stop: int | None = None) -> Iterator[np.ndarray]:
        """Frames [start, stop) of the task's clip (trimmed and sized as the render)."""
        return islice(read_frames(task.source, info, *task.size, self.options.start,
                                  self.options.duration), start, stop)

    def motion(self, task: MotionTask) -> tuple[int, int]:
        """Fill a range of a video's motion cache; returns (video, frames seen)."""
        info = self._probe(task.source)
        return task.video, fill_motion(task.source, info, task.size, self.options,
                                       MotionCache(task.cache), task.first, task.last)

    def assemble(self, task: AssembleTask) -> tuple[int, int]:
        """Put a video's chunks together and encode its output; returns (video, frames)."""
        _assemble(WorkDir(task.work), task.chunks, task.frames, task.output, task.source,
                  self._probe(task.source), self.options)
        return task.video, task.frames

    def _stylizer(self, styles: tuple[StyleSpec, ...]) -> Stylizer:
        if styles not in self.stylizers:
            self.stylizers[styles] = Stylizer(self.params, self.device)
        return self.stylizers[styles]

    def _regions(self, task: FrameTask, info: VideoInfo, first: int) -> RegionsFn:
        """Regions as a render from the clip's start has them (colours from its first frame,
        masks carried along the flow from there)."""
        return from_clip_start(regions_source(task.regions, task.styles, self.params,
                                              self.options, info)[0],
                               lambda start: self._frames(task, info, start), first,
                               carried_along_flow(task.regions))

    def keyframe(self, task: KeyframeTask) -> tuple[int, int]:
        """Render a chunk's first frame into the video's keyframes; returns (video, index)."""
        if not task.path.is_file():
            info = self._probe(task.source)
            renderer = VideoRenderer(self._stylizer(task.styles), self.options)
            if task.previous is None:
                content = next(self._frames(task, info, task.index))
                regions = self._regions(task, info, task.index)(task.index, content)
                image = renderer.stylize_frame(content, regions)[0]
            else:
                image = self._continued_keyframe(task, info, renderer)
            task.path.parent.mkdir(parents=True, exist_ok=True)
            write_image(task.path, image)
        return task.video, task.index

    def _continued_keyframe(self, task: KeyframeTask, info: VideoInfo,
                            renderer: VideoRenderer) -> np.ndarray:
        """Keyframe ``task.index`` continuing keyframe ``task.previous`` through the keyframes
        ahead of the chunk between them, which it renders here, one from the other, into the
        folder that chunk reads them from. So the pixels the chunk sees for the first time
        are painted once, in these keyframes, for the chunk and for this keyframe alike;
        carried straight from the keyframe before, this keyframe painted the pixels new
        since then afresh (48 % of frame 150 of bedroom.mp4, from 100), and the chunk's last
        frames had to morph from its painting of them to this one."""
        first = task.previous
        assert first is not None
        contents = list(self._frames(task, info, first, task.index + 1))
        regions_at = self._regions(task, info, first)
        regions = [regions_at(first + i, content) for i, content in enumerate(contents)]
        cache = MotionCache(task.motion, offset=first)
        latest = (0, read_image(keyframe_path(task.keyframes, first)))  # frame, picture

        def continued(end: int) -> np.ndarray:
            start, image = latest
            return renderer.continued(image, range(start, end + 1), cache, contents.__getitem__,
                                      contents[end], regions[end])

        placed = ahead_before(first, task.index, task.blend)
        if self.options.lookahead > 1:
            ahead = KeyframesAhead(ahead_folder(task.keyframes, first), cache, self.options,
                                   contents.__getitem__, lambda i: i < placed,
                                   lambda _start, end: continued(end),
                                   lambda end: renderer.stylize_frame(contents[end],
                                                                      regions[end])[0],
                                   self.device)
            for index in range(1, placed):
                found = ahead.keyframe_for(index)
                if found is not None:
                    latest = found
        return continued(task.index - first)

    def render(self, task: ChunkTask) -> tuple[int, str, int]:
        """Render one chunk into its folder, from its keyframe on; returns (video, chunk
        name, frames rendered)."""
        info = self._probe(task.source)
        work = WorkDir(task.folder, MotionCache(task.motion, offset=task.chunk.start))
        if work.open(task.manifest) == 0:
            work.write_frame(0, read_image(keyframe_path(task.keyframes, task.chunk.start)))
        regions_at = self._regions(task, info, task.chunk.start)
        regions: dict[int, Sequence[Region]] = {}  # by frame, kept for the later passes

        def regions_for(index: int, content: np.ndarray) -> Sequence[Region]:
            regions[index] = regions_at(index, content)
            return regions[index]

        renderer = VideoRenderer(self._stylizer(task.styles), self.options)
        anchors_for, keyframes_before = None, None
        if task.chunk.next_key is not None and self.options.temporal_weight > 0:
            key = task.chunk.next_key
            anchors_for = self._keyframe_pull(task, key, self._decoded_on_use(
                task, info, max(task.chunk.start, key - task.blend), key + 1))
            keyframes_before = ahead_before(task.chunk.start, key, task.blend)
        result = render_frames(task.source, info, task.size, work, renderer,
                               first=task.chunk.start, last=task.chunk.end,
                               regions_for=regions_for, anchors_for=anchors_for,
                               keyframes_before=keyframes_before,
                               ahead_dir=ahead_folder(task.keyframes, task.chunk.start))
        rendered = result.rendered
        if self.options.passes > 1:
            rendered += self._refine(task, info, work, renderer, regions, anchors_for)
        return task.video, task.chunk.name, rendered

    def _refine(self, task: ChunkTask, info: VideoInfo, work: WorkDir,
                renderer: VideoRenderer, regions: Mapping[int, Sequence[Region]],
                anchors_for: AnchorsFn | None) -> int:
        """Ruder's later passes over the chunk, between its keyframes: its own (frame 0) and
        the next chunk's (one frame past its end), which both stay as they are, so the
        chunks still meet at the same image. Backward passes start from the next keyframe;
        the frames next to either keyframe are pulled towards it in every pass (the
        passes' blended starts would otherwise move them away from a keyframe that cannot
        follow)."""
        chunk = task.chunk
        last = chunk.end if chunk.next_key is None else chunk.next_key + 1
        contents = list(self._frames(task, info, chunk.start, last))
        fresh = fresh_keyframes(ahead_folder(task.keyframes, chunk.start))
        if self.options.temporal_weight > 0:
            def frame(index: int) -> np.ndarray:
                return contents[index - chunk.start]

            own = self._keyframe_pull(task, chunk.start, frame)
            pulls = fresh_keyframe_pulls(fresh, chunk.start, len(contents),
                                         MotionCache(task.motion), frame, self.options,
                                         self.device)
            anchors_for = joined([own, *pulls, *([anchors_for] if anchors_for else [])])
        fixed = {0: read_image(keyframe_path(task.keyframes, chunk.start)), **fresh}
        if chunk.next_key is not None:
            fixed[len(contents) - 1] = read_image(keyframe_path(task.keyframes, chunk.next_key))
        rendered = 0
        for pass_index in range(2, self.options.passes + 1):
            rendered += refine_pass(pass_index, contents, work, renderer,
                                    regions_for=lambda index, _content: regions[index],
                                    first=chunk.start, fixed=fixed, anchors_for=anchors_for)
        return rendered

    def _decoded_on_use(self, task: FrameTask, info: VideoInfo, start: int,
                        stop: int) -> Callable[[int], np.ndarray]:
        """Frame ``index`` (start <= index < stop) of the task's clip, the range decoded on
        first use: the flow the frames would serve is normally in the cache already."""
        decoded: list[np.ndarray] = []

        def frame(index: int) -> np.ndarray:
            if not decoded:
                decoded.extend(self._frames(task, info, start, stop))
            return decoded[index - start]

        return frame

    def _keyframe_pull(self, task: ChunkTask, key: int,
                       frame: Callable[[int], np.ndarray]) -> AnchorsFn:
        """Anchors that bring the frames next to keyframe ``key`` to it (:func:`keyframe_pull`):
        the chunk's last frames to the next chunk's keyframe, or its first frames to its
        own; ``frame(index)`` gives the content frames, should a flow be missing."""
        chunk, blend = task.chunk, task.blend
        if key > chunk.start:  # the next chunk's keyframe, reached from the frames before it
            frames = list(range(key - 1, max(chunk.start, key - blend) - 1, -1))
        else:
            frames = list(range(key + 1, min(chunk.end, key + blend + 1)))
        return keyframe_pull(key, lambda: read_image(keyframe_path(task.keyframes, key)),
                             frames, MotionCache(task.motion), frame, self.options, blend,
                             self.device)


@dataclass
class Outcome:
    """How one video of a distributed render ended."""

    job: VideoJob
    state: str  # "done" or "failed"
    reason: str = ""
    frames: int = 0


@dataclass(frozen=True)
class BatchProgress:
    """Where a distributed render stands: frames written of all (each pass's count), videos
    finished of all, and what the workers are doing (tasks running by kind: "flow range",
    "keyframe", "chunk", "encoding", in that order, kinds with none left out)."""

    frames: int
    frames_total: int
    videos: int
    videos_total: int
    running: tuple[tuple[str, int], ...] = ()

    def describe_running(self) -> str:
        """"2 flow ranges, 1 keyframe" (empty when nothing runs)."""
        return ", ".join(f"{count} {kind}{_s(count)}" for kind, count in self.running)


ProgressFn = Callable[[BatchProgress], None]
Task = MotionTask | KeyframeTask | ChunkTask | AssembleTask
_TASK_KINDS = {MotionTask: "flow range", KeyframeTask: "keyframe", ChunkTask: "chunk",
               AssembleTask: "encoding"}
StateFn = Callable[[VideoJob, str, str], None]  # job, state, reason


def start_ray(address: str | None, cpus: int | None) -> None:
    """Connect to a cluster (``address``, e.g. "auto") or start a local instance with no
    dashboard that advertises 127.0.0.1. Ray 2.60's own servers still bind every interface
    (it resolves 127.0.0.1 to the node's address); its token authentication stays on."""
    import ray

    if ray.is_initialized():
        return
    if address:
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UserError(f"cannot connect to the Ray cluster at {address!r}: "
                            f"{_one_line(exc)}") from None
    else:
        ray.init(num_cpus=cpus or os.cpu_count(), include_dashboard=False,
                 _node_ip_address="127.0.0.1", log_to_driver=False,
                 logging_level=logging.ERROR)  # our progress bar and errors, not Ray's notes


def _open_video(job: VideoJob, params: StyleParams, options: RenderOptions,
                ray_options: RayOptions) -> VideoPlan:
    """Probe the input, check the output, open the work folder; chunks come later."""
    info = probe(job.source, options.frame_rate)
    size = output_size(info, params.size)
    check_output(job.output, info, options)
    check_span(job.source, info, options)
    _, regions = regions_source(job.regions, job.styles, params, options, info)
    manifest = manifest_for(job.source, [s.path for s in job.styles], params, options, size,
                            {"chunk_frames": ray_options.chunk_frames,
                             "blend": ray_options.blend, "chunk_format": CHUNK_FORMAT,
                             **regions})
    work = WorkDir(job.work_dir or work_dir_for(job.output, manifest))
    work.open(manifest)
    return VideoPlan(job, info, size, 0, [], work)


def _assemble(work: WorkDir, chunks: Sequence[Chunk], frames: int, output: Path,
              source: Path, info: VideoInfo, options: RenderOptions) -> None:
    """Final frames (of the last pass) from the chunks' folders, then the output file."""
    last = options.passes
    for chunk in chunks:
        folder = WorkDir(work.root / "chunks" / chunk.name)
        for index in range(chunk.start, chunk.end):
            if not work.frame_path(index, last).is_file():
                work.write_frame(index, folder.read_frame(index - chunk.start, last), last)
    write_output(work, frames, output, source, info, options, last)


def start_workers(params: StyleParams, options: RenderOptions, requested: int | None
                  ) -> tuple[list, str]:
    """One actor per GPU (else per CPU) of the cluster, or ``requested`` but no more than it
    can place (actors that cannot be placed would wait for ever); returns the actors and a
    line saying what was started."""
    import ray

    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
    capacity, unit = (gpus, "GPU") if gpus else (cpus, "CPU")
    count = min(requested or capacity, capacity)
    threads = 1 if gpus else max(1, cpus // count)
    actor_class: Any = ray.remote(max_restarts=-1, max_task_retries=0)(ChunkWorker)
    placement = {"num_gpus": 1} if gpus else {"num_cpus": threads}
    actors = [actor_class.options(**placement).remote(params, options, threads)
              for _ in range(count)]
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    each = "1 GPU each" if gpus else f"{threads} CPU thread{_s(threads)} each"
    note = f"{count} Ray worker{_s(count)} ({each}) on {nodes} node{_s(nodes)}"
    if requested and requested > capacity:
        note += f": {requested} asked for, the cluster has {capacity} {unit}{_s(capacity)}"
    return actors, note


class _Batch:
    """The state of a distributed render: each video's plan, its outcome, its tasks."""

    def __init__(self, jobs: Sequence[VideoJob], options: RenderOptions,
                 ray_options: RayOptions, on_state: StateFn | None) -> None:
        self.jobs, self.options, self.ray_options = jobs, options, ray_options
        self.on_state = on_state
        self.plans: dict[int, VideoPlan] = {}
        self.outcomes: dict[int, Outcome] = {}
        self.motion_left: dict[int, int] = {}  # video -> motion tasks not finished
        self.finished_frames = 0  # frames of the chunks finished

    def set_state(self, index: int, state: str, reason: str = "", frames: int = 0) -> None:
        if state != "running":
            self.outcomes[index] = Outcome(self.jobs[index], state, reason, frames)
            self.plans.pop(index, None)
        if self.on_state:
            self.on_state(self.jobs[index], state, reason)

    def motion_tasks(self, index: int, parts: int) -> list[MotionTask]:
        plan = self.plans[index]
        ranges = motion_ranges(expected_frames(plan.info, self.options), parts)
        self.motion_left[index] = len(ranges)
        return [MotionTask(index, plan.job.source, plan.size, plan.work.motion.folder,
                           first, last) for first, last in ranges]

    def motion_done(self, task: MotionTask, seen: int) -> list[KeyframeTask]:
        """Record a finished motion range; once a video has all its flow, its keyframes
        (its chunks wait for them)."""
        plan = self.plans.get(task.video)
        if plan is None:
            return []
        plan.frames = max(plan.frames, seen)
        self.motion_left[task.video] -= 1
        if self.motion_left[task.video]:
            return []
        if plan.frames == 0:
            self.set_state(task.video, "failed", no_frames_message(plan.job.source,
                                                                   self.options))
            return []
        try:
            cuts = find_cuts(plan.frames, plan.work.motion, self.options.cut_threshold)
        except UserError as exc:
            self.set_state(task.video, "failed", str(exc))
            return []
        plan.chunks = plan_chunks(plan.frames, cuts, self.ray_options.chunk_frames)
        plan.remaining = {c.name for c in plan.chunks}
        video = FrameTask(task.video, plan.job.source, plan.job.styles, plan.size,
                          plan.job.regions, plan.work.root / "keyframes",
                          plan.work.motion.folder)
        plan.waiting = [ChunkTask(**vars(video), chunk=chunk,
                                  folder=plan.work.root / "chunks" / chunk.name,
                                  manifest={"video": plan.work.root.name, "chunk": chunk.name},
                                  blend=self.ray_options.blend_frames)
                        for chunk in plan.chunks]
        temporal = self.options.temporal_weight > 0
        previous = {c.next_key: c.start for c in plan.chunks if c.next_key is not None}
        keys = [KeyframeTask(**vars(video), index=chunk.start,
                             previous=previous.get(chunk.start) if temporal else None,
                             blend=self.ray_options.blend_frames)
                for chunk in plan.chunks]
        plan.keys_waiting = [k for k in keys if k.previous is not None]
        return [k for k in keys if k.previous is None]

    def keyframe_done(self, task: KeyframeTask) -> list[KeyframeTask | ChunkTask]:
        """Record a rendered keyframe; returns the keyframes that continue it, then the
        chunks that now have all their keyframes: their own first frame and, with the
        temporal loss, the next chunk's."""
        plan = self.plans.get(task.video)
        if plan is None:
            return []
        plan.keys_done.add(task.index)
        keys = [k for k in plan.keys_waiting if k.previous == task.index]
        plan.keys_waiting = [k for k in plan.keys_waiting if k.previous != task.index]
        return [*keys, *self._chunks_ready(plan)]

    def _chunks_ready(self, plan: VideoPlan) -> list[ChunkTask]:
        pulled = self.options.temporal_weight > 0

        def ready(t: ChunkTask) -> bool:
            needs = {t.chunk.start} | ({t.chunk.next_key} if pulled and t.chunk.next_key
                                       is not None else set())
            return needs <= plan.keys_done

        released = [t for t in plan.waiting if ready(t)]
        plan.waiting = [t for t in plan.waiting if not ready(t)]
        return released

    def chunk_done(self, task: ChunkTask) -> list[AssembleTask]:
        """Record a finished chunk; returns the video's assembly once all its chunks are."""
        self.finished_frames += (task.chunk.end - task.chunk.start) * self.options.passes
        plan = self.plans.get(task.video)
        if plan is None:
            return []
        plan.remaining.discard(task.chunk.name)
        if plan.remaining:
            return []
        return [AssembleTask(task.video, plan.job.source, plan.job.output, plan.work.root,
                             tuple(plan.chunks), plan.frames)]

    def assemble_done(self, task: AssembleTask) -> None:
        if task.video in self.plans:
            self.set_state(task.video, "done", frames=task.frames)

    def progress(self, running: Sequence[Any]) -> BatchProgress:
        """Frames done (of finished chunks, and written by the ``running`` ones), frames in
        all, videos finished, videos in all; with ``passes``, each pass's frames count."""
        done = self.finished_frames + sum(
            _count_frames(t.folder, (t.chunk.end - t.chunk.start) * self.options.passes)
            for t in running if isinstance(t, ChunkTask))
        total = sum(p.frames if p.chunks else expected_frames(p.info, self.options)
                    for p in self.plans.values()) + sum(o.frames for o in self.outcomes.values())
        kinds = [type(t) for t in running]
        return BatchProgress(done, total * self.options.passes, len(self.outcomes),
                             len(self.jobs),
                             tuple((label, kinds.count(kind)) for kind, label in
                                   _TASK_KINDS.items() if kind in kinds))


def render_many(
    jobs: Sequence[VideoJob],
    params: StyleParams,
    options: RenderOptions,
    ray_options: RayOptions | None = None,
    *,
    on_progress: ProgressFn | None = None,
    on_state: StateFn | None = None,
    on_workers: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Render every video of ``jobs`` on Ray. Each video's flow is computed first, in ranges
    spread over the workers; its chunks are dispatched as soon as its flow is complete. A
    video that fails (bad file, ffmpeg error) fails alone with its reason; the others go on.
    A worker that dies (or its node) costs only the frames it had in flight."""
    ray_options = ray_options or RayOptions()
    start_ray(ray_options.address, None)
    actors, note = start_workers(params, options, ray_options.workers)
    if on_workers:
        on_workers(note)
    batch = _Batch(jobs, options, ray_options, on_state)
    methods = {MotionTask: "motion", KeyframeTask: "keyframe", ChunkTask: "render",
               AssembleTask: "assemble"}
    pool = WorkerPool(actors, lambda actor, task: getattr(actor, methods[type(task)]).remote(task))
    for index, job in enumerate(jobs):
        try:
            batch.plans[index] = _open_video(job, params, options, ray_options)
        except UserError as exc:
            batch.set_state(index, "failed", str(exc))
            continue
        batch.set_state(index, "running")
        pool.add(batch.motion_tasks(index, len(actors)))

    def on_result(task: Task, result: tuple) -> None:
        if isinstance(task, MotionTask):
            pool.add(batch.motion_done(task, result[1]))
        elif isinstance(task, KeyframeTask):  # a video's keyframes and chunks go before
            pool.add(batch.keyframe_done(task), first=True)  # other videos': they finish first
        elif isinstance(task, ChunkTask):
            pool.add(batch.chunk_done(task), first=True)
        else:
            batch.assemble_done(task)

    def on_error(task: Task, exc: BaseException) -> None:
        if task.video in batch.plans:
            batch.set_state(task.video, "failed", _one_line(exc))
        pool.drop(lambda t: t.video != task.video)

    last: list[BatchProgress] = []

    def on_tick() -> None:
        progress = batch.progress(pool.running())
        if on_progress and progress not in last:  # a log file gets a line per change
            on_progress(progress)
            last[:] = [progress]

    try:
        pool.run(on_result, on_error, on_tick)
    finally:
        pool.close()
    return [batch.outcomes[i] for i in range(len(jobs))]


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _count_frames(folder: Path, most: int) -> int:
    """Frames a running chunk has written, over all its passes (a later pass also holds
    the next chunk's keyframe: at most ``most``)."""
    return min(most, sum(1 for _ in folder.glob("*/[0-9]*.png")))


def _one_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    lines = [line for line in str(cause).strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(cause).__name__

