"""Pictures and clips for the tests: the real ones from ../shared/data where it is, else
generated ones of the same kind, so that every end-to-end test runs from a plain clone.

Generated stand-ins: skimage's cat cropped to 4:3 as the photo; stylevid's procedural
brush-stroke paintings as the styles; two complementary masks of the photo; a line drawing
of a house drawn with OpenCV; a clip panning over the photo with a tone as its sound.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from stylevid.imageio import read_image
from stylevid.painting import brush_painting
from stylevid.synthetic import pan_frames, write_clip


@dataclass(frozen=True)
class Assets:
    photo: Path  # a 4:3 photograph (content)
    painting: Path  # a painting with strong strokes (style)
    second_painting: Path  # a painting of another palette and texture
    third_painting: Path  # another one (a sketch's colour reference)
    mask_a: Path  # white where region 1 of the photo is (binary)
    mask_b: Path  # white where region 2 is (the rest of the photo)
    masked_painting: Path  # a painting with two parts (for --style-mask)
    painting_mask: Path  # white on one part of ``masked_painting``
    painting_mask_rest: Path  # white on the rest of it
    sketch: Path  # a line drawing: dark closed outlines on white paper
    clip: Path  # a short video with sound, 30 fps
    real: bool  # whether these are the real files of ../shared/data


def real_assets(data: Path) -> Assets:
    """The files of ../shared/data (see its SOURCES.md)."""
    masks = data / "masks"
    return Assets(
        photo=data / "content/tubingen.jpg",
        painting=data / "style/starry_night.jpg",
        second_painting=data / "style/the_scream.jpg",
        third_painting=data / "style/wave.jpg",
        mask_a=masks / "neural_style_pt_segments/tubingen1a.png",
        mask_b=masks / "neural_style_pt_segments/tubingen1b.png",
        masked_painting=masks / "gatys_spatial_control/fig2_style1.jpg",
        painting_mask=masks / "gatys_spatial_control/fig2_style1_sky.jpg",
        painting_mask_rest=masks / "gatys_spatial_control/fig2_style1_nosky.jpg",
        sketch=data / "sketch/user_1.png",
        clip=data / "video/bedroom/bedroom.mp4",
        real=True,
    )


def _write(path: Path, image: np.ndarray) -> Path:
    if not cv2.imwrite(str(path), image[:, :, ::-1] if image.ndim == 3 else image):
        raise OSError(f"cannot write {path}")
    return path


def _house_sketch(width: int = 400, height: int = 300) -> np.ndarray:
    """A house with a door, a window and a tree: closed outlines, 3 px black lines."""
    paper = np.full((height, width), 255, np.uint8)
    ink = 0
    cv2.rectangle(paper, (90, 140), (270, 270), ink, 3)  # walls
    cv2.polylines(paper, [np.array([(75, 140), (180, 55), (285, 140)], np.int32)], True, ink, 3)
    cv2.rectangle(paper, (160, 200), (200, 270), ink, 3)  # door
    cv2.rectangle(paper, (215, 165), (255, 200), ink, 3)  # window
    cv2.circle(paper, (335, 150), 38, ink, 3)  # tree top
    cv2.rectangle(paper, (328, 188), (342, 270), ink, 3)  # trunk
    cv2.line(paper, (20, 272), (380, 272), ink, 3)  # ground
    return np.repeat(paper[:, :, None], 3, axis=2)


def generated_assets(folder: Path) -> Assets:
    """Stand-ins of the same kinds, written to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    cat = read_image("skimage:chelsea")  # 300 x 451
    photo = np.ascontiguousarray(cat[:, 25:425])  # 300 x 400: 4:3 like the real photo
    mask = np.zeros(photo.shape[:2], np.uint8)
    mask[:, : photo.shape[1] * 3 // 5] = 255  # the cat's side; the rest is region 2
    painting = brush_painting("swirls", 512)
    part = np.zeros(painting.shape[:2], np.uint8)
    part[: painting.shape[0] // 2] = 255
    clip = folder / "pan.mp4"
    write_clip(pan_frames(photo, 24, 96, 72, 2), clip, fps=30, audio=True)
    return Assets(
        photo=_write(folder / "photo.jpg", photo),
        painting=_write(folder / "swirls.png", painting),
        second_painting=_write(folder / "embers.png", brush_painting("embers", 512)),
        third_painting=_write(folder / "swirls_seed1.png", brush_painting("swirls", 512, 1)),
        mask_a=_write(folder / "mask_a.png", mask),
        mask_b=_write(folder / "mask_b.png", 255 - mask),
        masked_painting=folder / "swirls.png",
        painting_mask=_write(folder / "painting_top.png", part),
        painting_mask_rest=_write(folder / "painting_bottom.png", 255 - part),
        sketch=_write(folder / "house.png", _house_sketch()),
        clip=clip,
        real=False,
    )
