import pytest
import torch

from stylevid import memory
from stylevid.config import video_params
from stylevid.errors import UserError
from stylevid.memory import check_fits, estimate_bytes, lbfgs_history
from stylevid.optimize import optimize_image


def test_lbfgs_history_is_shortened_on_large_frames_only():
    assert lbfgs_history(512 * 288) == 100
    assert lbfgs_history(1280 * 720) == 2**30 // (24 * 1280 * 720) == 48
    assert lbfgs_history(1920 * 1080) == 21
    assert lbfgs_history(7680 * 4320) == 10


def test_the_estimate_counts_the_shortened_history_exactly():
    params = video_params(iterations=500)
    pixels = 1920 * 1080
    steps_bytes = 2 * 3 * 4 * pixels  # two float32 images a remembered step
    fewer = estimate_bytes(1080, 1920, params.with_(iterations=11))
    assert estimate_bytes(1080, 1920, params) - fewer == (21 - 11) * steps_bytes


def test_the_optimizer_remembers_only_the_steps_asked_for(monkeypatch):
    target = torch.rand(1, 3, 6, 6, generator=torch.Generator().manual_seed(4))
    made = []
    original = torch.optim.LBFGS.__init__

    def record(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(torch.optim.LBFGS, "__init__", record)
    remembered = []

    def count(_iteration, _loss, _image):
        opt = made[0]
        remembered.append(len(opt.state[opt.param_groups[0]["params"][0]]["old_dirs"]))

    optimize_image(torch.full_like(target, 0.5),
                   lambda x: ((x - target) ** 4).sum() + ((x - target) ** 2).sum(),
                   iterations=30, history=5, on_step=count)
    assert remembered[:5] == [0, 1, 2, 3, 4] and max(remembered) == remembered[-1] == 5


def test_a_1080p_frame_now_fits_in_8_gib_and_4k_is_refused(monkeypatch):
    params = video_params(iterations=500)
    monkeypatch.delenv("STYLEVID_NO_MEMORY_CHECK", raising=False)
    monkeypatch.setattr(memory, "available_bytes", lambda: 8 * 2**30)
    assert estimate_bytes(1080, 1920, params) < 8 * 2**30
    check_fits(1080, 1920, params)
    with pytest.raises(UserError, match="a 3840x2160 frame needs about 28.0 GiB"):
        check_fits(2160, 3840, params)
