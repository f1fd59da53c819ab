"""End to end: `stylevid render` on real clips (a camera pan with sound, the bedroom clip)."""

import os
import re
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from stylevid.imageio import read_image
from stylevid.synthetic import pan_flow, pan_frames, write_clip, zoom_frames
from stylevid.temporal import warping_error
from stylevid.video import ffmpeg_exe, probe, read_frames

W, H, STEP = 48, 32, 2
FAST = ["--size", str(W), "--iterations", "12", "--first-iterations", "30", "--quiet"]


def run_cli(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stylevid", *args], capture_output=True,
                          text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def pan_clip(tmp_path_factory, assets):
    photo = read_image(assets.photo)
    clip = tmp_path_factory.mktemp("clips") / "pan.mp4"
    write_clip(pan_frames(photo, 10, W, H, STEP), clip, fps=30, audio=True)
    return clip


@pytest.fixture(scope="module")
def default_render(pan_clip, assets, tmp_path_factory):
    """One uninterrupted render with the default temporal settings: (output, frames folder)."""
    out = tmp_path_factory.mktemp("default") / "out_default.mp4"
    proc = run_cli("render", str(pan_clip), "--style", str(assets.painting), "-o", str(out),
                   *[arg for arg in FAST if arg != "--quiet"])
    assert proc.returncode == 0, proc.stderr
    # the first frame's iterations show before the frame bar does
    assert re.search(r"first frame 48x32: .*\d+it", proc.stderr), proc.stderr
    assert proc.stderr.index("first frame") < proc.stderr.index("render:")
    # then the encoding, frame by frame, from ffmpeg's own count
    assert re.search(r"encode: 100%.*\| 10/10", proc.stderr), proc.stderr
    assert proc.stderr.index("render:") < proc.stderr.index("encode:")
    return out, out.parent / ".out_default.mp4.stylevid/frames"


def pixel_format(path) -> str:
    """The pixel format of a video's H.264 stream, as ffmpeg describes it."""
    streams = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                             capture_output=True, text=True).stderr
    return re.search(r"Video: h264\b[^,]*, (\w+)", streams).group(1)


def decoded(path):
    info = probe(path)
    return info, list(read_frames(path, info, info.width, info.height))


def test_render_keeps_frames_fps_audio_and_is_temporally_consistent(pan_clip, assets, tmp_path,
                                                                   default_render, cli):
    out, work = default_render
    independent_out = tmp_path / "out_0.mp4"
    proc = cli("render", str(pan_clip), "--style", str(assets.painting), "-o",
               str(independent_out), *FAST, "--temporal-weight", "0")
    assert proc.returncode == 0, proc.stderr
    source_info = probe(pan_clip)
    info, frames = decoded(out)
    assert len(frames) == 10
    assert info.fps == source_info.fps and info.has_audio
    assert info.duration == pytest.approx(source_info.duration, abs=0.05)
    # warping error under the exact ground-truth flow of the pan, from the lossless frames
    base = tmp_path / ".out_0.mp4.stylevid/frames"
    temporal = [read_image(p) for p in sorted(work.glob("*.png"))]
    independent = [read_image(p) for p in sorted(base.glob("*.png"))]
    flow, mask = pan_flow(W, H, STEP)
    e_temporal = warping_error(temporal, [flow] * 9, [mask] * 9)
    e_independent = warping_error(independent, [flow] * 9, [mask] * 9)
    assert e_temporal < 0.5 * e_independent, (e_temporal, e_independent)


def test_killed_render_resumes_to_the_same_frames_as_an_uninterrupted_one(pan_clip, assets,
                                                                         tmp_path,
                                                                         default_render, cli):
    style = str(assets.painting)
    out = tmp_path / "resumed.mp4"
    args = [sys.executable, "-m", "stylevid", "render", str(pan_clip), "--style", style,
            "-o", str(out), *FAST]
    frames_dir = tmp_path / ".resumed.mp4.stylevid/frames"
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(frames_dir.glob("0*.png"))) < 3:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = sorted(frames_dir.glob("0*.png"))
    assert 3 <= len(finished) < 10 and not out.exists()
    before = {p.name: p.read_bytes() for p in finished}
    resume = [arg for arg in args if arg != "--quiet"]
    proc = subprocess.run(resume, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert f"({10 - len(finished)} rendered now)" in proc.stdout
    # the frame bar opens at the frames done; the frame rendered first is not the first frame
    assert "render:" in proc.stderr and f"{len(finished)}/10" in proc.stderr
    assert "first frame" not in proc.stderr
    assert {p.name: p.read_bytes() for p in finished} == before  # nothing redone
    assert len(decoded(out)[1]) == 10
    # the resumed render is the uninterrupted one, frame for frame, byte for byte
    uninterrupted = default_render[1]
    for index in range(10):
        name = f"{index:06d}.png"
        assert (frames_dir / name).read_bytes() == (uninterrupted / name).read_bytes(), name
    # changed settings are refused, the finished work is kept
    proc = cli("render", str(pan_clip), "--style", style, "-o", str(out),
               *FAST, "--iterations", "13")
    assert proc.returncode == 2 and "other settings" in proc.stderr
    assert "params.iterations" in proc.stderr and "now 13" in proc.stderr, proc.stderr
    assert out.exists()
    # another encoding quality or chroma re-encodes the finished frames without rendering any
    assert pixel_format(out) == "yuv420p"
    proc = cli("render", str(pan_clip), "--style", style, "-o", str(out), *FAST,
               "--crf", "30", "--pix-fmt", "yuv444p")
    assert proc.returncode == 0 and "(0 rendered now)" in proc.stdout, proc.stderr
    assert pixel_format(out) == "yuv444p"


def test_multi_pass_alternates_direction_and_passes_can_be_added(pan_clip, assets, tmp_path, cli):
    style = str(assets.painting)
    out = tmp_path / "passes.mp4"
    work = tmp_path / ".passes.mp4.stylevid"
    six = ["--duration", str(6 / 30)]  # the clip's first 6 frames
    proc = cli("render", str(pan_clip), "--style", style, "-o", str(out), *FAST, *six,
               "--passes", "2")
    assert proc.returncode == 0, proc.stderr
    assert "(12 rendered now)" in proc.stdout
    assert len(list((work / "pass2").glob("*.png"))) == 6
    # later passes read the content frames from the work folder's memory-mapped clip
    clip = np.load(work / "clip.npy", mmap_mode="r")
    source = list(read_frames(pan_clip, probe(pan_clip), W, H))
    assert clip.shape == (6, H, W, 3) and np.array_equal(clip, np.stack(source[:6]))
    # a third pass continues the finished render: only its 6 frames are rendered
    proc = cli("render", str(pan_clip), "--style", style, "-o", str(out), *FAST, *six,
               "--passes", "3")
    assert proc.returncode == 0 and "(6 rendered now)" in proc.stdout, proc.stderr
    passes = {k: [read_image(work / folder / f"{i:06d}.png") for i in range(6)]
              for k, folder in ((1, "frames"), (2, "pass2"), (3, "pass3"))}
    # every pass changed every frame, and the output holds the last pass
    for k in (2, 3):
        assert all((a != b).any() for a, b in zip(passes[k], passes[k - 1], strict=True))
    info, frames = decoded(out)
    assert len(frames) == 6
    gaps = {k: np.abs(frames[3].astype(float) - passes[k][3]).mean() for k in passes}
    assert gaps[3] < min(gaps[1], gaps[2]), gaps
    flow, mask = pan_flow(W, H, STEP)
    errors = {k: warping_error(passes[k], [flow] * 5, [mask] * 5) for k in passes}
    assert errors[3] < errors[1], errors


def test_real_clip_renders_end_to_end_to_a_frame_folder(assets, tmp_path, cli):
    out = tmp_path / "frames"
    proc = cli("render", str(assets.clip), "--style",
               str(assets.third_painting), "-o", str(out), "--duration", "0.2",
               "--size", "64", "--iterations", "8", "--first-iterations", "20", "--quiet")
    assert proc.returncode == 0, proc.stderr
    pictures = sorted(out.glob("*.png"))
    info = probe(assets.clip)
    assert info.fps == 30 and len(pictures) == 6  # 0.2 s at 30 fps
    height = round(info.height * 64 / info.width / 2) * 2
    assert read_image(pictures[0]).shape == (height, 64, 3)


def test_a_variable_frame_rate_clip_keeps_its_duration_and_sound(assets, tmp_path, cli):
    """A phone-style clip whose frames come unevenly (8 frames, then half a second without
    a new one) is rendered at its average rate, each moment showing the frame of its time:
    the output lasts as long as the input, with its sound."""
    steady, uneven, sound, clip = (tmp_path / name for name in
                                   ("steady.mp4", "uneven.mp4", "sound.m4a", "clip.mp4"))
    write_clip(pan_frames(read_image(assets.photo), 8, W, H, STEP), steady, fps=25)
    for args in (["-i", steady, "-vf", "setpts='PTS+gte(N,3)*0.5/TB'", "-fps_mode", "vfr",
                  uneven],
                 ["-f", "lavfi", "-i", "sine=frequency=440:duration=0.8", sound],
                 ["-i", uneven, "-i", sound, "-c", "copy", clip]):
        made = subprocess.run([ffmpeg_exe(), "-loglevel", "error", *map(str, args)],
                              capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
    source = probe(clip)
    assert source.duration == pytest.approx(0.82, abs=0.03)  # 0.32 s of frames + 0.5 s pause
    out = tmp_path / "out.mp4"
    proc = cli("render", str(clip), "--style", str(assets.painting), "-o", str(out),
               "--size", str(W), "--iterations", "4", "--first-iterations", "8", "--quiet")
    assert proc.returncode == 0, proc.stderr
    info, frames = decoded(out)
    assert info.fps == source.fps and info.has_audio
    assert len(frames) == round(source.duration * source.fps)
    assert info.duration == pytest.approx(source.duration, abs=1.5 / source.fps)


def test_fps_renders_a_video_at_another_rate_in_sync_with_its_sound(pan_clip, assets,
                                                                     tmp_path, cli):
    """--fps 15 on the 30 fps pan renders every other frame, lasts as long, keeps the
    sound, and `eval` compares it with the original at the rendered rate."""
    source = probe(pan_clip)
    halved = probe(pan_clip, Fraction(15))
    originals = list(read_frames(pan_clip, source, W, H))
    picked = list(read_frames(pan_clip, halved, W, H))
    assert len(picked) == 5
    for k, frame in enumerate(picked):
        assert np.array_equal(frame, originals[2 * k])
    out = tmp_path / "out15.mp4"
    proc = cli("render", str(pan_clip), "--style", str(assets.painting), "-o", str(out),
               "--fps", "15", "--size", str(W), "--iterations", "4", "--first-iterations",
               "8", "--quiet")
    assert proc.returncode == 0, proc.stderr
    info, frames = decoded(out)
    assert info.fps == 15 and info.has_audio and len(frames) == 5
    assert info.duration == pytest.approx(source.duration, abs=1.5 / 15)
    proc = cli("eval", str(out), "--reference", str(pan_clip))
    assert proc.returncode == 0, proc.stderr
    assert "warping" in proc.stdout


@pytest.mark.parametrize("name, codec, sound", [("out.webm", "vp9", "opus"),
                                                  ("out.gif", "gif", None)])
def test_a_render_is_written_as_webm_or_an_animated_gif(pan_clip, assets, default_render,
                                                        cli, name, codec, sound):
    """The default render again, to out_default.webm or .gif beside out_default.mp4: its
    frames are taken from the .mp4's work folder and only the encoding runs. VP9 in WebM
    with the sound made Opus, and a GIF that loops and holds no sound, each at the clip's
    rate and as close to the lossless frames as the H.264 file is."""
    h264, frames_folder = default_render
    out = h264.with_suffix(Path(name).suffix)
    proc = cli("render", str(pan_clip), "--style", str(assets.painting), "-o", str(out),
               *FAST)
    assert proc.returncode == 0, proc.stderr
    assert f"(0 rendered now, the frames of {frames_folder.parent})" in proc.stdout
    assert not (h264.parent / f".{out.name}.stylevid").exists()
    header = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(out)],
                            capture_output=True, text=True).stderr
    assert re.search(rf"Video: {codec}\b", header), header
    info, frames = decoded(out)
    source = probe(pan_clip)
    assert info.fps == 30 and len(frames) == 10
    assert info.duration == pytest.approx(source.duration, abs=0.05)
    assert info.audio_codec == sound and info.has_audio == (sound is not None)
    lossless = [read_image(p) for p in sorted(frames_folder.glob("*.png"))]

    def psnr(decoded_frames):
        error = np.mean([np.mean((a.astype(float) - b) ** 2)
                         for a, b in zip(decoded_frames, lossless, strict=True)])
        return 10 * np.log10(255 ** 2 / error)

    assert psnr(frames) > psnr(decoded(h264)[1]) - 1.0, (psnr(frames), psnr(decoded(h264)[1]))
    if codec == "gif":  # Netscape's loop extension, 0: for ever
        assert b"NETSCAPE2.0\x03\x01\x00\x00" in out.read_bytes()
    proc = cli("eval", str(out), "--reference", str(pan_clip))  # read at the clip's rate
    assert proc.returncode == 0 and "warping" in proc.stdout, proc.stderr


def test_a_gif_is_refused_above_50_frames_a_second_before_any_work(assets, tmp_path, cli):
    """Browsers play a GIF's frame delays under 2/100 s as 10/100: a 60 fps GIF would play at
    10 frames a second."""
    clip = tmp_path / "fast.mp4"
    write_clip(pan_frames(read_image(assets.photo), 3, W, H, STEP), clip, fps=60)
    out = tmp_path / "fast.gif"
    proc = cli("render", str(clip), "--style", str(assets.painting), "-o", str(out), *FAST)
    assert proc.returncode == 2 and "--fps 30" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = cli("render", str(clip), "--style", str(assets.painting), "-o", str(out), *FAST,
               "--fps", "30", "--pix-fmt", "yuv444p")
    assert proc.returncode == 2 and "a GIF holds 256 colours" in proc.stderr, proc.stderr
    assert not out.exists() and not (tmp_path / ".fast.gif.stylevid").exists()


def test_a_start_past_the_end_is_refused_before_a_work_folder_is_made(pan_clip, assets,
                                                                       tmp_path, cli):
    out = tmp_path / "late.mp4"
    proc = cli("render", str(pan_clip), "--style", str(assets.painting), "-o", str(out),
               *FAST, "--start", "5")
    assert proc.returncode == 2, proc.stderr
    assert f"--start 5 is past the end of {pan_clip}, which lasts 0.33" in proc.stderr
    assert not (tmp_path / ".late.mp4.stylevid").exists()


def _write_flo(path, flow):
    with open(path, "wb") as handle:
        np.array([202021.25], np.float32).tofile(handle)
        np.array([flow.shape[1], flow.shape[0]], np.int32).tofile(handle)
        flow.astype(np.float32).tofile(handle)


def test_eval_reports_per_frame_quality_and_plots(pan_clip, tmp_path, cli):
    truth = tmp_path / "truth"
    truth.mkdir()
    forward = np.zeros((H, W, 2), np.float32)
    forward[..., 0] = -STEP
    for index in range(9):
        _write_flo(truth / f"{index:03d}.flo", forward)
    plot = tmp_path / "curves.png"
    proc = cli("eval", str(pan_clip), "--reference", str(pan_clip), "--flow-truth",
               str(truth), "--plot", str(plot), "--per-frame")
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines() if line}
    # the original is consistent with its own flow, and with the exact flow of the pan
    assert 0 <= float(rows["warping"][0]) < 1e-3
    assert 0 <= float(rows["warping_truth"][0]) < 1e-3
    assert "sharpness" in rows and len([r for r in rows if r.isdigit()]) == 10
    assert "1.000 over the clip" in proc.stdout  # the original against itself
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("make,message", [
    (lambda d: d / "missing.mp4", "video not found"),
    (lambda d: (d / "text.mp4").write_text("hello") and d / "text.mp4", "Invalid data"),
])
def test_bad_video_inputs_exit_2_and_keep_finished_work(tmp_path, cli, make, message):
    source = make(tmp_path)
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"finished earlier")
    proc = cli("render", source, "--style", "skimage:coffee", "-o", out)
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert out.read_bytes() == b"finished earlier"


def test_unreadable_style_exits_2(pan_clip, tmp_path, cli):
    style = tmp_path / "style.jpg"
    style.write_bytes(b"\x00garbage")
    proc = cli("render", pan_clip, "--style", style, "-o", tmp_path / "o.mp4")
    assert proc.returncode == 2 and "cannot read" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_zero_frame_video_exits_2(tmp_path, cli):
    import subprocess as sp

    from stylevid.video import ffmpeg_exe

    empty = tmp_path / "empty.mp4"
    sp.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
            "color=c=red:s=32x32:r=10", "-t", "0", "-c:v", "libx264", str(empty)], check=True)
    proc = cli("render", empty, "--style", "skimage:coffee", "-o", tmp_path / "o.mp4")
    assert proc.returncode == 2 and ("no video stream" in proc.stderr or "no frames" in proc.stderr)


@pytest.mark.parametrize("option,value,message", [
    ("--style-weights", "nan", "must be a finite number"),
    ("--content-weight", "inf", "must be a finite number"),
    ("--style-scale", "nan", "must be a finite number"),
    ("--temporal-weight", "nan", "must be a finite number"),
    ("--blend-weight", "-1", "must be >= 0"),
    ("--duration", "0", "must be > 0"),
    ("--crf", "99", "must be <= 51"),
    ("--pix-fmt", "rgb24", "must be one of yuv420p, yuv444p"),
    ("--fps", "-5", "must be > 0"),
    ("--fps", "0", "must be > 0"),
    ("--cut-threshold", "2", "must be <= 1"),
    ("--passes", "0", "must be >= 1"),
    ("--lookahead", "-4", "must be >= 0"),
    ("--iterations", "2.5", "must be a whole number"),
    ("--threads", "nan", "must be a positive integer, not nan"),
    ("--threads", "0", "must be a positive integer, not 0"),
])
def test_nonsense_numbers_are_refused_before_any_work(tmp_path, capsys, option, value,
                                                      message):
    from stylevid.cli import main

    out = tmp_path / "o.mp4"
    code = main(["render", "missing.mp4", "--style", "missing.jpg", "-o", str(out),
                 option, value])
    err = capsys.readouterr().err
    assert code == 2 and message in err and option in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_outputs_get_the_usual_file_mode(tmp_path):
    import os

    from stylevid.imageio import write_image

    old = os.umask(0o022)
    try:
        target = tmp_path / "image.png"
        write_image(target, np.zeros((4, 4, 3), np.uint8))
        assert target.stat().st_mode & 0o777 == 0o644
        target.chmod(0o640)  # an existing file keeps its mode when replaced
        write_image(target, np.ones((4, 4, 3), np.uint8))
        assert target.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


def test_resumed_render_recolours_the_style_from_the_clip_s_first_frame(pan_clip, assets,
                                                                        tmp_path):
    """--preserve-colors histogram matches the style to the clip's first frame; a render
    resumed at a later frame must not match it to that frame instead."""
    from stylevid.api import render_video
    from stylevid.config import RenderOptions, video_params

    params = video_params(size=W, iterations=4, preserve_colors="histogram")
    options = RenderOptions(first_iterations=8, duration=3 / 30)
    out = tmp_path / "frames"
    render_video(pan_clip, [str(assets.painting)], out, params=params, options=options)
    uninterrupted = {p.name: p.read_bytes() for p in sorted(out.glob("*.png"))}
    assert len(uninterrupted) == 3
    (tmp_path / ".frames.stylevid/frames/000002.png").unlink()  # as if stopped after frame 1
    summary = render_video(pan_clip, [str(assets.painting)], out, params=params,
                           options=options)
    assert summary.rendered == 1
    assert {p.name: p.read_bytes() for p in sorted(out.glob("*.png"))} == uninterrupted


def test_a_zooming_camera_gets_keyframes_painted_afresh(assets, tmp_path, cli):
    """Zooming in by 4 % a frame, the camera's zoom passes 1.1x within every 4-frame segment
    (--lookahead 4): the keyframes ahead at 4 and 8 are painted afresh, exactly as an
    independent render paints those frames, and the frames there arrive at them."""
    clip = tmp_path / "zoom.mp4"
    write_clip(zoom_frames(read_image(assets.photo), 9, W, H, 1.04)[0], clip, audio=False)
    renders = {}
    for name, extra in (("temporal", []), ("independent", ["--temporal-weight", "0"])):
        out = tmp_path / f"{name}.mp4"
        proc = cli("render", str(clip), "--style", str(assets.painting), "-o", str(out),
                   "--lookahead", "4", *extra, *FAST, "--first-iterations", "10")
        assert proc.returncode == 0, proc.stderr
        renders[name] = tmp_path / f".{name}.mp4.stylevid"
    ahead = renders["temporal"] / "ahead"
    for start, end in ((0, 4), (4, 8)):
        key = read_image(ahead / f"{start:06d}-{end:06d}-fresh.png")
        np.testing.assert_array_equal(key, read_image(
            renders["independent"] / "frames" / f"{end:06d}.png"))
        frame = read_image(renders["temporal"] / "frames" / f"{end:06d}.png")
        assert np.abs(frame.astype(float) - key).mean() < 4
