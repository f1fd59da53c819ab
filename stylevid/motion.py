"""The motion of a clip: optical flow between frames and Ruder's consistency weights, computed
once per frame pair, cached in the work folder, and used in exactly its cached form.

A :class:`Motion` is "how frame *target* sees frame *source*": the flow from target to
source (``target(x) ≈ source(x + flow(x))``) and the reliability of each target pixel.
The flows of a pair are computed both ways at once, which gives the motion of each frame
towards the other: forward passes use (i ← i-1), backward passes (i ← i+1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .config import FLOW_PRESET
from .flow import compute_flow, sample_grid
from .fsutil import atomic_path
from .temporal import consistency_weights, consistent_fraction, content_agrees

# Warping the stylized history: Lanczos (8x8) instead of bilinear. Each frame's history has
# been resampled once per earlier frame; bilinear sampling at a half-pixel shift halves the
# contrast of fine strokes every time, and with the temporal loss holding each frame to its
# warped predecessor, the blur compounds along the clip.
HISTORY_INTERPOLATION = cv2.INTER_LANCZOS4
# Lanczos too takes some of a stylized frame's finest strokes at a sub-pixel shift (0.95 of
# its Laplacian variance at a quarter pixel, 0.90 at half a pixel, 0.82 at half a pixel both
# ways: the nearer the Nyquist frequency, the more), and a frame held to its predecessor
# carried along regrew only part of it. Where the content is flat (bedroom.mp4's bright
# window) nothing but the style loss repaints the strokes: at 256 px the window kept 0.74x
# independent frames' detail by frame 16. Motion.carry resamples the band-limited picture
# instead (_band_limited_remap): 0.99 of the detail at half a pixel both ways, and a 4x
# smaller error there and back.

# Content agreement (Motion.hold): the largest mean absolute RGB difference (of 255) between a
# frame and the frame before carried along the flow at which a pixel counts as seen in both.
AGREEMENT_TOLERANCE = 16.0


@dataclass(frozen=True)
class Motion:
    """Flow from a target frame to a source frame (H, W, 2), the target's consistency
    weights (H, W) in [0, 1], both at their cached precision, and where the target's content
    agrees with the source's carried along the flow (H, W) bool (None: not known, e.g. a
    motion multiplied along several frames)."""

    flow: np.ndarray
    weights: np.ndarray
    agrees: np.ndarray | None = None

    @property
    def hold(self) -> np.ndarray:
        """How firmly the temporal loss holds each target pixel to the stylized source
        frame, and whether a later frame starts from it (>= 1/2): Ruder's weight, or 1
        where the content agrees.

        Ruder's checker leaves a band a few pixels wide on both sides of every moving edge
        at weight 0 (its motion-boundary rule fires wherever the flow changes fast, whether
        or not the pixel is seen in both frames). Left free, that band was repainted every
        frame, and the edges of moving objects flickered: on a disc moving over a photo
        (bench_video.py's ``disc``), 91 % of the pixels Ruder's checker left below 1/2
        inside the frame were seen in both frames. Holding the ones whose content agrees
        (a disocclusion shows the occluder there, so it is left free) halved that clip's
        warping error near the disc's edge."""
        if self.agrees is None:
            return self.weights
        return np.maximum(self.weights, self.agrees.astype(np.float32))

    @property
    def zoom(self) -> float:
        """How much the scene grows from the source frame to the target: a picture carried
        along the flow grows by this factor (1.01: a camera zooming in by 1 % a frame; below
        1 it pulls back). The scale of the similarity (zoom, rotation, shift) that OpenCV
        fits to the flow on a grid of about 32 points across the shorter side, by least
        median of squares: the camera's zoom, whatever moves in front of it. (A least-squares
        affine fit saw a zoom of 5 % in 48 frames of a disc moving over a still photo, and
        10 % in bedroom.mp4's camera moving into the room, where this sees 0 and 2-5 %.)"""
        height, width = self.flow.shape[:2]
        step = max(1, min(height, width) // 32)
        ys, xs = np.mgrid[step // 2:height:step, step // 2:width:step]
        points = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
        moved = points + self.flow[ys.ravel(), xs.ravel()].astype(np.float32)
        if len(points) < 2:  # nothing to fit (a frame of one pixel)
            return 1.0
        similarity, _ = cv2.estimateAffinePartial2D(points, moved, method=cv2.LMEDS)
        if similarity is None:  # no fit found
            return 1.0
        return float(1.0 / np.hypot(similarity[0, 0], similarity[1, 0]))

    def stored(self) -> Motion:
        """This motion as the cache keeps it (float16 flow, weights in 1/255 steps, as
        Ruder's PGM maps): renders use only this form, so a resumed render, which reads the
        cache, sees exactly what an uninterrupted one saw."""
        flow = self.flow.astype(np.float16).astype(np.float32)
        weights = (np.round(np.clip(self.weights, 0, 1) * 255) / 255).astype(np.float32)
        return Motion(flow, weights, self.agrees)

    def is_cut(self, threshold: float) -> bool:
        """Whether the target frame starts a new shot: the fraction of its pixels whose
        motion is consistent collapses below ``threshold`` (RenderOptions.cut_threshold)."""
        return consistent_fraction(self.weights) < threshold

    @staticmethod
    def still(weights: np.ndarray) -> Motion:
        """No motion (a source already carried onto the target), with these weights."""
        return Motion(np.zeros((*weights.shape, 2), np.float32), weights)

    def warp(self, source_image: np.ndarray) -> np.ndarray:
        """``source_image`` (a source frame, or a map over it) moved onto the target frame;
        a stylized frame is moved with :meth:`carry`. Pixels that come from beyond the
        source's edges get the source mirrored there (as VGG's
        convolutions see beyond the edge, ``vgg.MirrorPaddedConv``): painted strokes, where
        repeating the edge pixel would smear streaks across the strip a camera move
        reveals."""
        map_x, map_y = sample_grid(self.flow)
        return cv2.remap(source_image, map_x, map_y, interpolation=HISTORY_INTERPOLATION,
                         borderMode=cv2.BORDER_REFLECT_101)

    def carry(self, stylized: np.ndarray) -> np.ndarray:
        """``stylized`` (a stylized source frame, uint8 RGB) moved onto the target frame
        with its finest strokes kept: sampled from its band-limited interpolant
        (:func:`_band_limited_remap`), where :meth:`warp`'s Lanczos softens the strokes near
        the Nyquist frequency at every sub-pixel shift, and the temporal loss then holds the
        next frame to that softer picture. Exact where the flow moves by whole pixels;
        beyond the source's edges mirrored as :meth:`warp` mirrors it. (What it replaced
        and the measurements: docs/benchmarks.md, "The history sampled band-limited".)"""
        map_x, map_y = sample_grid(self.flow)
        carried = _band_limited_remap(stylized, map_x, map_y)
        return np.clip(np.round(carried), 0, 255).astype(np.uint8)


def _band_limited_remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """``image`` sampled at (map_x, map_y) from its band-limited interpolant, float32: the
    picture with twice the samples along each axis (its spectrum, mirrored at the edges as
    the DCT sees it, padded with zeros: exact at the pixels, and every frequency below
    Nyquist kept), then Lanczos on that grid, where the original frequencies lie in the half
    Lanczos passes nearly whole. Beyond the edges the picture is mirrored as :meth:`Motion.warp`
    mirrors it."""
    upsampled = image.astype(np.float32)
    for axis in (0, 1):
        count = upsampled.shape[axis]
        mirrored = np.concatenate([upsampled, np.flip(upsampled, axis)], axis)
        spectrum = np.fft.rfft(mirrored, axis=axis)
        nyquist = [slice(None)] * upsampled.ndim
        nyquist[axis] = slice(count, count + 1)
        spectrum[tuple(nyquist)] *= 0.5  # split between the two halves of the padded one
        twice = np.fft.irfft(spectrum, n=4 * count, axis=axis) * 2
        # samples 0, 2, ... are the pixels; 2 * count - 2 is the last one
        upsampled = np.take(twice, np.arange(2 * count - 1), axis=axis).astype(np.float32)
    return cv2.remap(upsampled, 2 * map_x, 2 * map_y, interpolation=HISTORY_INTERPOLATION,
                     borderMode=cv2.BORDER_REFLECT_101)


def pair_motion(first: np.ndarray, second: np.ndarray, method: str = "dis",
                preset: str = FLOW_PRESET) -> tuple[Motion, Motion]:
    """Motions of ``second`` towards ``first`` and of ``first`` towards ``second``."""
    backward = compute_flow(second, first, method, preset)
    forward = compute_flow(first, second, method, preset)
    return (_motion(second, first, backward, forward), _motion(first, second, forward, backward))


def _motion(target: np.ndarray, source: np.ndarray, flow: np.ndarray,
            reverse: np.ndarray) -> Motion:
    """The stored motion of ``target`` towards ``source`` from the flows both ways; the
    content agreement is taken with the stored flow, as renders will carry frames."""
    motion = Motion(flow, consistency_weights(flow, reverse)).stored()
    agrees = content_agrees(target, motion.warp(source), motion.flow, AGREEMENT_TOLERANCE)
    return Motion(motion.flow, motion.weights, agrees)


class MotionCache:
    """``motion/TTTTTT-SSSSSS.npz`` files of a work folder: the motion of frame T towards S.
    File names count frames from the start of the rendered clip; a user that numbers its
    frames from elsewhere (a Ray chunk from its first frame) gives that frame's ``offset``,
    so that the video's scene-cut pass and all its chunks share one cache."""

    def __init__(self, folder: Path, offset: int = 0) -> None:
        self.folder = Path(folder)
        self.offset = offset

    def path(self, target: int, source: int) -> Path:
        return self.folder / f"{target + self.offset:06d}-{source + self.offset:06d}.npz"

    def load(self, target: int, source: int) -> Motion | None:
        path = self.path(target, source)
        if not path.is_file():
            return None
        with np.load(path) as data:
            if "agrees" not in data:  # written by an earlier stylevid: computed again
                return None
            return Motion(data["flow"].astype(np.float32),
                          data["weights"].astype(np.float32) / 255.0,
                          data["agrees"].astype(bool))

    def save(self, target: int, source: int, motion: Motion) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path(target, source)) as tmp, open(tmp, "wb") as handle:
            agrees = (motion.agrees if motion.agrees is not None
                      else np.zeros(motion.weights.shape, bool))  # the same hold
            np.savez(handle, flow=motion.flow.astype(np.float16),
                     weights=np.round(motion.weights * 255).astype(np.uint8), agrees=agrees)

    def get(self, target: int, source: int, frames: Callable[[int], np.ndarray],
            method: str = "dis", preset: str = FLOW_PRESET) -> Motion:
        """The motion of ``target`` towards ``source``, computed (both ways) on a miss;
        ``frames(i)`` gives content frame i."""
        cached = self.load(target, source)
        if cached is not None:
            return cached
        towards_source, towards_target = pair_motion(frames(source), frames(target),
                                                     method, preset)
        self.save(target, source, towards_source)
        self.save(source, target, towards_target)
        return towards_source


def carried_weights(cache: MotionCache, path: Sequence[int],
                    frame: Callable[[int], np.ndarray], method: str, preset: str
                    ) -> Iterator[tuple[int, Motion, np.ndarray]]:
    """How reliably each pixel of every later frame of ``path`` is reached from frame
    ``path[0]`` along the cached flow, frame by frame: (frame, its motion towards the frame
    before it on the path, weights), the weights the product of each step's hold
    (:attr:`Motion.hold`) along the way (0 where any step was unreliable). ``frame(i)``
    gives content frame i, should a flow be missing."""
    weights: np.ndarray | None = None
    for source, target in zip(path, path[1:], strict=False):
        motion = cache.get(target, source, frame, method, preset)
        weights = motion.hold if weights is None else motion.hold * motion.warp(weights)
        yield target, motion, weights


def carried(image: np.ndarray, cache: MotionCache, path: Sequence[int],
            frame: Callable[[int], np.ndarray], method: str, preset: str
            ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``image`` (a stylized frame ``path[0]``) carried frame by frame along the cached
    flow (:meth:`Motion.carry`) to each later frame of ``path`` (small motions, accurate
    flow): (frame, image there, weights as :func:`carried_weights` gives them)."""
    return carried_along(image, carried_weights(cache, path, frame, method, preset))


def carried_along(image: np.ndarray, steps: Iterable[tuple[int, Motion, np.ndarray]]
                  ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``image`` carried along ``steps`` that :func:`carried_weights` has given."""
    for target, motion, weights in steps:
        image = motion.carry(image)
        yield target, image, weights


class MotionPrefetcher:
    """Fills the cache for upcoming frame pairs in worker threads while the current frame is
    optimized (OpenCV releases the GIL)."""

    def __init__(self, cache: MotionCache, method: str, preset: str, workers: int = 2) -> None:
        self.cache, self.method, self.preset = cache, method, preset
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flow")

    def submit(self, target: int, source: int, target_frame: np.ndarray,
               source_frame: np.ndarray) -> Future[Motion]:
        frames = {target: target_frame, source: source_frame}
        return self.pool.submit(self.cache.get, target, source, frames.__getitem__,
                                self.method, self.preset)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
