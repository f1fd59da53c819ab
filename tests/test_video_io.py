import subprocess
from fractions import Fraction

import cv2
import numpy as np
import pytest

from stylevid.errors import UserError
from stylevid.synthetic import write_clip
from stylevid.video import (
    decode_args,
    encode,
    encode_args,
    exact_fps,
    ffmpeg_exe,
    output_size,
    parse_probe,
    probe,
    read_frames,
)

HEADER = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'clip.mp4':
  Duration: 00:00:10.01, start: 0.000000, bitrate: 2856 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 1920x1080, 2852 kb/s, 29.97 fps, 29.97 tbr, 30k tbn (default)
      Side data:
        displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 128 kb/s
"""


def test_parse_probe_reads_fps_rotation_audio_duration():
    info = parse_probe(HEADER, "clip.mp4")
    assert (info.width, info.height) == (1080, 1920)  # rotated for display
    assert info.fps == Fraction(30000, 1001)
    assert info.has_audio and info.duration == pytest.approx(10.01)


def test_non_square_pixels_are_shown_at_their_display_width():
    dv = HEADER.replace("1920x1080, 2852", "720x480 [SAR 8:9 DAR 4:3], 2852")
    info = parse_probe(dv, "dv.mp4")
    assert (info.width, info.height) == (480, 640)  # 640x480 as displayed, then rotated
    assert output_size(info, 64) == (48, 64)


def test_a_still_picture_is_refused_but_an_animated_gif_is_a_video(tmp_path):
    """ffmpeg opens a JPEG as a one-frame video at 25 fps: rendered, it gave a 0.04 s clip."""
    for name in ("photo.jpg", "photo.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((24, 32, 3), np.uint8))
        with pytest.raises(UserError, match="is a still picture, not a video: .*stylize"):
            probe(tmp_path / name)
    gif = tmp_path / "moving.gif"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=32x24:rate=5:duration=1", str(gif)], check=True)
    info = probe(gif)
    assert (info.width, info.height, info.fps) == (32, 24, 5)


def test_exact_fps():
    assert exact_fps(23.98) == Fraction(24000, 1001)
    assert exact_fps(25.0) == 25
    assert exact_fps(12.5) == Fraction(25, 2)


def test_output_size_even_and_longest_side():
    info = parse_probe(HEADER, "x")
    assert output_size(info, 101) == (56, 100)
    assert output_size(info, None) == (1080, 1920)


def test_decode_and_encode_argv():
    args = decode_args("in.mp4", 64, 36, Fraction(30000, 1001), start=1.5, duration=2)
    assert args[1:6] == ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    assert args[args.index("-ss") + 1] == "1.5" and args[args.index("-t") + 1] == "2"
    assert "fps=fps=30000/1001" in " ".join(args) and args[-1] == "pipe:"
    assert "scale=64:36" in " ".join(args)
    out = encode_args("f/%06d.png", Fraction(30000, 1001), "o.mp4", audio_source="in.mp4",
                      start=None, duration=None, crf=20)
    assert out[out.index("-framerate") + 1] == "30000/1001"
    assert out[out.index("-acodec") + 1] == "copy" and out[out.index("-crf") + 1] == "20"
    assert out[out.index("-pix_fmt") + 1] == "yuv420p"
    assert out[out.index("-tune") + 1] == "grain"  # painted strokes: B-frames keep them
    plain = encode_args("f/%06d.png", Fraction(25), "o.mp4", audio_source=None, start=None,
                        duration=None, crf=18, tune=None)
    assert "-tune" not in plain and "-acodec" not in plain


def test_round_trip_keeps_frames_fps_and_audio(tmp_path):
    rng = np.random.default_rng(0)
    frames = [np.repeat(np.repeat(rng.integers(0, 256, (4, 6, 3), dtype=np.uint8), 8, 0), 8, 1)
              for _ in range(12)]
    clip = tmp_path / "clip.mp4"
    write_clip(frames, clip, fps=24, audio=True)
    info = probe(clip)
    assert (info.width, info.height, info.fps, info.has_audio) == (48, 32, 24, True)
    decoded = list(read_frames(clip, info, 48, 32))
    assert len(decoded) == 12
    assert np.abs(decoded[5].astype(int) - frames[5]).mean() < 3
    folder = tmp_path / "frames"
    folder.mkdir()
    import cv2

    for i, frame in enumerate(decoded):
        cv2.imwrite(str(folder / f"{i:06d}.png"), frame[:, :, ::-1])
    out = tmp_path / "out.mp4"
    encode(str(folder / "%06d.png"), info.fps, out, audio_source=str(clip))
    again = probe(out)
    assert again.fps == 24 and again.has_audio
    assert len(list(read_frames(out, again, 48, 32))) == 12


def test_ffmpeg_message_reaches_the_user(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(UserError, match="Invalid data found"):
        probe(bad)
