"""The motion of a clip: pair flows, chaining, and the cache that renders read."""

import numpy as np

from stylevid.motion import Motion, MotionCache, pair_motion
from stylevid.synthetic import pan_frames


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
