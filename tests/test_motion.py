"""The motion of a clip: pair flows, chaining, and the cache that renders read."""

import numpy as np

from stylevid.motion import Motion, MotionCache, pair_motion
from stylevid.synthetic import pan_frames
from stylevid.temporal import beyond_source


def test_cache_returns_exactly_the_motion_a_live_render_uses(tmp_path):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (40, 200, 3), dtype=np.uint8)
    first, second = pan_frames(photo, 2, 48, 40, step=3)
    towards_first, towards_second = pair_motion(first, second)
    # a pan to the right: frame 1 sees frame 0 three pixels to the right
    assert abs(np.median(towards_first.flow[..., 0]) - 3) < 0.2
    assert abs(np.median(towards_second.flow[..., 0]) + 3) < 0.2
    cache = MotionCache(tmp_path)
    frames = {0: first, 1: second}
    live = cache.get(1, 0, frames.__getitem__)
    np.testing.assert_array_equal(live.flow, towards_first.flow)
    reloaded = cache.load(1, 0)
    assert reloaded is not None
    np.testing.assert_array_equal(reloaded.flow, live.flow)
    np.testing.assert_array_equal(reloaded.weights, live.weights)
    other = cache.load(0, 1)  # both directions were stored at once
    assert other is not None
    np.testing.assert_array_equal(other.weights, towards_second.weights)


def test_stored_motion_is_a_fixed_point():
    rng = np.random.default_rng(1)
    motion = Motion(rng.normal(0, 5, (8, 9, 2)).astype(np.float32),
                    rng.random((8, 9)).astype(np.float32)).stored()
    again = motion.stored()
    np.testing.assert_array_equal(again.flow, motion.flow)
    np.testing.assert_array_equal(again.weights, motion.weights)


def test_a_camera_move_brings_in_the_mirrored_history():
    """A pan 3 px to the right: target x sees source x + 3. The last 3 columns come from
    beyond the source's edge and get the source mirrored there (Lanczos at whole-pixel
    shifts is exact), not the edge pixel repeated. Beyond the source: those columns, the one
    before them and the last row (their source pixels have no bilinear neighbour right of
    or below them)."""
    rng = np.random.default_rng(2)
    source = rng.integers(0, 256, (6, 10, 3), dtype=np.uint8)
    flow = np.zeros((6, 10, 2), np.float32)
    flow[..., 0] = 3.0
    motion = Motion(flow, np.ones((6, 10), np.float32))
    beyond = np.zeros((6, 10), bool)
    beyond[:, -4:] = True
    beyond[-1, :] = True
    np.testing.assert_array_equal(beyond_source(flow), beyond)
    mirrored = np.concatenate([source, source[:, -2:-5:-1]], axis=1)  # ...h g f | e d c
    np.testing.assert_array_equal(motion.warp(source), mirrored[:, 3:])
