"""The one image-optimization loop used by every feature (images, frames, regions, workers)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

LossFn = Callable[[Tensor], Tensor]
StepCallback = Callable[[int, float, Tensor], None]

_WINDOW = 20
# From a warm start (a later frame's carried picture), until 20 evaluations are made the
# plateau is judged over all of them, from this many on: a frame that starts on its plateau
# (a static shot: the previous frame's result) stops after 6 evaluations instead of 21. Not
# from a fresh start, whose first evaluations may move the loss little while L-BFGS learns
# the curvature (with torch's own first step, see _first_step_lr, a 256x144 frame started
# from the photo moved its loss by 0.008 % in its first 7 evaluations, by 65 % in its
# first 20). Nor did it suit later frames while the first step was torch's: at 512x288 its
# line search spent 5-13 evaluations on a step of a hundredth of a grey level, and one
# frame of bedroom.mp4 stopped there, after 6 evaluations, 11 % above its neighbours' loss.
_MIN_WINDOW = 5
# Along a run from a fresh start, the relative improvement per evaluation over the window
# falls about as the evaluation count to this power, past the first 30 evaluations: on 42
# plateau stops (tolerances 2e-4 and 2e-3) of 22 recorded level runs at 128-512 px, three
# pictures and styles, the forecast's median error is +2 % after 46 evaluations, and every
# one lies within -12 % and +24 % (docs/benchmarks.md, "Progress: forecasting the plateau
# stop").
_IMPROVEMENT_DECAY = 2.0
FORECAST_FROM = 30
# L-BFGS's first step (no curvature known yet) is a plain step along the gradient that moves
# no pixel value by more than this. Then it runs with a strong-Wolfe line search until its
# curvature estimate is established, then with plain unit steps (one loss evaluation per
# iteration). Unit steps taken from a poor estimate can overshoot by many orders of
# magnitude; if the loss jumps, the line search comes back on for good.
_FIRST_STEP = 3 / 255
_LINE_SEARCH_ITERATIONS = 10
_LINE_SEARCH_EVALS = 25
_JUMP = 2.0


@dataclass
class OptimizeResult:
    """Best image found (clamped to [0, 1]), loss per evaluation, and why the loop stopped."""

    image: Tensor
    losses: list[float]
    stopped_early: bool


def improvement(losses: Sequence[float], window: int = _WINDOW) -> float:
    """Relative improvement per evaluation over the last ``window`` evaluations."""
    before = losses[-1 - window]
    scale = window * abs(before)
    return (before - losses[-1]) / scale if scale else 0.0


def forecast_stop(losses: Sequence[float], tolerance: float) -> int | None:
    """About how many evaluations a run from a fresh start makes before the plateau stop
    (``tolerance``), from its ``losses`` so far; None before 30 or without a tolerance."""
    count = len(losses)
    if tolerance <= 0 or count < FORECAST_FROM:
        return None
    rate = improvement(losses)
    if rate <= tolerance:
        return count
    return max(count, round(count * (rate / tolerance) ** (1 / _IMPROVEMENT_DECAY)))


def _make_optimizer(name: str, image: Tensor, lr: float,
                    history: int) -> torch.optim.Optimizer:
    if name == "lbfgs":
        # One iteration per step() so that progress, snapshots and early stopping see each
        # iteration; the curvature history persists in the optimizer state between calls.
        return torch.optim.LBFGS(
            [image], lr=lr, max_iter=1, max_eval=_LINE_SEARCH_EVALS, history_size=history,
            line_search_fn="strong_wolfe", tolerance_grad=-1.0, tolerance_change=-1.0,
        )
    if name == "adam":
        return torch.optim.Adam([image], lr=lr)
    raise ValueError(f"optimizer must be 'lbfgs' or 'adam', not {name!r}")


def _first_step_lr(gradient: Tensor) -> float:
    """The lr that makes torch's first L-BFGS step, ``min(1, 1/|g|_1) lr`` along -g, move no
    value by more than _FIRST_STEP. torch's own first step (lr 1) shrinks with the size of
    the picture, and its line search spent 4-14 evaluations growing it on a later frame at
    256x144 (8 on average, a sixth of the frame's), 1 at this size."""
    largest = float(gradient.abs().max())
    if largest == 0.0:
        return 1.0
    return _FIRST_STEP / largest * max(1.0, float(gradient.abs().sum()))


def _choose_step(opt: torch.optim.LBFGS, iteration: int, losses: list[float],
                 best_loss: float, lr: float) -> None:
    """The step rule of this iteration (see _FIRST_STEP)."""
    group = opt.param_groups[0]
    if iteration == 0:
        group["lr"], group["line_search_fn"] = _first_step_lr(group["params"][0].grad), None
    elif iteration == 1:
        group["lr"], group["line_search_fn"] = lr, "strong_wolfe"
    elif iteration == _LINE_SEARCH_ITERATIONS:
        group["line_search_fn"] = None
    elif losses and not losses[-1] <= _JUMP * best_loss:
        group["line_search_fn"] = "strong_wolfe"


def _record_step_taken(opt: torch.optim.LBFGS, step: Tensor) -> None:
    """torch's L-BFGS forms its next curvature pair from the step it meant to take (its
    direction ``d`` times ``t``); the projection into [0, 1] may have cut that step short.
    Record the step taken, so the pair (step, change of gradient) describes the loss.
    With pairs of steps never taken, a later video frame at 256 px went uphill after about
    40 evaluations (its loss 0.4 % above its best by evaluation 60, 13 % by 100), and the
    plateau stop was in fact a stop on that climb."""
    state = opt.state[opt.param_groups[0]["params"][0]]
    t = state.get("t")
    if t:
        state["d"] = step.flatten() / t


def optimize_image(
    init: Tensor,
    loss_fn: LossFn,
    *,
    iterations: int,
    optimizer: str = "lbfgs",
    lr: float = 1.0,
    tolerance: float = 0.0,
    history: int = 100,
    warm_start: bool = False,
    on_step: StepCallback | None = None,
) -> OptimizeResult:
    """Minimise ``loss_fn(image)`` over the pixels of ``init`` (B, 3, H, W in [0, 1]).

    The pixels stay in [0, 1]: ``init`` and each step's result are projected into the range,
    and the loss is taken of the clamped image (line-search trial points may leave it), so
    every reported loss is the loss of an image that can be saved as it is. Unconstrained,
    pixels drift out of range and the saved (clamped) image's loss ends 5-15 % above the
    reported one.

    Stops after ``iterations``, on a non-finite loss, when a step leaves the point where it
    is, or when the loss improved by less than ``tolerance`` (relative, per evaluation)
    over the last 20 evaluations (with ``warm_start``, a start expected near the optimum,
    over all of them while there are 5 to 20); ``losses`` has
    one entry per evaluation of ``loss_fn``, each point evaluated once. L-BFGS remembers its
    last ``history`` steps (two image-sized tensors each).
    ``on_step(iteration, loss, image)`` is called after every iteration.
    """
    image = init.detach().clamp(0.0, 1.0).contiguous().requires_grad_(True)
    opt = _make_optimizer(optimizer, image, lr, history)
    losses: list[float] = []
    best_loss, best_image = math.inf, image.detach().clone()

    # The loss is a function of the projected point: the last projected point evaluated, its
    # loss, and the gradient with respect to it.
    last: tuple[Tensor, Tensor, Tensor] | None = None

    def closure() -> Tensor:
        nonlocal best_loss, best_image, last
        with torch.no_grad():
            projected = image.clamp(0.0, 1.0)
        # torch's LBFGS starts each step by evaluating the point its line search has just
        # accepted, which the projection after the step leaves where it was or moves to
        # the same projected point: while it searches, every other evaluation.
        if last is None or not torch.equal(projected, last[0]):
            projected.requires_grad_(True)
            loss = loss_fn(projected)
            (gradient,) = torch.autograd.grad(loss, projected)
            value = float(loss.detach())
            losses.append(value)
            projected = projected.detach()  # a new tensor: nothing changes it later
            if value < best_loss:
                best_loss, best_image = value, projected
            last = (projected, loss.detach(), gradient)
        # through the projection, as torch.clamp's backward: nothing outside [0, 1]
        image.grad = last[2].masked_fill((image < 0.0) | (image > 1.0), 0.0)
        return last[1]

    stopped_early = False
    if isinstance(opt, torch.optim.LBFGS):
        closure()  # the gradient for the first step (the step evaluates it once, not again)
    for iteration in range(iterations):
        if isinstance(opt, torch.optim.LBFGS):
            _choose_step(opt, iteration, losses, best_loss, lr)
        point = image.detach().clone()
        opt.step(closure)  # type: ignore[arg-type]
        with torch.no_grad():
            image.clamp_(0.0, 1.0)
            if isinstance(opt, torch.optim.LBFGS):
                _record_step_taken(opt, image.detach() - point)
        if on_step is not None:
            on_step(iteration, losses[-1], image.detach())
        if not math.isfinite(losses[-1]) or torch.equal(point, image.detach()):
            stopped_early = True  # diverged, or converged: the step did not move the point
            break
        if tolerance > 0 and len(losses) > (_MIN_WINDOW if warm_start else _WINDOW) \
                and improvement(losses, min(_WINDOW, len(losses) - 1)) <= tolerance:
            stopped_early = True
            break
    return OptimizeResult(image=best_image.clamp(0.0, 1.0), losses=losses,
                          stopped_early=stopped_early)
