import pytest
import torch

from stylevid.optimize import _MIN_WINDOW, _WINDOW, forecast_stop, optimize_image


def quadratic(target):
    return lambda x: ((x - target) ** 2).sum() * 1e4


@pytest.mark.parametrize("optimizer,lr,iterations", [("lbfgs", 1.0, 30), ("adam", 0.05, 300)])
def test_reaches_the_minimum_of_a_quadratic(optimizer, lr, iterations):
    target = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1
    result = optimize_image(torch.full_like(target, 0.5), quadratic(target), iterations=iterations,
                            optimizer=optimizer, lr=lr)
    torch.testing.assert_close(result.image, target, atol=2e-3, rtol=0)
    assert result.losses[-1] < result.losses[0] * 1e-4


def test_result_is_clamped_and_is_the_best_iterate():
    target = torch.full((1, 3, 4, 4), 1.5)  # unreachable inside [0, 1]
    result = optimize_image(torch.zeros(1, 3, 4, 4), quadratic(target), iterations=20)
    assert float(result.image.max()) <= 1.0
    assert float(result.image.min()) == pytest.approx(1.0)


@pytest.mark.parametrize("optimizer,lr", [("lbfgs", 1.0), ("adam", 0.05)])
def test_reported_loss_is_the_loss_of_the_returned_clamped_image(optimizer, lr):
    # Half the target lies outside [0, 1]: an unconstrained optimiser would report a loss
    # near 0 for an image that clamping then moves 0.5 away on those pixels.
    target = torch.zeros(1, 3, 4, 4)
    target[..., :2] = 1.5
    loss_fn = quadratic(target)
    result = optimize_image(torch.full_like(target, 0.5), loss_fn, iterations=200,
                            optimizer=optimizer, lr=lr)
    saved_loss = float(loss_fn(result.image))
    assert min(result.losses) == pytest.approx(saved_loss, rel=1e-6)
    assert saved_loss == pytest.approx(24 * 0.25 * 1e4, rel=1e-3)  # the best possible


def test_start_outside_the_range_is_projected_before_the_first_step():
    # Bicubic upsampling between levels overshoots [0, 1]. Through the clamp such a pixel has
    # no gradient, so unless the start is projected the first step cannot move it.
    target = torch.full((1, 3, 4, 4), 0.3)
    stepped = []
    result = optimize_image(torch.full_like(target, 1.4), quadratic(target), iterations=1,
                            optimizer="adam", lr=0.05,
                            on_step=lambda i, loss, image: stepped.append(image.clone()))
    torch.testing.assert_close(stepped[0], torch.full_like(target, 0.95))
    assert result.losses[0] == pytest.approx(float(quadratic(target)(torch.ones_like(target))))


def test_early_stop_on_plateau_and_calls_back_every_iteration():
    seen = []
    result = optimize_image(torch.zeros(1, 3, 4, 4), quadratic(torch.full((1, 3, 4, 4), 0.3)),
                            iterations=500, tolerance=1e-4,
                            on_step=lambda i, loss, img: seen.append(i))
    assert result.stopped_early
    assert seen == list(range(len(seen))) and len(seen) < 500


def scripted(values):
    """A loss whose values are ``values`` in turn and whose gradient moves every pixel."""
    calls = iter(values)

    def loss(x):
        pull = (x * 1e-3).sum()
        return pull - pull.detach() + next(calls)
    return loss


def test_the_plateau_stop_is_forecast_from_how_the_improvement_falls():
    """A loss 1 + 1/n improves over the window about as 1/n^2, the decay the forecast
    assumes: it names the evaluation the loop then stops at, closer as the run goes on."""
    values = [1.0 + 1.0 / n for n in range(1, 2000)]
    result = optimize_image(torch.full((1, 3, 4, 4), 0.5), scripted(values), iterations=1000,
                            optimizer="adam", lr=1e-5, tolerance=2e-4)
    assert result.stopped_early
    stop = len(result.losses)
    assert 60 < stop < 100
    assert forecast_stop(values[:29], 2e-4) is None  # too early to tell
    assert forecast_stop(values[:60], 0.0) is None  # no plateau stop at all
    assert abs(forecast_stop(values[:40], 2e-4) / stop - 1) < 0.25
    assert abs(forecast_stop(values[:60], 2e-4) / stop - 1) < 0.08
    assert forecast_stop(values[:stop], 2e-4) == stop  # at the stop, the stop


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="optimizer"):
        optimize_image(torch.zeros(1, 3, 2, 2), quadratic(torch.zeros(1, 3, 2, 2)),
                       iterations=1, optimizer="sgd")


def anisotropic_quadratic(target, scales):
    return lambda x: ((x - target) ** 2 * scales).sum() * 1e4


def test_each_point_is_evaluated_once_and_every_evaluation_is_reported():
    # torch's LBFGS evaluates again, at the start of each step, the point its line search
    # has just accepted (here partly projected back into [0, 1] after the step): that must
    # not cost a second forward and backward pass.
    generator = torch.Generator().manual_seed(3)
    target = torch.rand(1, 3, 6, 6, generator=generator, dtype=torch.float64) * 1.4 - 0.2
    scales = torch.rand(1, 3, 6, 6, generator=generator, dtype=torch.float64) * 9 + 1
    points = []

    def loss_fn(x):
        points.append(x.detach().clone())
        return anisotropic_quadratic(target, scales)(x)

    result = optimize_image(torch.full_like(target, 0.5), loss_fn, iterations=12)
    assert len(points) == len(result.losses) > 12  # a line search evaluates at least once
    for i, point in enumerate(points):
        assert not any(torch.equal(point, other) for other in points[:i])
    assert result.losses == [float(anisotropic_quadratic(target, scales)(p)) for p in points]


def test_a_picture_that_starts_on_its_plateau_stops_after_a_few_evaluations():
    # A video frame of a static scene starts where the previous one ended: its loss improves
    # by less than the tolerance from the start, and the full 20-evaluation window would
    # only spend evaluations to find that out.
    image = torch.full((1, 3, 4, 4), 0.5, dtype=torch.float64)
    result = optimize_image(image, lambda x: x.sum() + 1e6, iterations=100, optimizer="adam",
                            lr=1e-3, tolerance=1e-5, warm_start=True)
    assert result.stopped_early and len(result.losses) == _MIN_WINDOW + 1 < _WINDOW
    # A fresh start is judged over the full window: its first evaluations search for a step.
    fresh = optimize_image(image, lambda x: x.sum() + 1e6, iterations=100, optimizer="adam",
                           lr=1e-3, tolerance=1e-5)
    assert fresh.stopped_early and len(fresh.losses) == _WINDOW + 1
    improving = optimize_image(image, lambda x: x.sum() + 1e6, iterations=100,
                               optimizer="adam", lr=1e-3, tolerance=1e-11)
    assert not improving.stopped_early and len(improving.losses) == 100


def test_lbfgs_converges_where_the_bounds_cut_its_steps_short():
    # A coupled quadratic whose minimum lies beyond [0, 1] for a few percent of the pixels,
    # as a stylized frame's saturated pixels do. torch's L-BFGS forms its curvature pairs
    # from the step it meant to take; the projection cuts steps short at the bounds, and
    # pairs of steps never taken sent it uphill (here its best was 6x the minimum, and it
    # ended at 65x after 38 evaluations).
    # The reference is scipy's L-BFGS-B (bounds handled exactly), in float64.
    from scipy.optimize import minimize

    generator = torch.Generator().manual_seed(0)
    n = 3 * 16 * 16
    scale = torch.rand(n, generator=generator, dtype=torch.float64) * 10 + 0.1
    coupling = torch.randn(n // 4, n, generator=generator, dtype=torch.float64) / n ** 0.5
    target = torch.rand(n, generator=generator, dtype=torch.float64) * 1.04 - 0.02

    def loss_fn(image):
        r = image.flatten() - target
        return (scale * r * r).sum() + ((coupling @ r) ** 2).sum()

    def value_and_gradient(x):
        point = torch.tensor(x, requires_grad=True)
        loss = loss_fn(point)
        (gradient,) = torch.autograd.grad(loss, point)
        return float(loss.detach()), gradient.numpy()

    exact = minimize(value_and_gradient, torch.full((n,), 0.5).numpy(), jac=True,
                     method="L-BFGS-B", bounds=[(0.0, 1.0)] * n,
                     options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12})
    result = optimize_image(torch.full((1, 3, 16, 16), 0.5, dtype=torch.float64), loss_fn,
                            iterations=150)
    assert min(result.losses) == pytest.approx(exact.fun, rel=0.01)
    torch.testing.assert_close(result.image.flatten(), torch.from_numpy(exact.x),
                               atol=0.01, rtol=0)



@pytest.mark.parametrize("size", [16, 512])
def test_the_first_step_moves_the_largest_value_three_grey_levels_in_one_evaluation(size):
    """torch's own first L-BFGS step, 1/|gradient|_1 along the gradient, shrinks with the
    picture's size (3x512x512 values: about 1e-6 of the way here), and its line search then
    spends evaluations growing it tenfold at a time. The first step is sized in pixel
    values instead, on any size, and costs the one evaluation of its start."""
    target = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) * 0.5
    start = torch.full_like(target, 0.5)
    calls, moved = [], []

    def loss_fn(x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return ((x - target) ** 2).sum()

    optimize_image(start, loss_fn, iterations=1,
                   on_step=lambda _i, _loss, image: moved.append((image - start).abs().max()))
    assert len(calls) == 1
    assert float(moved[0]) == pytest.approx(3 / 255, rel=1e-5)


def test_lbfgs_learns_its_curvature_from_the_projected_step():
    # optimize._record_step_taken rewrites torch's private L-BFGS state ("d", "t"): this
    # holds torch to the layout it relies on, so that a torch that changes it fails here
    # instead of silently learning from steps never taken.
    from stylevid.optimize import _make_optimizer, _record_step_taken

    image = torch.full((1, 3, 4, 4), 0.5, requires_grad=True)
    opt = _make_optimizer("lbfgs", image, 1.0, 10)

    def closure():
        opt.zero_grad()
        loss = ((image - 2.0) ** 2).sum()
        loss.backward()
        return loss

    group = opt.param_groups[0]
    group["line_search_fn"], group["lr"] = None, 100.0  # a step to 2.58, projected to 1
    point = image.detach().clone()
    opt.step(closure)
    with torch.no_grad():
        image.clamp_(0.0, 1.0)
    taken = image.detach() - point
    _record_step_taken(opt, taken)
    opt.step(closure)  # forms the curvature pair (step, change of gradient)
    state = opt.state[image]
    torch.testing.assert_close(state["old_stps"][-1], taken.flatten())
    torch.testing.assert_close(state["old_dirs"][-1], torch.full((48,), 1.0))  # -2 - (-3)
