"""Reading pictures: upright as shown, whatever their depth and channels."""

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from stylevid.imageio import read_image


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_photo_is_read_upright_by_its_exif_orientation(tmp_path, orientation):
    """Against Pillow's own exif_transpose: each of EXIF's 8 orientations (a phone stores
    a portrait as a landscape picture tagged 6)."""
    stored = np.zeros((48, 80, 3), np.uint8)
    stored[:, :40] = (220, 30, 30)  # left half red, top-right quarter blue
    stored[:24, 40:] = (30, 30, 220)
    picture = Image.fromarray(stored)
    exif = picture.getexif()
    exif[0x0112] = orientation
    path = tmp_path / f"photo{orientation}.jpg"
    picture.save(path, exif=exif.tobytes(), quality=95)
    shown = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    read = read_image(path)
    assert read.shape == shown.shape
    assert np.abs(read.astype(int) - shown).mean() < 2


def test_alpha_grey_and_16_bits_are_read_as_rgb(tmp_path):
    rng = np.random.default_rng(0)
    bgra = rng.integers(0, 65536, (10, 20, 4), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "bgra16.png"), bgra)
    expected = (bgra[:, :, 2::-1] / 257).round().astype(np.uint8)  # RGB, alpha dropped
    assert np.array_equal(read_image(tmp_path / "bgra16.png"), expected)
    grey = rng.integers(0, 256, (10, 20), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    assert np.array_equal(read_image(tmp_path / "grey.png"), np.repeat(grey[:, :, None], 3, 2))
