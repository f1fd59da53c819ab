"""How a later video frame starts and what it is asked to match (stylevid.render)."""

import numpy as np

from stylevid.motion import Motion
from stylevid.render import _composite


def _pan(width: int, height: int, shift: float) -> Motion:
    flow = np.zeros((height, width, 2), np.float32)
    flow[..., 0] = shift
    weights = np.ones((height, width), np.float32)
    weights[:, width - int(np.ceil(shift)) - 1:] = 0.0  # Ruder: no source there
    weights[-1] = 0.0
    return Motion(flow, weights)


def test_start_takes_the_history_mirrors_what_enters_and_restarts_disocclusions():
    rng = np.random.default_rng(0)
    history = rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)
    content = np.full((8, 12, 3), 7, np.uint8)
    still = _pan(12, 8, 0.0)
    start = _composite([still.warp(history)], [still], content)
    np.testing.assert_array_equal(start, history)  # last row and column too
    moving = _pan(12, 8, 2.0)
    moving.weights[3, 4] = 0.0  # a disocclusion inside the frame
    start = _composite([moving.warp(history)], [moving], content)
    np.testing.assert_array_equal(start[3, 4], content[3, 4])  # disoccluded: the content
    np.testing.assert_array_equal(start[:, -2:], history[:, -2:-4:-1])  # entering: mirrored
