"""Temporal-consistency measurement of a stylized video against its original."""

from __future__ import annotations

from pathlib import Path

from .errors import UserError
from .flow import compute_flow
from .temporal import consistency_weights, warping_error
from .video import output_size, probe, read_frames


def video_warping_error(stylized: str | Path, reference: str | Path, *, size: int | None = None,
                        start: float | None = None, duration: float | None = None) -> float:
    """Lai et al. warping error of ``stylized``, with flow and occlusion masks computed on the
    original ``reference`` frames (DIS flow, Ruder's consistency check)."""
    info = probe(stylized)
    width, height = output_size(info, size)
    frames = list(read_frames(stylized, info, width, height))
    ref_info = probe(reference)
    originals = list(read_frames(reference, ref_info, width, height, start, duration))
    count = min(len(frames), len(originals))
    if count < 2:
        raise UserError("need at least two frames to measure temporal consistency")
    if abs(len(frames) - len(originals)) > 1:
        raise UserError(f"{stylized} has {len(frames)} frames but the reference has "
                        f"{len(originals)} (pass the --start/--duration used for the render)")
    flows, masks = [], []
    for t in range(1, count):
        backward = compute_flow(originals[t], originals[t - 1])
        forward = compute_flow(originals[t - 1], originals[t])
        flows.append(backward)
        masks.append(consistency_weights(backward, forward))
    return warping_error(frames[:count], flows, masks)



