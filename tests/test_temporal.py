import numpy as np
import pytest

from stylevid.flow import compute_flow, read_flo, warp
from stylevid.synthetic import pan_flow, pan_frames
from stylevid.temporal import (
    consistency_weights,
    content_agrees,
    long_term_weights,
    reliability,
    warping_error,
)


def _ruder_smooth(reliable: np.ndarray) -> np.ndarray:
    """Ruder's CSmooth(0.8, 2.0) in float64: 5 normalised Gaussian taps, mirrored border
    (x[-1] = x[0]), along x then y, clipped to [0, 1]."""
    taps = np.exp(-np.arange(-2, 3) ** 2 / (2 * 0.8**2))
    taps /= taps.sum()
    padded = np.pad(reliable.astype(np.float64), 2, mode="symmetric")
    along_x = sum(taps[k] * padded[:, k:k + reliable.shape[1]] for k in range(5))
    both = sum(taps[k] * along_x[k:k + reliable.shape[0], :] for k in range(5))
    return np.clip(both, 0.0, 1.0)


def test_reliability_map_computed_by_hand():
    # 5x7 frame moving left by one pixel (ŵ = +1 in x), forward flow consistent except at
    # the pixel that pixel (x=2, y=2) samples, which points the wrong way.
    backward = np.zeros((5, 7, 2), np.float32)
    backward[..., 0] = 1.0
    forward = -backward
    forward[2, 3, 0] = 2.0
    expected = np.array([
        # x + 1 needs columns x+1 and x+2 inside: columns 5, 6 are out; row 4 needs row 5.
        [1, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 0, 0],
        [1, 1, -1, 1, 1, 0, 0],  # |2 + 1|² = 9 >= 0.01 (1 + 4) + 0.5: occluded
        [1, 1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 0],
    ], np.float32)
    np.testing.assert_array_equal(reliability(backward, forward), expected)
    np.testing.assert_allclose(consistency_weights(backward, forward), _ruder_smooth(expected),
                               atol=1e-6)


def test_zero_motion_is_reliable_except_the_last_row_and_column():
    zero = np.zeros((10, 12, 2), np.float32)
    expected = np.ones((10, 12), np.float32)
    expected[-1, :] = expected[:, -1] = 0  # Ruder's bilinear check needs x + 1 inside
    np.testing.assert_array_equal(reliability(zero, zero), expected)
    np.testing.assert_allclose(consistency_weights(zero, zero), _ruder_smooth(expected),
                               atol=1e-6)


def test_forward_backward_check_threshold():
    backward = np.zeros((6, 6, 2), np.float32)
    forward = np.zeros((6, 6, 2), np.float32)
    forward[..., 0] = 0.6   # |w̃ + ŵ|² = 0.36 < 0.01·0.36 + 0.5: consistent
    assert reliability(backward, forward)[:5, :5].min() == 1.0
    forward[..., 0] = 0.8   # 0.64 >= 0.01·0.64 + 0.5: occluded
    assert reliability(backward, forward)[:5, :5].max() == -1.0
    assert consistency_weights(backward, forward).max() == 0.0


def test_motion_boundary_uses_central_differences_of_the_raw_flow():
    backward = np.zeros((16, 16, 2), np.float32)
    backward[:, 8:, 1] = 1.0  # right half moves one pixel vertically: a motion edge
    forward = np.zeros_like(backward)
    forward[:, 8:, 1] = -1.0
    raw = reliability(backward, forward)
    # ∂x v = (v[x+1] - v[x-1]) / 2 = 0.5 on columns 7 and 8 only: 0.25 > 0.01 |ŵ|² + 0.002
    np.testing.assert_array_equal(raw[:14, 7:9], 0.0)
    np.testing.assert_array_equal(raw[:14, :7], 1.0)
    np.testing.assert_array_equal(raw[:14, 9:15], 1.0)
    weights = consistency_weights(backward, forward)
    assert weights[4:12, :4].min() == 1.0      # far left: static, consistent
    assert weights[4:12, 11:13].min() == 1.0   # far right: uniform motion, consistent
    assert weights[4:12, 7:9].max() < 0.3      # at the boundary


def test_consistency_weights_on_a_real_pair_against_a_float64_transcription(data):
    """Ruder's checker transcribed loop by loop in float64 on DIS flows of a real pair."""
    import cv2

    folder = data / "video/bedroom/frames"  # children jumping: occlusions and boundaries
    first = cv2.resize(cv2.imread(str(folder / "00010.jpg")), (96, 54),
                       interpolation=cv2.INTER_AREA)
    second = cv2.resize(cv2.imread(str(folder / "00013.jpg")), (96, 54),
                        interpolation=cv2.INTER_AREA)
    backward = compute_flow(second, first)
    forward = compute_flow(first, second)
    h, w = backward.shape[:2]
    u, v = backward[..., 0].astype(np.float64), backward[..., 1].astype(np.float64)
    pu, pv = np.pad(u, 1, mode="symmetric"), np.pad(v, 1, mode="symmetric")
    edge = sum(((p[1:-1, 2:] - p[1:-1, :-2]) / 2) ** 2 + ((p[2:, 1:-1] - p[:-2, 1:-1]) / 2) ** 2
               for p in (pu, pv))
    expected = np.ones((h, w))
    for y in range(h):
        for x in range(w):
            bx, by = x + u[y, x], y + v[y, x]
            x1, y1 = int(np.floor(bx)), int(np.floor(by))
            if x1 < 0 or x1 + 1 >= w or y1 < 0 or y1 + 1 >= h:
                expected[y, x] = 0
                continue
            ax, ay = bx - x1, by - y1
            f = forward.astype(np.float64)
            fu, fv = ((1 - ay) * ((1 - ax) * f[y1, x1] + ax * f[y1, x1 + 1])
                      + ay * ((1 - ax) * f[y1 + 1, x1] + ax * f[y1 + 1, x1 + 1]))
            if (u[y, x] + fu) ** 2 + (v[y, x] + fv) ** 2 >= \
                    0.01 * (u[y, x] ** 2 + v[y, x] ** 2 + fu**2 + fv**2) + 0.5:
                expected[y, x] = -1
            elif edge[y, x] > 0.01 * (u[y, x] ** 2 + v[y, x] ** 2) + 0.002:
                expected[y, x] = 0
    raw = reliability(backward, forward)
    assert (raw != expected).mean() < 0.002   # float32 rounding may flip a threshold
    assert (expected == -1).sum() > 50 and (expected == 0).sum() > w + h + 50
    np.testing.assert_allclose(consistency_weights(backward, forward),
                               _ruder_smooth(expected), atol=0.05)


def test_content_agrees_by_mean_absolute_difference_inside_the_source():
    target = np.full((3, 4, 3), 100, np.uint8)
    carried = target.copy()
    carried[0, 0] = (116, 116, 116)  # mean difference 16: agrees
    carried[0, 1] = (148, 100, 100)  # 16 on average over the channels: agrees
    carried[0, 2] = (117, 117, 117)  # 17: does not
    carried[1, 1] = (0, 0, 0)  # an occluder's colour: does not
    flow = np.zeros((3, 4, 2), np.float32)
    flow[2, 0] = (-1.0, 0.0)  # from beyond the source's left edge: does not
    expected = np.ones((3, 4), bool)
    expected[0, 2] = expected[1, 1] = expected[2, 0] = False
    expected[-1, :] = expected[:, -1] = False  # Ruder's rule 1: no bilinear neighbours
    np.testing.assert_array_equal(content_agrees(target, carried, flow, 16.0), expected)


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


def test_evaluate_frames_measures_a_known_change_under_the_exact_flow():
    from stylevid.evaluate import evaluate_frames, sharpness

    rng = np.random.default_rng(2)
    photo = rng.integers(0, 236, (40, 200, 3), dtype=np.uint8)
    originals = pan_frames(photo, 3, 32, 40, step=2)
    stylized = [originals[0], originals[1] + 20, originals[2] + 20]  # one step of 20 levels
    forward = np.zeros((40, 32, 2), np.float32)
    forward[..., 0] = -2  # frame t-1 at x is frame t at x - 2
    report = evaluate_frames(zip(stylized, originals, strict=True), truth=[forward, forward])
    # frame 1 differs from frame 0 carried along the flow by 20 levels in every channel on
    # the 30 columns that frame 0 shows; frame 2 from frame 1 by nothing
    assert np.isnan(report.warping_truth[0])
    assert report.warping_truth[1] == pytest.approx(3 * (20 / 255) ** 2, rel=1e-6)
    assert report.warping_truth[2] == pytest.approx(0.0, abs=1e-12)
    assert report.sharpness == [sharpness(frame) for frame in stylized]
    assert report.reference_sharpness == [sharpness(frame) for frame in originals]


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
    def epe(flow: np.ndarray) -> float:
        return float(np.linalg.norm(flow - np.nan_to_num(truth), axis=-1)[known].mean())

    # the default refines down to full resolution: half the error of OpenCV's medium
    # preset, which stops at half resolution (measured 0.096 and 0.225 px)
    assert epe(compute_flow(first, second)) < 0.12
    assert epe(compute_flow(first, second)) < 0.5 * epe(compute_flow(first, second, "dis",
                                                                        "medium"))
    # warping frame 11 back with the flow explains frame 10 (SOURCES.md: 1.40 vs 5.71)
    warped = warp(second, np.nan_to_num(truth)).astype(float)
    err_warp = np.abs(warped - first)[known].mean()
    err_none = np.abs(second.astype(float) - first)[known].mean()
    assert err_warp < 0.35 * err_none
    farneback = compute_flow(first, second, "farneback")
    assert np.linalg.norm(farneback - np.nan_to_num(truth), axis=-1)[known].mean() < 1.0


def test_moving_disc_clip_has_exact_flow_with_occlusions(assets):
    """The benchmark's disc clip: every pixel its forward flow knows lands on the same colour
    in the next frame (warping error exactly 0), the background the disc is about to cover
    is unknown, and the disc stays in the frame as it bounces."""
    from stylevid.evaluate import truth_warping_error
    from stylevid.imageio import read_image
    from stylevid.synthetic import moving_disc_frames

    frames, flows = moving_disc_frames(read_image(assets.photo), read_image(assets.painting),
                                       60, 48, 32)
    assert len(flows) == 59 and all(f.shape == (32, 48, 2) for f in flows)
    for previous, current, flow in zip(frames, frames[1:], flows, strict=False):
        assert truth_warping_error(previous, current, flow) == 0.0
        unknown = np.isnan(flow).any(-1)
        moving = np.abs(np.nan_to_num(flow)).sum(-1) > 0
        assert 0 < unknown.mean() < 0.05 and moving.any()
        assert set(np.unique(np.abs(flow[moving]))) == {1.0}
    # the disc bounced: both signs of both components occur along the clip
    steps = {tuple(np.nan_to_num(f)[np.abs(np.nan_to_num(f)).sum(-1) > 0][0]) for f in flows}
    assert steps == {(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)}


def test_every_flow_preset_the_options_accept_exists():
    from stylevid.config import FLOW_PRESET, FLOW_PRESETS
    from stylevid.flow import DIS_PRESETS

    assert set(FLOW_PRESETS) == set(DIS_PRESETS) and FLOW_PRESET in DIS_PRESETS
    first = np.zeros((24, 32, 3), np.uint8)
    first[8:16, 8:16] = 255
    second = np.roll(first, 1, axis=1)  # the square moves 1 px right
    for preset in FLOW_PRESETS:
        flow = compute_flow(second, first, "dis", preset)
        assert flow.shape == (24, 32, 2) and np.isfinite(flow).all()
    # the default finds the square's motion where it is (backward flow -1 px)
    assert abs(compute_flow(second, first)[12, 12, 0] + 1) < 0.2
