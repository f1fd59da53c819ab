"""How much memory a frame size needs, how much there is, and a check before any work.

The estimate counts what one optimisation keeps per output pixel: the VGG-19 feature maps
up to the deepest loss layer (kept for the backward pass, plus the gradients and
temporaries of the backward pass: ``ACTIVATION_OVERHEAD``), and L-BFGS's curvature history
(two image-sized vectors per remembered step), over a fixed cost for the process (Python,
torch, the network). ``scripts/bench_memory.py`` compares it with the measured peak.

Large frames remember fewer L-BFGS steps (at most ``HISTORY_BYTES``; a function of the
frame size alone, so a resumed render remembers as many steps as the first run).
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import LAYER_NAMES, StyleParams
from .errors import UserError

FLOAT_BYTES = 4
LBFGS_HISTORY = 100  # steps L-BFGS remembers (as neural-style) ...
HISTORY_BYTES = 2**30  # ... unless that takes more memory than this (1920x1080: 21 steps)
MIN_HISTORY = 10  # scipy's L-BFGS-B default, used by Gatys et al.
# Measured (scripts/results/memory.md, 256x144 to 1920x1080): the peak over the kept
# feature maps, and the resident memory of a process that has loaded torch and the network.
ACTIVATION_OVERHEAD = 1.36
PROCESS_BYTES = 530 * 2**20
_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}


def feature_floats_per_pixel(layers: tuple[str, ...]) -> float:
    """Floats of every VGG-19 feature map up to the deepest of ``layers``, per input pixel."""
    deepest = max(LAYER_NAMES.index(name) for name in layers)
    total = 0.0
    for name in LAYER_NAMES[: deepest + 1]:
        block = int(name[4])
        scale = 2 ** (block - 1) * (2 if name.startswith("pool") else 1)
        total += _CHANNELS[block] / scale**2
    return total


def lbfgs_history(pixels: int) -> int:
    """Steps L-BFGS remembers for a frame of ``pixels``."""
    fits = HISTORY_BYTES // (2 * 3 * FLOAT_BYTES * pixels)
    return int(min(LBFGS_HISTORY, max(MIN_HISTORY, fits)))


def estimate_bytes(height: int, width: int, params: StyleParams) -> int:
    """Peak memory of stylizing one ``height`` x ``width`` frame with ``params``."""
    pixels = height * width
    features = feature_floats_per_pixel(params.content_layers + params.style_layers)
    history = 2 * 3 * min(params.iterations, lbfgs_history(pixels)) \
        if params.optimizer == "lbfgs" else 2 * 3  # Adam: two moment images
    per_pixel = FLOAT_BYTES * (features * ACTIVATION_OVERHEAD + history)
    return int(PROCESS_BYTES + pixels * per_pixel)


def available_bytes() -> int | None:
    """Memory this process may still use: the lower of the machine's available memory and
    what its cgroup (container) limit leaves; None where neither can be read."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    cgroup = Path("/sys/fs/cgroup")
    try:
        limit = (cgroup / "memory.max").read_text().strip()
        if limit != "max":
            limits.append(int(limit) - int((cgroup / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return min(limits) if limits else None


def check_fits(height: int, width: int, params: StyleParams, device_type: str = "cpu") -> None:
    """One clear line, before any work, when a frame of this size cannot fit in memory."""
    if device_type != "cpu" or os.environ.get("STYLEVID_NO_MEMORY_CHECK"):
        return
    needed = estimate_bytes(height, width, params)
    free = available_bytes()
    if free is None or needed <= free:
        return
    per_pixel = (needed - PROCESS_BYTES) / (height * width)
    scale = ((free - PROCESS_BYTES) / per_pixel / (height * width)) ** 0.5 \
        if free > PROCESS_BYTES else 0.0
    largest = int(max(height, width) * scale)
    hint = f"--size {largest} or less would fit" if largest >= 16 else "free some memory"
    raise UserError(f"a {width}x{height} frame needs about {needed / 2**30:.1f} GiB of memory "
                    f"and {free / 2**30:.1f} GiB is available; {hint}")
