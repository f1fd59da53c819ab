"""Reading, resizing and writing still images (RGB uint8 arrays and [0, 1] tensors)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .errors import UserError
from .fsutil import atomic_path, check_readable, check_writable

if TYPE_CHECKING:  # torch loads with the first tensor: the command line checks its inputs first
    import torch
    from torch import Tensor

SKIMAGE_PREFIX = "skimage:"
BUILTIN_PREFIX = "builtin:"  # builtin:swirls, builtin:embers (stylevid.painting)


def read_image(source: str | Path) -> np.ndarray:
    """Read an RGB uint8 image (H, W, 3) from a file, ``skimage:NAME`` for a skimage.data
    picture, or ``builtin:swirls`` / ``builtin:embers`` for stylevid's procedural
    brush-stroke paintings."""
    text = str(source)
    if text.startswith(SKIMAGE_PREFIX):
        return _skimage_image(text[len(SKIMAGE_PREFIX):])
    if text.startswith(BUILTIN_PREFIX):
        from .painting import PALETTES, brush_painting

        name = text[len(BUILTIN_PREFIX):]
        if name not in PALETTES:
            raise UserError(f"no built-in painting {name!r} (use {', '.join(PALETTES)})")
        return brush_painting(name)
    path = Path(text)
    if not path.is_file():
        raise UserError(f"image not found: {path}")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    # Turned upright by the EXIF orientation, as a phone's photo is shown; read as stored
    # (IMREAD_UNCHANGED, used before), a portrait taken on a phone came out lying on its side.
    # 16 bits and grey stay; an alpha channel is dropped, as to_rgb did.
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise UserError(f"cannot read {path}: not an image file OpenCV can decode")
    return to_rgb(image, bgr=True)


def check_image_source(source: str) -> None:
    """Fail early, with one line, if ``source`` cannot be a picture: a missing or
    unreadable file, an unknown built-in name (the picture is decoded later)."""
    text = str(source)
    if text.startswith((SKIMAGE_PREFIX, BUILTIN_PREFIX)):
        read_image(text)
        return
    check_readable(Path(text), "image")


def _skimage_image(name: str) -> np.ndarray:
    from skimage import data

    loader = getattr(data, name, None)
    if loader is None or not callable(loader):
        raise UserError(f"skimage.data has no image {name!r}")
    return to_rgb(np.asarray(loader()), bgr=False)


def to_rgb(image: np.ndarray, *, bgr: bool) -> np.ndarray:
    """Any grey/colour/alpha, 8/16-bit image -> RGB uint8."""
    if image.dtype == np.uint16:
        image = (image / 257).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image * (255 if image.max() <= 1 else 1), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image[:, :, ::-1] if bgr else image)


def longest_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) scaled so that the longest side is ``size``."""
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_longest(image: np.ndarray, size: int) -> np.ndarray:
    """Resize so that the longest side is ``size`` pixels (area filter when shrinking)."""
    h, w = image.shape[:2]
    new_h, new_w = longest_shape(h, w, size)
    scale = size / max(h, w)
    new = (new_w, new_h)
    if new == (w, h):
        return image
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, new, interpolation=interp)


def resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize to exactly (height, width)."""
    if image.shape[:2] == (height, width):
        return image
    interp = cv2.INTER_AREA if height < image.shape[0] else cv2.INTER_CUBIC
    return cv2.resize(image, (width, height), interpolation=interp)


def to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> Tensor:
    """RGB uint8 (H, W, 3) -> float tensor (1, 3, H, W) in [0, 1]."""
    import torch

    array = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
    return array.unsqueeze(0).to(device)


def to_array(tensor: Tensor) -> np.ndarray:
    """Float tensor (1, 3, H, W) in [0, 1] -> RGB uint8 (H, W, 3)."""
    array = tensor.detach().clamp(0, 1)[0].permute(1, 2, 0).float().cpu().numpy()
    return (array * 255.0).round().astype(np.uint8)


def check_image_output(path: Path) -> None:
    """Fail early, with one line, unless ``path`` is a writable picture OpenCV can encode."""
    _check_picture_format(path)
    check_writable(path)


# Picture formats that hold an alpha channel (OpenCV writes it for these).
ALPHA_SUFFIXES = (".png", ".webp", ".tif", ".tiff")


def read_alpha(source: str | Path) -> np.ndarray | None:
    """A picture file's alpha channel (H, W) uint8, or None where it has none, is fully
    opaque, or is a built-in picture. Its alpha is read as stored, so a picture that its
    EXIF orientation turns (read_image shows it otherwise) keeps none (it is rare)."""
    path = Path(str(source))
    if str(source).startswith((SKIMAGE_PREFIX, BUILTIN_PREFIX)) or not path.is_file():
        return None
    stored = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if stored is None or stored.ndim != 3 or stored.shape[2] != 4:
        return None
    if not np.array_equal(to_rgb(stored, bgr=True), read_image(path)):
        return None
    alpha = to_rgb(stored[:, :, 3], bgr=False)[:, :, 0]
    return None if alpha.min() == 255 else alpha


def _check_picture_format(path: Path) -> None:
    if not cv2.haveImageWriter(str(path)):
        raise UserError(f"cannot write {path}: give a picture file name (.png, .jpg, .webp, "
                        f".tif, .bmp), not {path.suffix or 'no extension'!r}")


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an RGB (or RGBA) uint8 image atomically; the format follows the extension. (A
    folder it cannot write fails here with one line; check_image_output tells before the
    work.)"""
    path = Path(path)
    _check_picture_format(path)
    channels = [2, 1, 0, 3][:image.shape[2]]  # RGB(A) as OpenCV's BGR(A)
    ok, encoded = cv2.imencode(path.suffix, np.ascontiguousarray(image[:, :, channels]))
    if not ok:
        raise UserError(f"cannot encode {path} as {path.suffix}")
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(encoded.tobytes())
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
