"""Synthetic test clips with exactly known motion: a camera pan over a still photo, a camera
zooming into one, and a round cut-out moving over a still background (occlusions and
disocclusions)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
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


def zoom_frames(photo: np.ndarray, frames: int, width: int, height: int,
                rate: float = 1.01) -> tuple[list[np.ndarray], np.ndarray]:
    """A camera zooming into the centre of ``photo`` by ``rate`` a frame (frame 0 shows the
    largest centred crop of the frame's aspect; a ``rate`` below 1 pulls back, ending on
    that crop), each frame sampled from the photo with an anti-aliasing blur; and the exact
    forward flow, the same for every pair: the pixel centred at x + 1/2 of frame t is at
    c + (x + 1/2 - c) * rate in frame t+1 (c: the frame's centre)."""
    if rate < 1:  # the zoom in by 1 / rate, played backwards
        images = _zoomed_in(photo, frames, width, height, 1 / rate)[::-1]
    else:
        images = _zoomed_in(photo, frames, width, height, rate)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    flow = np.stack([(xs + 0.5 - width / 2), (ys + 0.5 - height / 2)], -1) * (rate - 1)
    return images, flow.astype(np.float32)


def _zoomed_in(photo: np.ndarray, frames: int, width: int, height: int,
               rate: float) -> list[np.ndarray]:
    """The frames of :func:`zoom_frames` zooming in (``rate`` >= 1)."""
    photo_height, photo_width = photo.shape[:2]
    crop_width = min(photo_width, photo_height * width / height)
    images = []
    for t in range(frames):
        scale = crop_width / rate**t / width  # photo pixels a frame pixel
        blurred = cv2.GaussianBlur(photo, (0, 0), 0.5 * scale) if scale > 1 else photo
        # frame pixel centre x + 1/2 shows the photo at centre + (x + 1/2 - w/2) * scale
        affine = np.array([[scale, 0, photo_width / 2 + (0.5 - width / 2) * scale - 0.5],
                           [0, scale, photo_height / 2 + (0.5 - height / 2) * scale - 0.5]])
        images.append(cv2.warpAffine(blurred, affine, (width, height),
                                     flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_REFLECT_101))
    return images


def moving_disc_frames(background: np.ndarray, foreground: np.ndarray, frames: int,
                       width: int, height: int,
                       step: tuple[int, int] = (1, 1)) -> tuple[list[np.ndarray],
                                                                list[np.ndarray]]:
    """A disc cut from ``foreground`` (diameter half the frame's height) moving by ``step``
    pixels a frame over ``background`` (both scaled to fill the frame), bouncing off the
    frame's edges; and the exact forward flows (frame t -> t+1, (H, W, 2)): the disc's step
    on the disc, 0 on the background, NaN where the background is covered in frame t+1."""
    radius = max(2, height // 4)
    still = resize_to(background, height, width)
    texture = resize_to(foreground, 2 * radius + 1, 2 * radius + 1)
    ys, xs = np.mgrid[0:height, 0:width]
    centre, velocity = np.array([radius + 1, radius + 1]), np.array(step)
    centres = []
    for _ in range(frames):
        centres.append(centre.copy())
        for axis, size in enumerate((width, height)):
            ahead = centre[axis] + velocity[axis]
            if ahead < radius or ahead > size - 1 - radius:
                velocity[axis] = -velocity[axis]
        centre = centre + velocity
    images, flows = [], []
    for index, (cx, cy) in enumerate(centres):
        on_disc = (xs - cx) ** 2 + (ys - cy) ** 2 <= radius**2
        image = still.copy()
        image[on_disc] = texture[ys[on_disc] - cy + radius, xs[on_disc] - cx + radius]
        images.append(image)
        if index + 1 < frames:
            nx, ny = centres[index + 1]
            flow = np.zeros((height, width, 2), np.float32)
            flow[on_disc] = (nx - cx, ny - cy)
            covered = ((xs - nx) ** 2 + (ys - ny) ** 2 <= radius**2) & ~on_disc
            flow[covered] = np.nan
            flows.append(flow)
    return images, flows


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
