import numpy as np
import pytest

from stylevid.flow import compute_flow, read_flo, warp
from stylevid.synthetic import pan_flow, pan_frames
from stylevid.temporal import (
    consistency_weights,
    fill_holes,
    long_term_weights,
    warping_error,
)


def test_zero_motion_is_consistent_everywhere():
    zero = np.zeros((10, 12, 2), np.float32)
    np.testing.assert_array_equal(consistency_weights(zero, zero), np.ones((10, 12)))


def test_translation_marks_pixels_that_leave_the_frame():
    backward, expected = pan_flow(20, 8, step=3)
    forward = -backward
    np.testing.assert_array_equal(consistency_weights(backward, forward), expected)


def test_forward_backward_check_threshold():
    backward = np.zeros((6, 6, 2), np.float32)
    forward = np.zeros((6, 6, 2), np.float32)
    forward[..., 0] = 0.6   # |w̃ + ŵ|² = 0.36 < 0.01·0.36 + 0.5: consistent
    assert consistency_weights(backward, forward).min() == 1.0
    forward[..., 0] = 0.8   # 0.64 > 0.01·0.64 + 0.5: occluded
    assert consistency_weights(backward, forward).max() == 0.0


def test_motion_boundary_is_zero_but_uniform_motion_is_not():
    backward = np.zeros((16, 16, 2), np.float32)
    backward[:, 8:, 1] = 1.0  # right half moves one pixel vertically: a motion edge
    forward = np.zeros_like(backward)
    forward[:, 8:, 1] = -1.0
    weights = consistency_weights(backward, forward)
    assert weights[4:12, 7:9].max() == 0.0     # at the boundary
    assert weights[4:12, :5].min() == 1.0      # far left: static, consistent
    assert weights[4:10, 11:].min() == 1.0     # far right: uniform motion, consistent


def test_long_term_weights_closest_first():
    c1 = np.array([1.0, 0.0, 0.0, 1.0])
    c2 = np.array([1.0, 1.0, 0.0, 0.0])
    c4 = np.array([1.0, 1.0, 1.0, 0.0])
    got = long_term_weights([c1, c2, c4])
    np.testing.assert_array_equal(got[0], c1)
    np.testing.assert_array_equal(got[1], [0, 1, 0, 0])
    np.testing.assert_array_equal(got[2], [0, 0, 1, 0])


def test_warping_error_matches_float64_formula():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (6, 8, 3), dtype=np.uint8) for _ in range(3)]
    zero = np.zeros((6, 8, 2), np.float32)
    mask = np.ones((6, 8), np.float32)
    mask[0] = 0
    expected = np.mean([
        (((frames[t] / 255.0 - frames[t - 1] / 255.0) ** 2).sum(-1) * mask).sum() / mask.sum()
        for t in (1, 2)])
    assert warping_error(frames, [zero, zero], [mask, mask]) == pytest.approx(expected, rel=1e-9)


def test_pan_is_undone_exactly_by_its_ground_truth_flow():
    photo = np.random.default_rng(1).integers(0, 256, (40, 200, 3), dtype=np.uint8)
    frames = pan_frames(photo, 4, 32, 40, step=2)
    backward, mask = pan_flow(32, 40, step=2)
    assert warping_error(frames, [backward] * 3, [mask] * 3) == 0.0


def test_dis_flow_on_middlebury_ground_truth(data):
    import cv2

    folder = data / "flow/middlebury_rubberwhale"
    first = cv2.imread(str(folder / "frame10.png"))[:, :, ::-1]
    second = cv2.imread(str(folder / "frame11.png"))[:, :, ::-1]
    truth = read_flo(folder / "flow10.flo")
    known = np.isfinite(truth).all(-1)
    flow = compute_flow(first, second, "dis", "medium")
    epe = np.linalg.norm(flow - np.nan_to_num(truth), axis=-1)[known].mean()
    assert epe < 0.5, epe
    # warping frame 11 back with the flow explains frame 10 (SOURCES.md: 1.40 vs 5.71)
    warped = warp(second, np.nan_to_num(truth)).astype(float)
    err_warp = np.abs(warped - first)[known].mean()
    err_none = np.abs(second.astype(float) - first)[known].mean()
    assert err_warp < 0.35 * err_none
    farneback = compute_flow(first, second, "farneback")
    assert np.linalg.norm(farneback - np.nan_to_num(truth), axis=-1)[known].mean() < 1.0


def test_fill_holes_changes_only_holes():
    image = np.full((10, 10, 3), 100, np.uint8)
    image[:, :3] = 0
    weights = np.ones((10, 10), np.float32)
    weights[:, :3] = 0
    filled = fill_holes(image, weights)
    np.testing.assert_array_equal(filled[:, 3:], image[:, 3:])
    assert filled[:, :3].min() > 50
