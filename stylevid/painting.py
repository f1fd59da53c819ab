"""A procedural brush-stroke painting: the demo's style picture, made on the spot.

Thousands of thick, curved strokes follow a field of directions (for "swirls" a few
vortices over a gentle drift, in a night-sky palette of blues with yellow and white
accents; for "embers" wavy diagonal strokes in reds, browns and black), over an
underpainting of the same palette. Each stroke has a darker edge and a lighter ridge, as
paint laid with a loaded brush has. Deterministic for a given seed.
"""

from __future__ import annotations

import cv2
import numpy as np

# Five ground colours, then three accents. "swirls": ultramarine, cobalt, Prussian blue,
# cerulean, teal; ochre, cadmium yellow, lead white. "embers": burnt sienna, crimson, umber,
# vermilion, ivory black; cadmium orange, Naples yellow, lead white.
PALETTES = {
    "swirls": np.array([(18, 32, 92), (36, 70, 150), (20, 48, 80), (70, 130, 190),
                        (40, 110, 120), (200, 160, 60), (240, 205, 70), (235, 232, 210)],
                       dtype=np.float32),
    "embers": np.array([(140, 60, 30), (150, 20, 30), (80, 50, 35), (210, 60, 40),
                        (30, 25, 25), (240, 140, 30), (245, 220, 150), (240, 235, 220)],
                       dtype=np.float32),
}
VORTICES = {"swirls": 6, "embers": 0}  # "embers": straight, wavy diagonal strokes


def _stroke_field(height: int, width: int, vortices: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Unit stroke directions (H, W, 2): vortices over a wavy drift."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    drift = (0.6, 0.25) if vortices else (0.5, 0.5)
    field = np.stack([np.ones_like(x) * drift[0],
                      drift[1] + 0.25 * np.sin(x / width * 6.0)], axis=-1)
    for _ in range(vortices):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        radius = rng.uniform(0.08, 0.22) * max(height, width)
        spin = rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 3.0)
        dx, dy = x - cx, y - cy
        falloff = np.exp(-(dx**2 + dy**2) / (2 * radius**2))
        field[..., 0] += spin * -dy / radius * falloff
        field[..., 1] += spin * dx / radius * falloff
    return field / (np.linalg.norm(field, axis=-1, keepdims=True) + 1e-6)


def _underpainting(height: int, width: int, palette: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Blurred noise mapped onto the palette's ground colours, with patches of its first
    accent."""
    noise = cv2.resize(rng.random((6, 8)).astype(np.float32), (width, height),
                       interpolation=cv2.INTER_CUBIC)
    ground = palette[:5]
    index = np.clip(noise * (len(ground) - 1), 0, len(ground) - 1.001)
    low = index.astype(int)
    t = (index - low)[..., None]
    base = ground[low] * (1 - t) + ground[low + 1] * t
    warm = cv2.resize(rng.random((4, 5)).astype(np.float32), (width, height),
                      interpolation=cv2.INTER_CUBIC)
    mix = np.clip((warm - 0.72) * 4, 0, 1)[..., None]
    return base * (1 - mix) + palette[5] * mix


def brush_painting(name: str = "swirls", size: int = 512, seed: int = 0) -> np.ndarray:
    """The painting ``name`` (a key of PALETTES) as RGB uint8, ``size`` wide, 3/4 as high."""
    palette = PALETTES[name]
    rng = np.random.default_rng(seed)
    width, height = size, size * 3 // 4
    field = _stroke_field(height, width, VORTICES[name], rng)
    base = _underpainting(height, width, palette, rng)
    canvas = base.copy()
    stroke_width = max(2, size // 90)
    step = max(2.0, size / 110)
    for _ in range(int(14 * width * height / (stroke_width * step * 10))):
        x, y = rng.uniform(0, width - 1), rng.uniform(0, height - 1)
        colour = base[int(y), int(x)] + rng.normal(0, 18, 3)
        if rng.random() < 0.06:  # accents: yellow and white dabs
            colour = palette[rng.integers(5, 8)] + rng.normal(0, 10, 3)
        points = []
        for _ in range(rng.integers(5, 12)):
            points.append((x, y))
            dx, dy = field[int(y), int(x)]
            x, y = x + dx * step, y + dy * step
            if not (0 <= x < width and 0 <= y < height):
                break
        if len(points) < 2:
            continue
        line = [np.round(np.array(points) * 4).astype(np.int32)]  # 2 fractional bits
        dark = tuple(float(c) for c in np.clip(colour * 0.6, 0, 255))
        light = tuple(float(c) for c in np.clip(colour * 1.15 + 12, 0, 255))
        fill = tuple(float(c) for c in np.clip(colour, 0, 255))
        cv2.polylines(canvas, line, False, dark, stroke_width + 2, cv2.LINE_AA, shift=2)
        cv2.polylines(canvas, line, False, fill, stroke_width, cv2.LINE_AA, shift=2)
        cv2.polylines(canvas, line, False, light, max(1, stroke_width // 3), cv2.LINE_AA,
                      shift=2)
    return np.clip(canvas, 0, 255).round().astype(np.uint8)
