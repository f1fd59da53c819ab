"""Synthetic test clips with exactly known motion: a camera pan over a still photo."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from .fsutil import atomic_path
from .imageio import resize_to
from .video import ffmpeg_exe


def pan_frames(photo: np.ndarray, frames: int, width: int, height: int,
               step: int = 2) -> list[np.ndarray]:
    """Crops of ``photo`` (scaled to ``height``) moving right by ``step`` pixels a frame."""
    scale = height / photo.shape[0]
    wide = resize_to(photo, height, max(width + step * frames, round(photo.shape[1] * scale)))
    return [wide[:, i * step:i * step + width].copy() for i in range(frames)]


def pan_flow(width: int, height: int, step: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth of :func:`pan_frames`: backward flow (frame t -> t-1) and its mask of
    pixels that were visible in frame t-1."""
    backward = np.zeros((height, width, 2), np.float32)
    backward[..., 0] = step
    mask = np.ones((height, width), np.float32)
    mask[:, width - step:] = 0
    return backward, mask


def write_clip(frames: list[np.ndarray], path: Path, fps: int = 30, audio: bool = True) -> None:
    """Encode RGB frames to H.264 (lossless-ish, crf 1) with a 440 Hz tone when ``audio``."""
    height, width = frames[0].shape[:2]
    seconds = len(frames) / fps
    args = [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo",
            "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    with atomic_path(path) as tmp:
        args += ["-c:v", "libx264", "-crf", "1", "-pix_fmt", "yuv444p"]
        args += ["-c:a", "aac", "-shortest"] if audio else []
        subprocess.run(args + [str(tmp)], input=b"".join(f.tobytes() for f in frames),
                       check=True, capture_output=True)
