"""Keyframes ahead (stylevid.lookahead): segments, the keyframe's start, the guides carried
back, and the same plan for a resumed render. Exact pan motions, so every carried pixel is
known."""

import numpy as np
import pytest
import torch

from stylevid.config import RenderOptions, StyleParams
from stylevid.engine import StylizeResult
from stylevid.imageio import to_tensor
from stylevid.lookahead import (
    RAMP_CAP,
    KeyframesAhead,
    Segment,
    fresh_keyframe_pulls,
    fresh_keyframes,
    keyframe_ramp,
)
from stylevid.motion import Motion, MotionCache
from stylevid.render import VideoRenderer
from stylevid.temporal import consistency_weights

W, H, SHIFT, INTERVAL, CUT = 24, 6, 2, 8, 5


def _pan(shift: int) -> Motion:
    """How a frame sees the one before (shift 2) or after (shift -2) on a pan whose content
    moves 2 px left a frame: target(x) = source(x + shift); no source beyond the edge."""
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = shift
    weights = np.ones((H, W), np.float32)
    if shift > 0:
        weights[:, W - shift - 1:] = 0.0
    else:
        weights[:, :-shift] = 0.0
    return Motion(flow, weights)


def _cache(folder, frames: int) -> MotionCache:
    cache = MotionCache(folder)
    for target in range(1, frames):
        forward, backward = _pan(SHIFT), _pan(-SHIFT)
        if target == CUT:  # a scene cut: nothing of frame 4 is in frame 5
            forward = Motion(forward.flow, np.zeros((H, W), np.float32))
        cache.save(target, target - 1, forward)
        cache.save(target - 1, target, backward)
    return cache


class _Keys:
    """Renders keyframes as a fixed random picture and records which (start, end) each
    continued."""

    def __init__(self) -> None:
        self.picture = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
        self.calls: list[tuple[int, int]] = []

    def __call__(self, start: int, end: int) -> np.ndarray:
        self.calls.append((start, end))
        return self.picture


def _missing(index: int) -> np.ndarray:
    raise AssertionError(f"flow of frame {index} should come from the cache")


def _not_painted(index: int) -> np.ndarray:
    raise AssertionError(f"keyframe {index} should continue the frame before, not be fresh")


def _ahead(tmp_path, keys: _Keys, frames: int = 20) -> KeyframesAhead:
    return KeyframesAhead(tmp_path / "ahead", _cache(tmp_path / "motion", frames),
                          RenderOptions(lookahead=INTERVAL), _missing, lambda i: i < frames,
                          keys, _not_painted, torch.device("cpu"))


class _Recorder:
    """A Stylizer stand-in that records the start and anchors of a frame."""

    device = torch.device("cpu")
    params = StyleParams(size=W, iterations=3)

    def stylize(self, content, regions, *, init=None, anchors=(), **_):
        self.init, self.anchors = init, list(anchors)
        return StylizeResult(to_tensor(content), [0.0])


def test_a_continued_frame_starts_from_the_earlier_one_carried_and_is_held_where_reached(
        tmp_path):
    """How a keyframe (ahead, or a Ray chunk's) continues an earlier stylized frame: frame 8
    from frame 5's result carried 3 frames (6 px) along the pan."""
    rendered = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    recorder = _Recorder()
    renderer = VideoRenderer(recorder, RenderOptions())  # type: ignore[arg-type]
    renderer.continued(rendered, range(5, 9), _cache(tmp_path, 20), _missing,
                       np.zeros((H, W, 3), np.uint8), [])
    start = recorder.init[0].permute(1, 2, 0).numpy() * 255
    # it starts from the carried frame where the carry reached, and where it did not from
    # the content (here flat black) in the carried frame's colours, as at a disocclusion
    # (the last row and column: beyond the edge)
    np.testing.assert_allclose(start[:, :W - 7], rendered[:, 6:-1], atol=1e-3)
    fresh = start[:-1, W - 7:-1].reshape(-1, 3)
    assert (fresh == fresh[0]).all() and fresh[0].max() > 0
    # held where the carry reached (the product of the weights along the way), free elsewhere
    [temporal] = recorder.anchors
    weights = temporal.confidence[0, 0].numpy()
    assert weights[:, :W - 7].min() == 1.0 and weights[:, W - 7:].max() == 0.0
    assert temporal.weight == RenderOptions().temporal_weight


def test_keyframe_ahead_paints_what_each_frame_sees_first(tmp_path):
    rendered = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    keys = _Keys()
    ahead = _ahead(tmp_path, keys)
    [anchor] = ahead.anchors(6, [(rendered, _pan(SHIFT))])
    # frame 5 is a cut: the segment starts there and ends on the grid, at frame 8, whose
    # keyframe continues frame 5
    assert ahead.segment == Segment(5, 8, 8)
    assert keys.calls == [(5, 8)]
    # frame 6 is guided by the keyframe carried back 2 frames (4 px): frame6(x) = key(x - 4)
    target = anchor.target[0].permute(1, 2, 0).numpy() * 255
    np.testing.assert_allclose(target[:, 4:], keys.picture[:, :W - 4], atol=1e-3)
    # ... only where the previous frame does not reach (the last 3 columns) and the
    # keyframe does (all of them: it is 4 px further on)
    confidence = anchor.confidence[0, 0].numpy()
    assert confidence[:, W - 3:].min() == 1.0 and confidence[:, :W - 3].max() == 0.0
    assert anchor.weight == RenderOptions().temporal_weight


def test_segments_follow_the_grid_and_end_before_a_cut(tmp_path):
    rendered = np.zeros((H, W, 3), np.uint8)
    keys = _Keys()
    ahead = _ahead(tmp_path, keys)
    ahead.anchors(1, [(rendered, _pan(SHIFT))])
    assert ahead.segment == Segment(0, 4, 4)  # frame 5 starts a new shot
    ahead.anchors(9, [(rendered, _pan(SHIFT))])
    assert ahead.segment == Segment(8, 16, 16)
    ahead.anchors(17, [(rendered, _pan(SHIFT))])
    assert ahead.segment == Segment(16, 19, 24)  # the clip's last frame
    assert keys.calls == [(0, 4), (8, 16), (16, 19)]


def test_a_resumed_render_reads_the_keyframe_it_planned_before(tmp_path):
    rendered = np.random.default_rng(2).integers(0, 256, (H, W, 3), dtype=np.uint8)
    keys = _Keys()
    first = _ahead(tmp_path, keys).anchors(9, [(rendered, _pan(SHIFT))])
    resumed_keys = _Keys()
    resumed = _ahead(tmp_path, resumed_keys)  # a new process, mid-segment
    again = resumed.anchors(13, [(rendered, _pan(SHIFT))])
    assert resumed.segment == Segment(8, 16, 16) and resumed_keys.calls == []
    assert len(first) == len(again) == 1
    torch.testing.assert_close(resumed.anchors(9, [(rendered, _pan(SHIFT))])[0].target,
                               first[0].target)


def test_frames_past_the_last_keyframe_place_get_no_guide(tmp_path):
    """On Ray, the frames pulled to the next chunk's keyframe take their new pixels from it:
    no keyframe ahead is placed among them, and they are planned once."""
    rendered = np.zeros((H, W, 3), np.uint8)
    keys = _Keys()
    ahead = KeyframesAhead(tmp_path / "ahead", _cache(tmp_path / "motion", 20),
                           RenderOptions(lookahead=INTERVAL), _missing, lambda i: i < 12,
                           keys, _not_painted, torch.device("cpu"))
    assert len(ahead.anchors(9, [(rendered, _pan(SHIFT))])) == 1
    assert ahead.segment == Segment(8, 11, 16)
    assert ahead.anchors(12, [(rendered, _pan(SHIFT))]) == []
    assert ahead.anchors(16, [(rendered, _pan(SHIFT))]) == []
    assert keys.calls == [(8, 11)]


def test_a_still_shot_gets_no_keyframe(tmp_path):
    """Nothing is new in a still shot, so a keyframe ahead would guide nothing and is not
    rendered. (Ruder's checker leaves every frame's last row and column unreliable even
    without motion: they are new to each frame, but unreachable from the keyframe too.)"""
    still = np.zeros((H, W, 2), np.float32)
    cache = MotionCache(tmp_path / "motion")
    for target in range(1, 20):
        motion = Motion(still, consistency_weights(still, still)).stored()
        assert motion.weights[-1].max() < 0.5 and motion.weights[:-3, :-3].min() == 1.0
        cache.save(target, target - 1, motion)
        cache.save(target - 1, target, motion)
    keys = _Keys()
    ahead = KeyframesAhead(tmp_path / "ahead", cache, RenderOptions(lookahead=INTERVAL),
                           lambda i: np.zeros((H, W, 3), np.uint8), lambda i: i < 20, keys,
                           _not_painted, torch.device("cpu"))
    assert ahead.anchors(9, [(np.zeros((H, W, 3), np.uint8), cache.load(9, 8))]) == []
    assert ahead.segment == Segment(8, 16, 16) and keys.calls == []


def _zoom(rate: float) -> Motion:
    """How a frame sees the one before on a camera zooming in by ``rate`` a frame: the
    target's pixel x shows the source's c + (x - c) / rate."""
    centred = np.stack(np.mgrid[0:H, 0:W][::-1], -1).astype(np.float32) + 0.5 \
        - np.float32([W / 2, H / 2])
    return Motion(centred * (1 / rate - 1), np.ones((H, W), np.float32))


class _Painter:
    """Paints keyframes afresh as a fixed random picture and records which."""

    def __init__(self) -> None:
        self.picture = np.random.default_rng(3).integers(0, 256, (H, W, 3), dtype=np.uint8)
        self.calls: list[int] = []

    def __call__(self, end: int) -> np.ndarray:
        self.calls.append(end)
        return self.picture


def test_a_zooming_camera_gets_keyframes_painted_afresh_and_pulls_towards_them(tmp_path):
    """Zooming in by 0.7 % a frame, the camera's zoom since the last fresh keyframe passes
    REFRESH_ZOOM (1.1) every second segment of 8 frames (1.057 a segment): the keyframes at
    16 and 32 are painted afresh, and each frame of their segment is pulled towards them with
    a weight rising to the keyframe; the segments between need no keyframe (nothing new comes
    into view). A resumed render plans the same."""
    cache = MotionCache(tmp_path / "motion")
    for target in range(1, 40):
        cache.save(target, target - 1, _zoom(1.007))
        cache.save(target - 1, target, _zoom(1 / 1.007))
    rendered = np.zeros((H, W, 3), np.uint8)

    def ahead(painter: _Painter) -> KeyframesAhead:
        return KeyframesAhead(tmp_path / "ahead", cache, RenderOptions(lookahead=INTERVAL),
                              _missing, lambda i: i < 40, _Keys(), painter,
                              torch.device("cpu"))

    painter = _Painter()
    keys = ahead(painter)
    tw = RenderOptions().temporal_weight
    assert keys.anchors(3, [(rendered, _zoom(1.007))]) == []
    pulls = []
    for index in range(9, 17):
        _, fresh = keys.anchors(index, [(rendered, _zoom(1.007))])
        assert fresh.name == "fresh keyframe" and fresh.confidence.min() > 0
        pulls.append(fresh.weight / tw)
    assert pulls == pytest.approx([keyframe_ramp(i, 16, 8) for i in range(9, 16)] + [RAMP_CAP])
    assert pulls == sorted(pulls) and pulls[0] < 0.3
    # at the keyframe, the pull is towards the painted picture itself
    torch.testing.assert_close(fresh.target, to_tensor(painter.picture))
    assert keys.anchors(20, [(rendered, _zoom(1.007))]) == []  # 1.057 since 16
    assert len(keys.anchors(25, [(rendered, _zoom(1.007))])) == 2
    assert painter.calls == [16, 32]
    assert sorted(fresh_keyframes(tmp_path / "ahead")) == [16, 32]
    resumed = _Painter()
    again = ahead(resumed).anchors(29, [(rendered, _zoom(1.007))])
    assert resumed.calls == [] and [a.name for a in again] == ["ahead", "fresh keyframe"]


def test_the_zoom_is_counted_from_the_shot_start(tmp_path):
    """A scene cut starts the count again: zooming in by 0.7 % a frame with a cut at frame
    12, the zoom reaches 1.1x again only 14 frames after the cut (at 26, past the grid point
    24), so the keyframe at 32 is the shot's first fresh one; without the cut it would be at
    16 (the test above), and 1.1x since then would come again only at 32."""
    cache = MotionCache(tmp_path / "motion")
    for target in range(1, 40):
        forward, backward = _zoom(1.007), _zoom(1 / 1.007)
        if target == 12:
            forward = Motion(forward.flow, np.zeros((H, W), np.float32))
        cache.save(target, target - 1, forward)
        cache.save(target - 1, target, backward)
    painter = _Painter()
    ahead = KeyframesAhead(tmp_path / "ahead", cache, RenderOptions(lookahead=INTERVAL),
                           _missing, lambda i: i < 40, _Keys(), painter, torch.device("cpu"))
    rendered = np.zeros((H, W, 3), np.uint8)
    for index in (13, 17, 25, 33):
        ahead.anchors(index, [(rendered, _zoom(1.007))])
    assert painter.calls == [32]


def test_later_passes_pull_the_frames_beside_a_fresh_keyframe_towards_it(tmp_path):
    """Later passes hold a fresh keyframe as it is and pull the 8 frames on either side of
    it towards it, the weight rising to it from both sides, within the range only."""
    cache = MotionCache(tmp_path / "motion")
    for target in range(1, 30):
        cache.save(target, target - 1, _zoom(1.007))
        cache.save(target - 1, target, _zoom(1 / 1.007))
    picture = _Painter().picture
    pulls = fresh_keyframe_pulls({16: picture}, 0, 22, cache, _missing, RenderOptions(),
                                 torch.device("cpu"))
    tw = RenderOptions().temporal_weight

    def pull(index: int) -> float:
        anchors = [a for p in pulls for a in p(index, picture)]
        assert len(anchors) <= 1
        return anchors[0].weight / tw if anchors else 0.0

    before, after = [pull(i) for i in range(7, 16)], [pull(i) for i in range(17, 22)]
    assert before[0] == 0 and before[1:] == sorted(before[1:])
    assert before[-1] == pytest.approx(keyframe_ramp(15, 16, 8)) == pytest.approx(8)
    assert after == [pull(16 - k) for k in range(1, 6)]  # mirrored: 17 as 15, 18 as 14...
    assert pull(16) == 0 and pull(22) == 0  # the keyframe itself is held; 22 is past the range
    [next_to] = pulls[1](17, picture)
    carried_target = next_to.target[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(carried_target - picture).mean() > 1  # the keyframe carried one frame on
