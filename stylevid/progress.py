"""Progress on the terminal: iterations of one picture, frames of a video, frames of a batch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from torch import Tensor
from tqdm import tqdm

from .optimize import FORECAST_FROM, forecast_stop

if TYPE_CHECKING:
    from .distributed import BatchProgress

# While a frame is optimised, the frame bar shows its iterations at most this often.
_REFRESH_SECONDS = 1.0
# tqdm's line without its own rate and time left (see _Pace).
_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"


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
    the 30th iteration on, and unknown before (the cap ``iterations`` if it is at most 30).
    ``sizes`` are the levels' longest sides
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
        if forecast is None and self.iterations <= FORECAST_FROM:
            forecast = self.iterations  # the cap comes before any forecast
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


class _Pace:
    """Time left from the mean time of the items done since the first one seen (what came
    before it, a shot's first frame or a batch's flow and keyframes, is no measure of the
    rest), counted down between items. tqdm's own rate counts that first stretch, and, if
    the bar is refreshed while an item runs, climbs with the time the item takes."""

    def __init__(self) -> None:
        self.mark: tuple[int, float] | None = None  # items done, at
        self.seconds: float | None = None  # mean time of an item since the mark
        self.done_at = 0.0

    def done(self, count: int, now: float) -> None:
        """``count`` items are done at ``now``."""
        if self.mark is None:
            self.mark = (count, now)
        elif count > self.mark[0]:
            self.seconds = (now - self.mark[1]) / (count - self.mark[0])
        self.done_at = now

    def left(self, remaining: int, now: float) -> str | None:
        """The time ``remaining`` items take, as tqdm writes it (None: not known yet)."""
        if self.seconds is None:
            return None
        return tqdm.format_interval(max(self.seconds * remaining - (now - self.done_at), 0.0))


class FrameBar(_Bar):
    """tqdm bar over video frames with the time left, iterations per second and the loss.

    Before the first frame is done (minutes at the default size), ``first_frame`` shows its
    iterations; then, during a long frame, the bar shows the frame's iterations each second.
    The time left is from the frames after the first (see _Pace).
    """

    def __init__(self, *, quiet: bool, first_frame: IterationBar | None,
                 desc: str = "render") -> None:
        self.quiet, self.desc, self.first_frame = quiet, desc, first_frame
        self.bar: tqdm | None = None
        self.iterations = self.frame_iterations = 0
        self.started = self.refreshed = time.monotonic()
        self.pace = _Pace()

    def step(self, step: int, loss: float, image: Tensor) -> None:
        self.iterations += 1
        self.frame_iterations += 1
        if self.bar is None:
            if self.first_frame is not None:
                self.first_frame(step, loss, image)
        elif time.monotonic() - self.refreshed >= _REFRESH_SECONDS:
            self._show(loss)

    def frame(self, index: int, total: int, loss: float) -> None:
        if self.bar is None:
            if self.first_frame is not None:
                self.first_frame.close()
                self.first_frame = None
            self.bar = tqdm(total=total, initial=index + 1, desc=self.desc, unit="frame",
                            disable=self.quiet, dynamic_ncols=True, bar_format=_FORMAT)
        self.pace.done(index + 1, time.monotonic())
        self.bar.total = max(self.bar.total, total)
        self.bar.n = index + 1
        self.frame_iterations = 0
        self._show(loss)

    def encoding(self, written: int, total: int) -> None:
        """A bar over the frames written to the output video, after the frames' bar."""
        if self.desc != "encode":
            self.close()
            self.desc = "encode"
            self.bar = tqdm(total=total, desc=self.desc, unit="frame", disable=self.quiet,
                            dynamic_ncols=True)
        assert self.bar is not None
        self.bar.update(min(written, total) - self.bar.n)

    def start_pass(self, pass_index: int) -> None:
        """A new bar for pass ``pass_index`` of a multi-pass render."""
        self.close()
        self.desc, self.pace = f"pass {pass_index}", _Pace()

    def close(self) -> None:
        if self.first_frame is not None:
            self.first_frame.close()
        super().close()

    def _show(self, loss: float) -> None:
        assert self.bar is not None
        self.refreshed = time.monotonic()
        postfix = {}
        left = self.pace.left(self.bar.total - self.bar.n, self.refreshed)
        if left is not None:
            postfix["left"] = left
            postfix["s/frame"] = f"{self.pace.seconds:.1f}"
        if self.iterations:  # none yet in a resumed render
            postfix["it/s"] = f"{self.iterations / max(self.refreshed - self.started, 1e-9):.1f}"
        if not math.isnan(loss):  # a resumed render's frames done
            postfix["loss"] = f"{loss:.4g}"
        if self.frame_iterations:
            postfix["frame it"] = str(self.frame_iterations)
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.refresh()


class ClusterBar(_Bar):
    """tqdm bar over the frames of every video of a distributed render, with the videos
    finished and what the workers are doing (minutes of flow and keyframes come before the
    first frame of a chunk); the time left is from the frames after the first written (see
    _Pace)."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: tqdm | None = None
        self.pace = _Pace()

    def __call__(self, progress: BatchProgress) -> None:
        now = time.monotonic()
        if self.bar is None:
            self.bar = tqdm(total=progress.frames_total, desc="frames", unit="frame",
                            disable=self.quiet, dynamic_ncols=True, bar_format=_FORMAT)
        if progress.frames and progress.frames != self.bar.n:
            self.pace.done(progress.frames, now)
        self.bar.total = max(progress.frames_total, progress.frames)
        self.bar.n = progress.frames
        left = self.pace.left(self.bar.total - progress.frames, now)
        running = progress.describe_running()
        parts = [f"left {left}" if left else "",
                 f"videos {progress.videos}/{progress.videos_total}",
                 f"running {running}" if running else ""]
        self.bar.set_postfix_str(", ".join(part for part in parts if part), refresh=False)
        self.bar.refresh()
