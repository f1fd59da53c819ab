"""Reading pictures: upright as shown, whatever their depth and channels."""

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from stylevid.imageio import read_alpha, read_image


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


def test_a_transparent_picture_comes_out_with_its_transparency(tmp_path, assets, cli):
    """A logo on a transparent background: the stylized PNG (and WebP) keeps the content's
    alpha, resized with it; a JPEG, which has none, is RGB."""
    logo = np.zeros((64, 96, 4), np.uint8)
    cv2.circle(logo, (48, 32), 24, (40, 120, 220, 255), -1)
    logo[:, :, 3] = cv2.GaussianBlur(logo[:, :, 3], (5, 5), 0)  # a soft edge
    content = tmp_path / "logo.png"
    cv2.imwrite(str(content), logo)
    for name in ("out.png", "out.webp", "out.jpg"):
        out = tmp_path / name
        proc = cli("stylize", str(content), "--style", str(assets.painting), "-o", str(out),
                   "--size", "48", "--scales", "1", "--iterations", "3", "--quiet")
        assert proc.returncode == 0, proc.stderr
        written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
        assert written.shape[:2] == (32, 48)
        if name == "out.jpg":
            assert written.ndim == 3 and written.shape[2] == 3
            continue
        assert written.shape[2] == 4
        expected = cv2.resize(logo[:, :, 3], (48, 32), interpolation=cv2.INTER_AREA)
        tolerance = 0 if name == "out.png" else 2  # WebP's own rounding
        assert np.abs(written[:, :, 3].astype(int) - expected).max() <= tolerance
        assert np.array_equal(read_image(out), written[:, :, 2::-1])  # RGB as written


def test_the_alpha_is_taken_only_where_it_lines_up_with_the_picture_as_read(tmp_path):
    """Alpha is read as stored; a PNG turned 180 degrees by its EXIF orientation is read
    turned (same shape), so its stored alpha would sit mirrored on it: it gets none."""
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[:, :10] = (255, 0, 0, 255)  # an opaque red left third, the rest transparent blue
    rgba[:, 10:, 2] = 255
    Image.fromarray(rgba).save(tmp_path / "plain.png")
    alpha = read_alpha(tmp_path / "plain.png")
    assert alpha is not None and np.array_equal(alpha, rgba[:, :, 3])
    turned = Image.fromarray(rgba)
    exif = turned.getexif()
    exif[0x0112] = 3
    turned.save(tmp_path / "turned.png", exif=exif.tobytes())
    assert read_image(tmp_path / "turned.png")[0, 0].tolist() == [0, 0, 255]  # read turned
    assert read_alpha(tmp_path / "turned.png") is None
    Image.fromarray(np.full((20, 30, 4), 255, np.uint8)).save(tmp_path / "opaque.png")
    assert read_alpha(tmp_path / "opaque.png") is None
