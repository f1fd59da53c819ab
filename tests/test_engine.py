"""The coarse-to-fine engine: what a coarse level hands on, and when it stops."""

import pytest
import torch.nn.functional as F

from stylevid import engine
from stylevid.config import COARSE_TOLERANCE_FACTOR, StyleParams
from stylevid.engine import Region, StyleImage, Stylizer
from stylevid.imageio import read_image, resize_to, to_tensor
from stylevid.optimize import optimize_image


def test_a_coarse_level_is_the_same_optimisation_stopped_on_a_looser_plateau(
        assets, device, monkeypatch):
    """Its last evaluations would polish detail the enlargement blurs: the coarse level of a
    two-level run follows, evaluation for evaluation, the run of that level on its own, and
    stops where the loss improves by less than 10x the tolerance over 20 evaluations."""
    params = StyleParams(size=64, scales=2, iterations=100, precision="fp32")
    stylizer = Stylizer(params, device)
    photo = resize_to(read_image(assets.photo), 48, 64)
    regions = [Region(None, (StyleImage(read_image(assets.painting)),))]
    levels = []

    def recorded(init, loss_fn, **options):
        final = tuple(init.shape[-2:]) == photo.shape[:2]
        result = optimize_image(init, loss_fn, **{**options, "iterations": 1} if final
                                else options)  # the full size is not under test here
        levels.append((tuple(init.shape[-2:]), options["tolerance"], result))
        return result

    monkeypatch.setattr(engine, "optimize_image", recorded)
    stylizer.stylize(photo, regions)
    (coarse_size, coarse_tolerance, coarse), (fine_size, fine_tolerance, _) = levels
    assert (coarse_size, fine_size) == ((24, 32), (48, 64))
    assert (coarse_tolerance, fine_tolerance) == (params.tolerance * COARSE_TOLERANCE_FACTOR,
                                                  params.tolerance)

    start = F.interpolate(to_tensor(photo, device), size=coarse_size, mode="bicubic",
                          align_corners=False)
    count = len(coarse.losses)
    assert coarse.stopped_early and count > 21
    before, last = coarse.losses[-21], coarse.losses[-1]
    assert before - last <= coarse_tolerance * 20 * before
    assert not before - last <= params.tolerance * 20 * before  # alone, it would go on
    alone = stylizer.stylize(resize_to(photo, *coarse_size), regions, init=start, sizes=[32],
                             iterations=count)  # at least one evaluation an iteration
    assert coarse.losses == pytest.approx(alone.losses[:count], rel=1e-5)
