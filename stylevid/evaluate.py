"""Quality of a stylized video against its original, frame by frame: temporal consistency
(warping error, Lai et al. 2018), sharpness, and optionally style and content loss."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import zip_longest
from pathlib import Path

import cv2
import numpy as np

from .errors import UserError
from .flow import read_flo
from .motion import pair_motion
from .temporal import warping_error
from .video import frame_order, output_size, probe, read_frames


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image (0-255): falls as a picture blurs."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def truth_mask(forward: np.ndarray) -> np.ndarray:
    """The pixels of a frame whose ground-truth forward flow (NaN where unknown) is known and
    lands inside the next frame, (H, W) bool."""
    h, w = forward.shape[:2]
    flow = np.nan_to_num(forward)
    ys, xs = np.mgrid[0:h, 0:w]
    inside = (xs + flow[..., 0] >= 0) & (xs + flow[..., 0] <= w - 1) & \
        (ys + flow[..., 1] >= 0) & (ys + flow[..., 1] <= h - 1)
    return np.isfinite(forward).all(-1) & inside


def truth_warping_error(previous: np.ndarray, current: np.ndarray, forward: np.ndarray,
                        where: np.ndarray | None = None) -> float:
    """Warping error of a frame pair under a ground-truth forward flow (previous -> current,
    NaN where unknown): the current frame brought back onto the previous one, over the pixels
    of :func:`truth_mask` (and of ``where``, a bool mask of the previous frame, if given)."""
    mask = truth_mask(forward)
    if where is not None:
        mask &= where
    return warping_error([current, previous], [np.nan_to_num(forward)],
                         [mask.astype(np.float32)])


def read_truth(path: str | Path) -> list[np.ndarray]:
    """Ground-truth forward flows: one ``.flo`` file (frames 0 -> 1) or a folder of them,
    in name order (frame i -> i+1)."""
    path = Path(path)
    files = sorted(path.glob("*.flo"), key=frame_order) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise UserError(f"no .flo files at {path}")
    return [read_flo(f) for f in files]


@dataclass
class ClipReport:
    """Per-frame measurements (index 0 has no warping error: NaN) and their summaries."""

    warping: list[float] = field(default_factory=list)
    warping_truth: list[float] = field(default_factory=list)
    sharpness: list[float] = field(default_factory=list)
    reference_sharpness: list[float] = field(default_factory=list)
    style_loss: list[float] = field(default_factory=list)
    content_loss: list[float] = field(default_factory=list)

    def series(self) -> dict[str, list[float]]:
        return {name: values for name, values in vars(self).items() if values}

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean over the clip and over its last quarter, per measurement."""
        out = {}
        for name, values in self.series().items():
            array = np.array(values, np.float64)
            quarter = array[len(array) - max(1, len(array) // 4):]
            out[name] = {"clip": float(np.nanmean(array)), "last_quarter": float(
                np.nanmean(quarter)) if np.isfinite(quarter).any() else math.nan}
        return out


def _frames(path: str | Path, size: tuple[int, int], start: float | None = None,
            duration: float | None = None, fps: Fraction | None = None) -> Iterator[np.ndarray]:
    return read_frames(path, probe(path, fps), *size, start, duration)


class LossMeter:
    """Gatys style loss (against a style picture) and content loss (against the original
    frame) of single frames, with stylevid's own encoder and default layers."""

    def __init__(self, style: np.ndarray, device: str = "cpu") -> None:
        from .config import StyleParams
        from .engine import StyleImage, Stylizer

        self.params = StyleParams(precision="fp32")
        self.stylizer = Stylizer(self.params, device)
        self.style = StyleImage(style)

    def __call__(self, frame: np.ndarray, original: np.ndarray) -> tuple[float, float]:
        import torch

        from .engine import Region
        from .imageio import to_tensor

        device = self.stylizer.device
        objective = self.stylizer.objective(to_tensor(original, device),
                                            [Region(None, (self.style,))])
        with torch.no_grad():
            terms = objective.terms(to_tensor(frame, device))
        p = self.params
        return float(terms["style"]) / p.style_weight, float(terms["content"]) / p.content_weight


def evaluate_frames(pairs: Iterable[tuple[np.ndarray, np.ndarray]], *,
                    truth: Sequence[np.ndarray] | None = None,
                    baselines: Iterable[np.ndarray] | None = None,
                    losses: LossMeter | None = None) -> ClipReport:
    """Measure consecutive (stylized, original) frame pairs, frame by frame: the warping error
    of each frame against the one before under the original's DIS flow and Ruder's
    consistency masks (and under ``truth``, ground-truth forward flows frame i -> i+1, when
    given), sharpness (also of ``baselines``, or else of the originals, for comparison) and
    optionally style and content loss."""
    others = iter(baselines) if baselines is not None else None
    report = ClipReport()
    previous: tuple[np.ndarray, np.ndarray] | None = None
    for index, (frame, original) in enumerate(pairs):
        error = truth_error = math.nan
        if previous is not None:
            motion = pair_motion(previous[1], original)[0]
            error = warping_error([previous[0], frame], [motion.flow], [motion.weights])
            if truth is not None and index - 1 < len(truth):
                height, width = frame.shape[:2]
                truth_error = truth_warping_error(previous[0], frame,
                                                  _fit_flow(truth[index - 1], (width, height)))
        report.warping.append(error)
        if truth is not None:
            report.warping_truth.append(truth_error)
        report.sharpness.append(sharpness(frame))
        other = next(others, None) if others is not None else original
        report.reference_sharpness.append(sharpness(other) if other is not None else math.nan)
        if losses is not None:
            style, content = losses(frame, original)
            report.style_loss.append(style)
            report.content_loss.append(content)
        previous = (frame, original)
    return report


def evaluate_clip(stylized: str | Path, reference: str | Path, *, size: int | None = None,
                  start: float | None = None, duration: float | None = None,
                  truth: Sequence[np.ndarray] | None = None,
                  baseline: str | Path | None = None,
                  losses: LossMeter | None = None) -> ClipReport:
    """Measure the video ``stylized`` frame by frame against the original ``reference``
    (:func:`evaluate_frames`); ``baseline``: a video whose sharpness is taken for comparison
    (e.g. an independent render) instead of the original's."""
    info = probe(stylized)
    dims = output_size(info, size)
    frames = _frames(stylized, dims)
    originals = _frames(reference, dims, start, duration, info.fps)  # as rendered (--fps)
    counts = [0, 0]

    def matched() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for frame, original in zip_longest(frames, originals):
            counts[0] += frame is not None
            counts[1] += original is not None
            if frame is not None and original is not None:
                yield frame, original

    report = evaluate_frames(matched(), truth=truth, losses=losses,
                             baselines=_frames(baseline, dims) if baseline is not None else None)
    if abs(counts[0] - counts[1]) > 1:
        raise UserError(f"{stylized} has {counts[0]} frames but the reference has {counts[1]} "
                        "(pass the --start/--duration used for the render)")
    if len(report.warping) < 2:
        raise UserError("need at least two frames to measure temporal consistency")
    return report


def _fit_flow(flow: np.ndarray, dims: tuple[int, int]) -> np.ndarray:
    """A flow resized to (width, height), its vectors scaled with it."""
    width, height = dims
    if flow.shape[:2] == (height, width):
        return flow
    sx, sy = width / flow.shape[1], height / flow.shape[0]
    resized = cv2.resize(flow, (width, height), interpolation=cv2.INTER_NEAREST)
    return resized * np.array([sx, sy], np.float32)


def plot_report(report: ClipReport, path: str | Path, title: str = "") -> None:
    """PNG of the per-frame curves: warping error, sharpness, and losses when measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .fsutil import atomic_path

    panels = 2 + bool(report.style_loss)
    fig, axes = plt.subplots(panels, 1, figsize=(9, 2.6 * panels), sharex=True)
    frames = np.arange(len(report.warping))
    axes[0].plot(frames, report.warping, label="warping error (DIS flow of the original)")
    if report.warping_truth:
        axes[0].plot(frames, report.warping_truth, label="warping error (ground-truth flow)")
    axes[0].set_ylabel("warping error")
    axes[1].plot(frames, report.sharpness, label="stylized")
    axes[1].plot(frames, report.reference_sharpness, label="reference", alpha=0.7)
    axes[1].set_ylabel("Laplacian variance")
    if report.style_loss:
        axes[2].plot(frames, report.style_loss, label="style loss")
        axes[2].set_ylabel("style loss")
    for axis in axes:
        axis.legend(loc="best", fontsize=8)
        axis.grid(alpha=0.3)
    axes[-1].set_xlabel("frame")
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
