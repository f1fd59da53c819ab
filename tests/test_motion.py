"""The motion of a clip: pair flows, chaining, and the cache that renders read."""

import numpy as np
import pytest

from stylevid.imageio import read_image
from stylevid.motion import Motion, MotionCache, pair_motion
from stylevid.synthetic import moving_disc_frames, pan_frames, zoom_frames
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
    assert reloaded.agrees is not None and reloaded.agrees.dtype == bool
    np.testing.assert_array_equal(reloaded.agrees, live.agrees)
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


def test_a_cached_motion_without_content_agreement_is_computed_again(tmp_path):
    """A work folder begun by an earlier stylevid holds motions without ``agrees``: they
    are computed again (both ways), so a resumed render holds what a new one would."""
    rng = np.random.default_rng(3)
    first, second = pan_frames(rng.integers(0, 256, (30, 90, 3), dtype=np.uint8), 2, 40,
                               30, step=2)
    cache = MotionCache(tmp_path)
    old = pair_motion(first, second)[0]
    np.savez(cache.path(1, 0), flow=old.flow.astype(np.float16),
             weights=np.round(old.weights * 255).astype(np.uint8))
    assert cache.load(1, 0) is None
    again = cache.get(1, 0, {0: first, 1: second}.__getitem__)
    assert again.agrees is not None
    np.testing.assert_array_equal(cache.load(1, 0).agrees, again.agrees)  # type: ignore[union-attr]


def test_hold_is_ruders_weight_or_one_where_the_content_agrees():
    weights = np.array([[0.0, 0.3, 1.0], [0.6, 0.0, 0.2]], np.float32)
    agrees = np.array([[True, False, False], [True, False, True]])
    flow = np.zeros((2, 3, 2), np.float32)
    np.testing.assert_array_equal(Motion(flow, weights, agrees).hold,
                                  np.array([[1.0, 0.3, 1.0], [1.0, 0.0, 1.0]], np.float32))
    np.testing.assert_array_equal(Motion(flow, weights).hold, weights)


def test_a_moving_objects_edges_are_held_from_the_same_surface(assets):
    """Exact ground truth: a disc moving 1 px a frame over a photo. Ruder's checker leaves a
    band either side of the disc's edge below 1/2 (its motion-boundary rule), pixels both
    frames show; the hold keeps nearly all of them, and nearly every pixel it holds takes
    its paint from the same surface (disc or background) of the frame before."""
    width, height = 64, 42
    frames, flows = moving_disc_frames(read_image(assets.photo), read_image(assets.painting),
                                       10, width, height)
    ys, xs = np.mgrid[0:height, 0:width]
    visible = held_ruder = held = from_elsewhere = 0
    for previous, current, flow in zip(frames, frames[1:], flows, strict=False):
        motion = pair_motion(previous, current)[0]
        on_disc_before = np.abs(np.nan_to_num(flow)).sum(-1) > 0
        on_disc = _shifted(on_disc_before, flow[on_disc_before][0])
        inside = ~beyond_source(motion.flow)
        seen_before = inside & ~(on_disc_before & ~on_disc)  # not uncovered by the disc
        visible += seen_before.sum()
        held_ruder += (seen_before & (motion.weights >= 0.5)).sum()
        holds = inside & (motion.hold >= 0.5)
        held += (seen_before & holds).sum()
        sx = np.clip(np.round(xs + motion.flow[..., 0]).astype(int), 0, width - 1)
        sy = np.clip(np.round(ys + motion.flow[..., 1]).astype(int), 0, height - 1)
        from_elsewhere += (holds & (on_disc_before[sy, sx] != on_disc)).sum()
    assert held_ruder / visible < 0.93  # measured 0.89
    assert held / visible > 0.98  # measured 0.99
    assert from_elsewhere / held < 0.003  # measured 0.001


def _shifted(mask: np.ndarray, step: np.ndarray) -> np.ndarray:
    """``mask`` moved by ``step`` (x, y) whole pixels, False where nothing moves in."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    dx, dy = int(step[0]), int(step[1])
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        mask[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def _texture(height: int, width: int, dx: float, dy: float) -> np.ndarray:
    """A band-limited texture (sinusoids up to 0.45 cycles a pixel) sampled at (x + dx,
    y + dy): the exact picture a flow of (dx, dy) should bring."""
    rng = np.random.default_rng(5)
    waves = rng.uniform(-0.45, 0.45, (60, 2))
    phases = rng.uniform(0, 2 * np.pi, 60)
    amplitudes = rng.uniform(5, 20, 60)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    value = sum(a * np.cos(2 * np.pi * (k[0] * (x + dx) + k[1] * (y + dy)) + p)
                for k, p, a in zip(waves, phases, amplitudes, strict=True))
    return np.clip(np.round(128 + value), 0, 255).astype(np.uint8)[..., None].repeat(3, -1)


def _laplacian_variance(image: np.ndarray) -> float:
    grey = image[..., 0].astype(np.float64)
    laplacian = grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] \
        - 4 * grey[1:-1, 1:-1]
    return float(laplacian.var())


def test_carrying_a_stylized_frame_keeps_its_detail_nearer_the_exact_shift():
    """Moved by a sub-pixel flow, a texture loses part of its finest detail to Lanczos
    resampling (the warp); carried, it is sampled from its band-limited interpolant: at most
    0.4x the warp's error against the texture sampled at the shifted positions (exact
    ground truth), with at least 0.9x the truth's Laplacian variance (the warp 0.6-0.8x) and
    never more than the source's."""
    source = _texture(96, 96, 0, 0)
    inner = (slice(12, -12), slice(12, -12))
    for dx, dy in [(0.5, 0.0), (0.5, 0.5), (0.3, 0.7)]:
        flow = np.zeros((96, 96, 2), np.float32)
        flow[..., 0], flow[..., 1] = dx, dy
        motion = Motion(flow, np.ones((96, 96), np.float32))
        truth = _texture(96, 96, dx, dy)[inner].astype(np.float64)
        warped, carried = motion.warp(source), motion.carry(source)

        def error(image: np.ndarray, truth: np.ndarray = truth) -> float:
            return float(np.mean((image[inner] - truth) ** 2))

        assert error(carried) < 0.4 * error(warped), (dx, dy)
        kept, most = (_laplacian_variance(image[inner]) for image in (carried, source))
        assert 0.9 * _laplacian_variance(truth) < kept <= 1.02 * most, (dx, dy)


def test_carrying_by_whole_pixels_changes_nothing_and_back_and_forth_keeps_the_detail():
    """Whole-pixel motion (a still shot, a pan by whole pixels) is exact. Carried half
    a pixel right and back 5 times, a texture (sinusoids up to 0.45 cycles a pixel) keeps
    more than 0.93 of its detail and lies within 3/255 of where it started on average (the
    warp alone: under 0.7 of the detail, 20/255), and grows none (no runaway along a long
    clip)."""
    source = _texture(64, 64, 0, 0)
    still = Motion.still(np.ones((64, 64), np.float32))
    np.testing.assert_array_equal(still.carry(source), source)
    flow = np.zeros((64, 64, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3, -2
    pan = Motion(flow, np.ones((64, 64), np.float32))
    np.testing.assert_array_equal(pan.carry(source), pan.warp(source))
    moves = []
    for dx in (0.5, -0.5):
        flow = np.zeros((64, 64, 2), np.float32)
        flow[..., 0] = dx
        moves.append(Motion(flow, np.ones((64, 64), np.float32)))
    carried, warped = source, source
    for step in range(10):
        carried = moves[step % 2].carry(carried)
        warped = moves[step % 2].warp(warped)
    inner = (slice(12, -12), slice(12, -12))
    detail = _laplacian_variance(source[inner])
    assert _laplacian_variance(warped[inner]) < 0.7 * detail
    assert 0.93 * detail < _laplacian_variance(carried[inner]) <= 1.02 * detail
    assert np.abs(carried[inner].astype(np.float64) - source[inner]).mean() < 3


@pytest.mark.parametrize("rate", [1.02, 1 / 1.02])
def test_the_zoom_clips_flow_is_the_exact_motion(assets, rate):
    """bench_video.py's zoom (and pull-back) measures warping error under zoom_frames' flow,
    so that flow must be the one that carries each frame onto the next best: any other
    scale of the zoom or a quarter-pixel shift of it leaves a larger difference."""
    images, flow = zoom_frames(read_image(assets.photo), 6, 96, 64, rate=rate)
    outwards = flow[0, 0, 0] < 0 < flow[-1, -1, 0]  # zooming in: the edges move outwards
    assert outwards == (rate > 1)

    def difference(candidate: np.ndarray) -> float:
        carried = Motion(candidate, np.ones((64, 96), np.float32)).carry(images[4])
        return float(np.abs(carried.astype(float) - images[3])[8:-8, 8:-8].mean())

    exact = difference(flow)
    assert exact < 0.6 * float(np.abs(images[4].astype(float) - images[3])[8:-8, 8:-8].mean())
    for other in (flow * 0.8, flow * 1.2, flow + np.float32([0.25, 0]),
                  flow - np.float32([0, 0.25])):
        assert difference(other) > exact * 1.05



@pytest.mark.parametrize("rate", [1.02, 1 / 1.02])
def test_zoom_is_how_much_the_scene_grows(assets, rate):
    """Motion.zoom: exact for zoom_frames' flow (and its inverse, the motion the other way),
    close to it with DIS flow of the frames, and 1 on a pan."""
    images, flow = zoom_frames(read_image(assets.photo), 6, 96, 64, rate=rate)
    ones = np.ones((64, 96), np.float32)
    # frame t (target) sees frame t+1 (source) along the forward flow: 1 / rate as large
    assert Motion(flow, ones).zoom == pytest.approx(1 / rate, abs=1e-6)
    inverse = np.stack(np.mgrid[0:64, 0:96][::-1], -1) + 0.5 - np.float32([48, 32])
    assert Motion(inverse * (1 / rate - 1), ones).zoom == pytest.approx(rate, abs=1e-6)
    later, earlier = pair_motion(images[3], images[4])
    assert later.zoom == pytest.approx(rate, abs=0.003)
    assert earlier.zoom == pytest.approx(1 / rate, abs=0.003)
    pan = pan_frames(read_image(assets.photo), 2, 96, 64, 2)
    assert pair_motion(*pan)[0].zoom == pytest.approx(1.0, abs=0.001)
