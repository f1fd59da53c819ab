"""Progress bars: a bar per level whose total is the forecast stop; a render's first frame."""

import torch

from stylevid import progress
from stylevid.distributed import BatchProgress
from stylevid.optimize import forecast_stop
from stylevid.progress import ClusterBar, FrameBar, IterationBar

COARSE, FINE = torch.zeros(1, 3, 24, 32), torch.zeros(1, 3, 48, 64)


def level_bar(desc: str) -> IterationBar:
    return IterationBar(iterations=500, sizes=[32, 64], tolerance=2e-4, coarse_tolerance=2e-3,
                        quiet=False, desc=desc)


def test_each_level_has_a_bar_whose_total_is_the_forecast_of_its_plateau_stop(capsys):
    losses = [1.0 + 1.0 / n for n in range(1, 61)]
    bar = level_bar("stylize")
    totals = []
    for level in (COARSE, FINE):
        for i, loss in enumerate(losses):
            bar(i, loss, level)
            if i == 20:
                assert bar.bar is not None and bar.bar.total is None  # too early to tell
        assert bar.bar is not None
        totals.append(bar.bar.total)
    bar.close()
    err = capsys.readouterr().err
    assert "stylize 32x24 (coarse)" in err and "stylize 64x48:" in err
    # each level's own tolerance: the coarse level is on its plateau, the final one goes on
    assert totals == [forecast_stop(losses, 2e-3), forecast_stop(losses, 2e-4)]
    assert totals[0] == 60 < totals[1]
    assert f"60/{totals[1]}" in err


def test_a_render_shows_its_first_frames_iterations_before_the_frame_bar(capsys):
    bar = FrameBar(quiet=False, first_frame=level_bar("first frame"))
    for i in range(5):
        bar.step(i, 10.0 - i, FINE)
    bar.frame(0, 10, 5.0)
    bar.step(0, 4.0, FINE)
    bar.frame(1, 10, 4.0)
    bar.close()
    err = capsys.readouterr().err
    assert "first frame 64x48: 5it" in err
    assert err.index("first frame") < err.index("render:")
    assert "2/10" in err and "loss=4" in err


def test_a_run_shorter_than_the_forecast_s_start_shows_its_cap_as_the_total(capsys):
    bar = IterationBar(iterations=10, sizes=[64], tolerance=2e-4, coarse_tolerance=2e-3,
                       quiet=False, desc="stylize")
    bar(0, 2.0, FINE)
    assert bar.bar is not None and bar.bar.total == 10
    bar.close()
    assert "1/10" in capsys.readouterr().err


def test_a_resumed_render_opens_the_frame_bar_at_the_frames_done(capsys):
    """Its first frame rendered now is a later frame, warm-started: no first-frame bar."""
    bar = FrameBar(quiet=False, first_frame=level_bar("first frame"))
    bar.frame(5, 10, float("nan"))  # what render_range reports first on a resume
    for i in range(3):
        bar.step(i, 4.0, FINE)
    bar.frame(6, 10, 4.0)
    bar.close()
    err = capsys.readouterr().err
    assert "first frame" not in err and "nan" not in err
    assert "6/10" in err and "7/10" in err and "loss=4" in err


def test_a_finished_render_run_again_shows_its_bar_once_and_no_rate(capsys):
    """Run again after every frame is done, a render only encodes: one line at 10/10, no
    earlier count drawn first and no iteration rate of 0.0."""
    bar = FrameBar(quiet=False, first_frame=level_bar("first frame"))
    bar.frame(9, 10, float("nan"))
    bar.close()
    err = capsys.readouterr().err
    assert "10/10" in err and "9/10" not in err
    assert "it/s" not in err


def test_the_time_left_is_the_mean_frame_after_the_first_and_a_long_frame_counts_it_down(
        capsys, monkeypatch):
    """The first frame (here 100 s) is not a later frame's measure; a frame that runs long
    (keyframes ahead) counts the time left down instead of multiplying it."""
    clock = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    bar = FrameBar(quiet=False, first_frame=None)
    for index, at in enumerate((100.0, 110.0, 120.0)):
        clock[0] = at
        bar.step(0, 5.0, FINE)
        bar.frame(index, 10, 5.0)
    err = capsys.readouterr().err
    clock[0] = 150.0
    bar.step(0, 4.0, FINE)
    bar.close()
    last = capsys.readouterr().err
    assert "3/10" in err and "left=01:10" in err and "s/frame=10.0" in err  # 7 frames of 10 s
    assert "left=00:40" in last and "s/frame=10.0" in last and "frame it=1" in last


def test_a_batch_s_time_left_is_from_the_frames_since_the_first_was_written(capsys,
                                                                           monkeypatch):
    """Flow and keyframes take minutes before any chunk writes a frame: the rate of frames
    is counted from the first one, and the bar says what runs meanwhile."""
    clock = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    bar = ClusterBar(quiet=False)
    for at, frames, running in ((0.0, 0, (("flow range", 2),)), (100.0, 0, (("keyframe", 1),)),
                                (110.0, 2, (("chunk", 2),)), (130.0, 6, (("chunk", 2),))):
        clock[0] = at
        bar(BatchProgress(frames, 24, 0, 1, running))
    bar.close()
    err = capsys.readouterr().err
    assert "running 2 flow ranges" in err and "running 1 keyframe" in err
    # 4 frames in the 20 s since the first two: 18 left take 90 s (since the start: 390 s)
    assert "6/24" in err and "left 01:30, videos 0/1, running 2 chunks" in err
