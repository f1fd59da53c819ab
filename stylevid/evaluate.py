"""Temporal-consistency measurement of a stylized video against its original."""

from __future__ import annotations

from itertools import zip_longest
from pathlib import Path

import numpy as np

from .errors import UserError
from .motion import pair_motion
from .temporal import warping_error
from .video import output_size, probe, read_frames


def video_warping_error(stylized: str | Path, reference: str | Path, *, size: int | None = None,
                        start: float | None = None, duration: float | None = None) -> float:
    """Lai et al. warping error of ``stylized``, with flow and occlusion masks computed on the
    original ``reference`` frames (DIS flow, Ruder's consistency check)."""
    info = probe(stylized)
    width, height = output_size(info, size)
    frames = read_frames(stylized, info, width, height)
    originals = read_frames(reference, probe(reference), width, height, start, duration)
    errors: list[float] = []
    counts = [0, 0]
    previous: tuple[np.ndarray, np.ndarray] | None = None
    for frame, original in zip_longest(frames, originals):
        counts[0] += frame is not None
        counts[1] += original is not None
        if frame is None or original is None:
            continue
        if previous is not None:
            motion = pair_motion(previous[1], original)[0]
            errors.append(warping_error([previous[0], frame], [motion.flow],
                                        [motion.weights]))
        previous = (frame, original)
    if abs(counts[0] - counts[1]) > 1:
        raise UserError(f"{stylized} has {counts[0]} frames but the reference has {counts[1]} "
                        "(pass the --start/--duration used for the render)")
    if not errors:
        raise UserError("need at least two frames to measure temporal consistency")
    return float(np.mean(errors))
