"""How a later video frame starts and what it is asked to match (stylevid.render)."""

import numpy as np
import torch

from stylevid.config import RenderOptions, StyleParams
from stylevid.engine import Region, StyleImage, Stylizer, StylizeResult
from stylevid.imageio import read_image, resize_to, to_tensor
from stylevid.losses import gram_distance, gram_matrix
from stylevid.motion import Motion
from stylevid.objective import Objective, PixelAnchor, layer_guides
from stylevid.optimize import optimize_image
from stylevid.render import VideoRenderer, _composite, _settled


def _pan(width: int, height: int, shift: float) -> Motion:
    flow = np.zeros((height, width, 2), np.float32)
    flow[..., 0] = shift
    weights = np.ones((height, width), np.float32)
    weights[:, width - int(np.ceil(shift)) - 1:] = 0.0  # Ruder: no source there
    weights[-1] = 0.0
    return Motion(flow, weights)


def test_start_takes_the_history_mirrors_what_enters_and_repaints_disocclusions():
    rng = np.random.default_rng(0)
    history = rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)
    content = np.full((8, 12, 3), 7, np.uint8)
    still = _pan(12, 8, 0.0)
    start = _composite([still.warp(history)], [still.hold], still.flow, content)
    np.testing.assert_array_equal(start, history)  # last row and column too
    moving = _pan(12, 8, 2.0)
    moving.weights[3, 4] = 0.0  # a disocclusion inside the frame
    start = _composite([moving.warp(history)], [moving.hold], moving.flow, content)
    np.testing.assert_array_equal(start[:, -2:], history[:, -2:-4:-1])  # entering: mirrored
    np.testing.assert_array_equal(start[2, 4], moving.warp(history)[2, 4])  # covered: history


def test_disocclusions_start_from_the_photo_in_the_colours_of_the_painting():
    """What a frame sees first inside it starts with the content's structure (its order of
    brightness) and the colours of the pixels the history covers (per channel), not the
    photo's own."""
    content = np.zeros((8, 12, 3), np.uint8)
    content[..., 0] = np.arange(12, dtype=np.uint8) * 20  # a red ramp
    content[..., 1:] = 230  # a bright photo
    painted = np.zeros((8, 12, 3), np.uint8)
    painted[:, ::2] = (30, 60, 160)  # a painting of two blues
    painted[:, 1::2] = (10, 20, 120)
    still = _pan(12, 8, 0.0)
    still.weights[2:6, 3:9] = 0.0  # disoccluded
    start = _composite([painted], [still.hold], still.flow, content)
    hole = start[2:6, 3:9].reshape(-1, 3).astype(int)
    # each channel within the painting's range of that channel, far from the photo's 230
    assert (hole.min(0) >= (10, 20, 120)).all() and (hole.max(0) <= (30, 60, 160)).all()
    # brighter red in the photo, brighter blue in the start: the ramp's order is kept
    reds = start[4, 3:9, 0].astype(int)
    assert (np.diff(reds) >= 0).all() and reds[-1] > reds[0]


def test_a_frame_pulled_to_a_keyframe_starts_where_the_pixel_terms_settle():
    """Temporal loss c (x - w)^2 and keyframe pull b k (x - t)^2: each pixel starts at their
    minimum (c w + b k t) / (c + b k), as a float64 reference computes it."""
    rng = np.random.default_rng(1)
    start, target = (rng.integers(0, 256, (6, 5, 3), dtype=np.uint8) for _ in range(2))
    c = rng.uniform(0, 1, (6, 5)).astype(np.float32)
    k = rng.uniform(0, 1, (6, 5)).astype(np.float32)
    c[0, 0], k[0, 0] = 0.0, 0.0  # held by neither: keeps its start
    c[1, 1], k[1, 1] = 0.0, 0.7  # only the keyframe holds it: its target
    anchor = PixelAnchor("keyframe", to_tensor(target), torch.from_numpy(k)[None, None],
                         3.0 * 5e6)
    got = _settled(start, c, [anchor], 5e6)
    b = 3.0 * k.astype(np.float64)[..., None]
    cc = c.astype(np.float64)[..., None]
    want = (cc * start + b * target) / np.maximum(cc + b, 1e-300)
    want[0, 0] = start[0, 0]
    np.testing.assert_array_equal(got, np.round(want).astype(np.uint8))
    np.testing.assert_array_equal(got[1, 1], target[1, 1])


class _Recorder:
    """A Stylizer stand-in that records what a frame is asked to match."""

    device = torch.device("cpu")
    params = StyleParams(size=16, iterations=3)

    def __init__(self) -> None:
        self.anchors: list[PixelAnchor] = []

    def stylize(self, content, regions, *, init=None, anchors=(), **_):
        self.anchors = list(anchors)
        return StylizeResult(to_tensor(content), [0.0])


def test_each_pass_holds_the_finest_detail_at_its_own_weight():
    """The first pass's history is resampled frame after frame (its finest detail held at
    ``temporal_fine_weight``); a later pass starts from the frame's own result and holds its
    neighbour's finest detail at ``pass_fine_weight``."""
    rng = np.random.default_rng(2)
    content, neighbour, previous = (rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)
                                    for _ in range(3))
    recorder = _Recorder()
    options = RenderOptions(temporal_fine_weight=0.2, pass_fine_weight=0.7)
    renderer = VideoRenderer(recorder, options)  # type: ignore[arg-type]
    motion = _pan(12, 8, 1.0)
    renderer.stylize_frame(content, [], [(neighbour, motion)])
    [first] = recorder.anchors
    assert first.name == "temporal" and first.fine_weight == 0.2
    renderer.stylize_frame(content, [], [(neighbour, motion)], previous=previous)
    later, _ = recorder.anchors
    assert later.name == "temporal" and later.fine_weight == 0.7


def test_a_later_pass_holds_what_its_neighbour_does_not_show_to_the_frame_before():
    """In a later pass, pixels the pass's neighbour does not reliably show (the strip a
    backward pass brings into view, disocclusions) are held to the frame's own result of
    the pass before, as firmly as the temporal loss holds the rest: confidences 1 - c and c
    add up to 1 everywhere, so no strip is left free to grow new detail pass after pass."""
    rng = np.random.default_rng(3)
    content, neighbour, previous = (rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)
                                    for _ in range(3))
    recorder = _Recorder()
    renderer = VideoRenderer(recorder, RenderOptions())  # type: ignore[arg-type]
    motion = _pan(12, 8, 2.0)
    motion.weights[3, 4] = 0.25  # partly reliable
    renderer.stylize_frame(content, [], [(neighbour, motion)], previous=previous)
    temporal, held = recorder.anchors
    assert held.name == "previous pass" and held.weight == temporal.weight
    np.testing.assert_array_equal(held.target, to_tensor(previous))
    np.testing.assert_allclose(held.confidence[0, 0].numpy(), 1.0 - motion.weights)
    np.testing.assert_allclose((held.confidence + temporal.confidence)[0, 0].numpy(), 1.0)
    renderer.stylize_frame(content, [], [(neighbour, motion)])  # the first pass: no hold
    assert [a.name for a in recorder.anchors] == ["temporal"]


def test_agreeing_pixels_are_held_to_the_neighbour_and_in_a_later_pass_to_the_last_result():
    """A pixel Ruder's checker lets go but whose content agrees (a motion boundary seen in
    both frames) is held by the temporal loss and, in the first pass, starts from the
    history. A later pass starts it from the frame's own last result and holds it both to
    its neighbour and to that result, as firmly: it settles halfway between them."""
    rng = np.random.default_rng(4)
    content, neighbour, previous = (rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)
                                    for _ in range(3))
    moving = _pan(12, 8, 2.0)
    moving.weights[2:5, 3:6] = 0.0  # a motion-boundary band ...
    agrees = np.zeros((8, 12), bool)
    agrees[2:5, 3:5] = True  # ... most of which both frames show
    motion = Motion(moving.flow, moving.weights, agrees)
    recorder = _Recorder()
    renderer = VideoRenderer(recorder, RenderOptions())  # type: ignore[arg-type]
    renderer.stylize_frame(content, [], [(neighbour, motion)])
    [temporal] = recorder.anchors
    np.testing.assert_array_equal(temporal.confidence[0, 0].numpy(), motion.hold)
    start = _composite([motion.warp(neighbour)], [motion.hold], motion.flow, content)
    np.testing.assert_array_equal(start[2:5, 3:5], motion.warp(neighbour)[2:5, 3:5])
    assert (start[2:5, 5] != motion.warp(neighbour)[2:5, 5]).any()  # free: repainted
    renderer.stylize_frame(content, [], [(neighbour, motion)], previous=previous)
    temporal, held = recorder.anchors
    np.testing.assert_array_equal(temporal.confidence[0, 0].numpy(), motion.hold)
    np.testing.assert_allclose(held.confidence[0, 0].numpy(), 1.0 - motion.weights)
    both = (temporal.confidence * held.confidence)[0, 0].numpy()
    np.testing.assert_array_equal(both > 0, agrees)  # the band: held both ways
    assert held.weight == temporal.weight


def test_fresh_pixels_take_the_style_on_their_own_not_what_the_held_ones_lack(assets, device):
    """A quarter of a frame is fresh, the rest held to the photo itself (far from the style's
    statistics). Under one Gram matrix of the whole frame the fresh strip is painted as the
    complement of the held part (its deviation from the style, tripled); with the style loss
    split between held and fresh pixels it is painted in the style: its own Gram matrices
    are far nearer the painting's."""
    photo = resize_to(read_image(assets.photo), 48, 64)
    params = StyleParams(size=64, scales=1, precision="fp32")
    stylizer = Stylizer(params, device)
    regions = [Region(None, (StyleImage(read_image(assets.painting)),))]
    held = np.ones((48, 64), np.float32)
    held[:, 48:] = 0.0
    anchor = PixelAnchor.of("temporal", photo, held, 1e9, device)
    split = stylizer.objective(to_tensor(photo, device), regions, [anchor])
    whole = Objective(stylizer.encoder, params, split.content_targets, split.regions,
                      split.anchors)  # without fresh guides: one Gram matrix of the frame
    strip = layer_guides(torch.from_numpy(1.0 - held)[None, None].to(device), params.style_layers)

    def strip_style(objective: Objective) -> float:
        result = optimize_image(to_tensor(photo, device), objective, iterations=40)
        with torch.no_grad():
            features = stylizer.encoder(result.image.to(device))
        return sum(float(gram_distance(gram_matrix(features[name], strip[name]), target))
                   for name, target in split.regions[0].grams.items())

    assert strip_style(split) < 0.5 * strip_style(whole)
