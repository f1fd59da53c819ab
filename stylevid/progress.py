"""Progress on the terminal: iterations of one picture, frames of a video, frames of a batch."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from torch import Tensor
from tqdm import tqdm

from .optimize import forecast_stop

if TYPE_CHECKING:
    from .distributed import BatchProgress

# While a frame is optimised, the frame bar shows its iterations at most this often.
_REFRESH_SECONDS = 1.0


class _Bar:
    """Holds a tqdm bar that is opened lazily (input errors print no empty bar)."""

    bar: tqdm | None = None

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class IterationBar(_Bar):
    """One tqdm bar per coarse-to-fine level of one picture, named by the level's size,
    over its iterations, with the loss; writes snapshots.

    A level stops on its loss plateau long before ``iterations`` as a rule, so the bar's
    total (and the time left) is the forecast of that stop (``optimize.forecast_stop``) from
    the 30th iteration on, and unknown before. ``sizes`` are the levels' longest sides
    (``StyleParams.scale_sizes``): a level at one of them but the last is a coarse one, with
    ``coarse_tolerance``; any other is the final one, with ``tolerance``.
    """

    def __init__(self, *, iterations: int, sizes: list[int], tolerance: float,
                 coarse_tolerance: float, quiet: bool, desc: str,
                 snapshot: Callable[[int, Tensor], None] | None = None) -> None:
        self.iterations, self.coarse_sizes = iterations, sizes[:-1]
        self.tolerance, self.coarse_tolerance = tolerance, coarse_tolerance
        self.quiet, self.desc, self.snapshot = quiet, desc, snapshot
        self.shape: tuple[int, ...] = ()
        self.losses: list[float] = []

    def __call__(self, step: int, loss: float, image: Tensor) -> None:
        shape = tuple(image.shape[-2:])
        if self.bar is None or shape != self.shape:
            self._open_level(shape)
        assert self.bar is not None
        self.losses.append(loss)
        tolerance = self.coarse_tolerance if self._coarse() else self.tolerance
        forecast = forecast_stop(self.losses, tolerance) if tolerance > 0 else self.iterations
        self.bar.total = None if forecast is None else min(forecast, self.iterations)
        self.bar.n = len(self.losses)
        self.bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        self.bar.refresh()
        if self.snapshot is not None:
            self.snapshot(step, image)

    def _coarse(self) -> bool:
        return max(self.shape) in self.coarse_sizes

    def _open_level(self, shape: tuple[int, ...]) -> None:
        self.close()
        self.shape, self.losses = shape, []
        label = f"{self.desc} {shape[1]}x{shape[0]}" + (" (coarse)" if self._coarse() else "")
        self.bar = tqdm(desc=label, unit="it", disable=self.quiet, dynamic_ncols=True)


class FrameBar(_Bar):
    """tqdm bar over video frames with the time left, iterations per second and the loss.

    Before the first frame is done (minutes at the default size), ``first_frame`` shows its
    iterations; then, during a long frame, the bar shows the frame's iterations each second.
    The time left is the frames left times the mean time of the frames done since the first
    (a shot's first frame takes many times a later one's), counted down during a frame; not
    tqdm's rate, which a long frame (one that paints keyframes ahead) drags up while it runs.
    """

    _FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"

    def __init__(self, *, quiet: bool, first_frame: IterationBar | None,
                 desc: str = "render") -> None:
        self.quiet, self.desc, self.first_frame = quiet, desc, first_frame
        self.bar: tqdm | None = None
        self.iterations = self.frame_iterations = 0
        self.started = self.refreshed = time.monotonic()
        self.timed_from: tuple[int, float] = (0, self.started)  # frames done, at
        self.frame_seconds: float | None = None  # mean of the frames done since
        self.done_at = self.started

    def step(self, step: int, loss: float, image: Tensor) -> None:
        self.iterations += 1
        self.frame_iterations += 1
        if self.bar is None:
            if self.first_frame is not None:
                self.first_frame(step, loss, image)
        elif time.monotonic() - self.refreshed >= _REFRESH_SECONDS:
            self._show(loss)

    def frame(self, index: int, total: int, loss: float) -> None:
        self.done_at = time.monotonic()
        if self.bar is None:
            if self.first_frame is not None:
                self.first_frame.close()
                self.first_frame = None
            self.bar = tqdm(total=total, initial=index, desc=self.desc, unit="frame",
                            disable=self.quiet, dynamic_ncols=True, bar_format=self._FORMAT)
            self.timed_from = (index + 1, self.done_at)
        else:
            frames, since = self.timed_from
            self.frame_seconds = (self.done_at - since) / max(index + 1 - frames, 1)
        self.bar.total = max(self.bar.total, total)
        self.bar.n = index + 1
        self.frame_iterations = 0
        self._show(loss)

    def start_pass(self, pass_index: int) -> None:
        """A new bar for pass ``pass_index`` of a multi-pass render."""
        self.close()
        self.desc, self.frame_seconds = f"pass {pass_index}", None

    def close(self) -> None:
        if self.first_frame is not None:
            self.first_frame.close()
        super().close()

    def _show(self, loss: float) -> None:
        assert self.bar is not None
        self.refreshed = time.monotonic()
        postfix = {}
        if self.frame_seconds is not None:
            left = self.frame_seconds * (self.bar.total - self.bar.n) \
                - (self.refreshed - self.done_at)
            postfix["left"] = tqdm.format_interval(max(left, 0.0))
            postfix["s/frame"] = f"{self.frame_seconds:.1f}"
        postfix["it/s"] = f"{self.iterations / max(self.refreshed - self.started, 1e-9):.1f}"
        postfix["loss"] = f"{loss:.4g}"
        if self.frame_iterations:
            postfix["frame it"] = str(self.frame_iterations)
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.refresh()


class ClusterBar(_Bar):
    """tqdm bar over the frames of every video of a distributed render, with the videos
    finished and what the workers are doing (minutes of flow and keyframes come before the
    first frame of a chunk). The time left is from the rate of frames since the first frame
    was written, not since the start, which counted those minutes too."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: tqdm | None = None
        self.first_frames: tuple[int, float] | None = None  # frames, at

    def __call__(self, progress: BatchProgress) -> None:
        now = time.monotonic()
        if self.bar is None:
            self.bar = tqdm(total=progress.frames_total, desc="frames", unit="frame",
                            disable=self.quiet, dynamic_ncols=True,
                            bar_format=FrameBar._FORMAT)
        if self.first_frames is None and progress.frames:
            self.first_frames = (progress.frames, now)
        self.bar.total = max(progress.frames_total, progress.frames)
        self.bar.n = progress.frames
        parts = [f"videos {progress.videos}/{progress.videos_total}"]
        if self.first_frames is not None and progress.frames > self.first_frames[0]:
            frames, since = self.first_frames
            rate = (progress.frames - frames) / max(now - since, 1e-9)
            left = (self.bar.total - progress.frames) / rate
            parts.insert(0, f"left {tqdm.format_interval(left)}")
        running = progress.describe_running()
        if running:
            parts.append(f"running {running}")
        self.bar.set_postfix_str(", ".join(parts), refresh=False)
        self.bar.refresh()
