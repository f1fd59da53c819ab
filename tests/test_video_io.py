import subprocess
from dataclasses import replace
from fractions import Fraction

import cv2
import numpy as np
import pytest

from stylevid.encode import encode, encode_args
from stylevid.errors import UserError
from stylevid.synthetic import write_clip
from stylevid.video import (
    HDR_PEAK_NITS,
    REFERENCE_WHITE_NITS,
    decode_args,
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
        with pytest.raises(UserError, match="is a still picture, not a video .*stylize"):
            probe(tmp_path / name)
    gif = tmp_path / "moving.gif"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=32x24:rate=5:duration=1", str(gif)], check=True)
    info = probe(gif)
    assert (info.width, info.height, info.fps) == (32, 24, 5)


def test_parse_probe_reads_an_hdr_transfer():
    sdr = parse_probe(HEADER, "clip.mp4")
    assert sdr.transfer is None
    for transfer in ("smpte2084", "arib-std-b67"):
        hdr = HEADER.replace("yuv420p(progressive)",
                             f"yuv420p10le(tv, bt2020nc/bt2020/{transfer}, progressive)")
        assert parse_probe(hdr, "hdr.mp4").transfer == transfer


def _pq_signal(nits: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084's inverse EOTF, in float64: the PQ signal (0-1) of a luminance."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    y = (nits / 10000.0) ** m1
    return ((c1 + c2 * y) / (1 + c3 * y)) ** m2


def _grey_patches(codes: list[int], transfer: str, path) -> np.ndarray:
    """Decode a 10-bit BT.2020 clip of grey patches with luma ``codes`` (limited range)
    tagged with ``transfer``; the green value decoded at each patch's centre."""
    width = 16 * len(codes)
    luma = np.concatenate([np.full((16, 16), code, np.uint16) for code in codes], 1)
    chroma = np.full((8, width // 2), 512, np.uint16)
    raw = (luma.tobytes() + chroma.tobytes() * 2) * 2
    tags = f"setparams=color_trc={transfer}:color_primaries=bt2020:colorspace=bt2020nc:range=tv"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt",
                    "yuv420p10le", "-s", f"{width}x16", "-r", "25", "-i", "-", "-vf", tags,
                    "-c:v", "ffv1", str(path)], input=raw, check=True)
    info = probe(path)
    assert info.transfer == transfer
    return next(read_frames(path, info, width, 16))[8, 8::16, 1].astype(float)


def test_hdr_greys_are_tone_mapped_to_the_sdr_display(tmp_path):
    """PQ greys of known luminance: below the knee each is the SDR display's (BT.1886,
    gamma 2.4, white = BT.2408's reference white) exactly; the reference white is near SDR
    white, and HLG's (75 % signal) the same; HDR_PEAK_NITS is SDR's peak."""
    nits = np.array([0.0, 5.0, 20.0, 60.0, 100.0, REFERENCE_WHITE_NITS, 500.0, HDR_PEAK_NITS])
    codes = np.round(64 + 876 * _pq_signal(nits)).astype(int).tolist()
    pq = _grey_patches(codes, "smpte2084", tmp_path / "pq.mkv")
    display = 255 * (nits[:5] / REFERENCE_WHITE_NITS) ** (1 / 2.4)
    np.testing.assert_allclose(pq[:5], display, atol=1.5)
    assert 230 <= pq[5] < 250 and pq[7] == 255 and np.all(np.diff(pq) > 0)
    hlg = _grey_patches([64, 64 + round(0.75 * 876), 940], "arib-std-b67",
                        tmp_path / "hlg.mkv")
    assert hlg[0] == 0 and abs(hlg[1] - pq[5]) <= 2 and hlg[2] == 255


def test_an_hdr_clip_of_sdr_frames_decodes_to_those_frames(tmp_path, assets):
    """The clip's frames written as PQ and HLG (their white at the reference white)
    decode to what the SDR clip decodes to, up to the roll-off above the knee and 4:2:0
    chroma; decoded as SDR (as before) they were 17 (the generated clip) to 90 (the real one)
    grey levels off."""
    info = probe(assets.clip)
    sdr = np.stack(list(read_frames(assets.clip, info, 160, 90, duration=0.2)))
    for transfer in ("smpte2084", "arib-std-b67"):
        clip = tmp_path / f"{transfer}.mkv"
        to_hdr = ("zscale=min=470bg:tin=bt709:pin=bt709:rin=tv:m=gbr:p=bt709:t=linear:"
                  f"npl={REFERENCE_WHITE_NITS},format=gbrpf32le,zscale=p=bt2020:"
                  f"t={transfer}:m=bt2020nc:r=tv:npl={REFERENCE_WHITE_NITS},format=yuv420p10le")
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-t", "0.2", "-i", str(assets.clip),
                        "-vf", to_hdr, "-c:v", "ffv1", str(clip)], check=True)
        hdr = probe(clip)
        decoded = np.stack(list(read_frames(clip, hdr, 160, 90)))
        error = np.abs(decoded.astype(int) - sdr)
        assert error.mean() < 4 and error[sdr < 200].mean() < 2.5  # 200: below the knee
        as_sdr = np.stack(list(read_frames(clip, replace(hdr, transfer=None), 160, 90)))
        assert np.abs(as_sdr.astype(int) - sdr).mean() > 10


def _combing(frames: np.ndarray) -> float:
    """Mean distance of each row from the mean of the rows above and below it."""
    grey = frames.astype(float).mean(-1)
    return float(np.abs(grey[:, 1:-1] - (grey[:, :-2] + grey[:, 2:]) / 2).mean())


def test_interlaced_frames_are_deinterlaced(tmp_path, assets):
    """Pairs of the clip's frames woven into interlaced ones (top field first, from the
    first of each pair) decode to about that first frame, without the weave's combs."""
    info = probe(assets.clip)
    frames = np.stack(list(read_frames(assets.clip, info, info.width, info.height,
                                       duration=0.4)))
    interlaced = tmp_path / "interlaced.mkv"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-t", "0.4", "-i", str(assets.clip),
                    "-vf", "tinterlace=mode=interleave_top,setfield=tff", "-c:v", "ffv1",
                    "-field_order", "tt", str(interlaced)], check=True)
    decoded = np.stack(list(read_frames(interlaced, probe(interlaced), info.width,
                                        info.height)))
    first = frames[0::2][:len(decoded)]
    woven = first.copy()
    woven[:, 1::2] = frames[1::2][:len(decoded), 1::2]  # the bottom field from the second
    assert len(decoded) == len(frames) // 2
    assert _combing(woven) > 1.5 * _combing(first)  # the clip moves: weaving combs it
    assert _combing(decoded) < 1.1 * _combing(first)
    error = np.sqrt(((decoded.astype(float) - first) ** 2).mean())
    assert error < 0.6 * np.sqrt(((woven.astype(float) - first) ** 2).mean())  # 0.23-0.46


def test_a_frame_folder_is_read_in_the_order_of_its_numbers(tmp_path):
    """Names numbered without padding (frame_1 ... frame_12) are read 1, 2, ..., 12, not
    1, 10, 11, 12, 2, ... as a sort by name gives."""
    for number in range(1, 13):
        cv2.imwrite(str(tmp_path / f"frame_{number}.png"), np.full((4, 6, 3), number * 20,
                                                                   np.uint8))
    info = probe(tmp_path)
    assert [p.name for p in info.frames[:4]] == ["frame_1.png", "frame_2.png", "frame_3.png",
                                                 "frame_4.png"]
    levels = [int(frame[0, 0, 0]) for frame in read_frames(tmp_path, info, 6, 4)]
    assert levels == [number * 20 for number in range(1, 13)]


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
                      start=None, duration=None, crf=20, matrix="bt709")
    assert out[out.index("-framerate") + 1] == "30000/1001"
    assert out[out.index("-acodec") + 1] == "copy" and out[out.index("-crf") + 1] == "20"
    assert out[out.index("-pix_fmt") + 1] == "yuv420p"
    assert out[out.index("-tune") + 1] == "grain"  # painted strokes: B-frames keep them
    plain = encode_args("f/%06d.png", Fraction(25), "o.mp4", audio_source=None, start=None,
                        duration=None, crf=18, matrix="bt709", tune=None)
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


@pytest.mark.parametrize("sound, output, kept", [
    ("pcm_s16le", "out.mp4", "aac"), ("flac", "out.mp4", "aac"), ("aac", "out.mp4", "aac"),
    ("pcm_s16le", "out.mov", "pcm_s16le"), ("flac", "out.mkv", "flac"),
    ("aac", "out.webm", "opus"), ("libopus", "out.webm", "opus")])
def test_the_sound_is_copied_where_the_container_plays_it_else_made_aac(tmp_path, sound,
                                                                        output, kept):
    """A camera's PCM sound, or FLAC, copied into an MP4 (ffmpeg 7+ allows it) plays silent
    in most players: it becomes AAC there; a MOV keeps PCM and a Matroska file anything."""
    source = tmp_path / ("source.mov" if sound.startswith("pcm") else "source.mkv")
    made = subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                           "testsrc=size=32x24:rate=10:duration=0.5", "-f", "lavfi", "-i",
                           "sine=frequency=440:duration=0.5", "-c:v", "libx264", "-c:a", sound,
                           str(source)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    info = probe(source)
    assert info.audio_codec == sound.removeprefix("lib")
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(read_frames(source, info, 32, 24)):
        cv2.imwrite(str(folder / f"{i:06d}.png"), frame[:, :, ::-1])
    out = tmp_path / output
    encode(str(folder / "%06d.png"), info.fps, out, audio_source=str(source),
           audio_codec=info.audio_codec)
    assert probe(out).audio_codec == kept


@pytest.mark.parametrize("fps", [Fraction(24), Fraction(30000, 1001), Fraction(50)])
def test_a_gif_lasts_as_long_as_its_frames_at_any_rate(tmp_path, fps):
    """A GIF's delays are whole hundredths of a second; 24 and 29.97 frames a second are
    not, and the delays alternate so that the GIF keeps the clip's length."""
    picture = np.zeros((16, 16, 3), np.uint8)
    for i in range(30):
        picture[:] = (8 * i, 255 - 8 * i, 100)
        cv2.imwrite(str(tmp_path / f"{i:06d}.png"), picture[:, :, ::-1])
    out = tmp_path / "out.gif"
    encode(str(tmp_path / "%06d.png"), fps, out)
    info = probe(out)
    frames = list(read_frames(out, info, 16, 16))
    assert len(frames) == 30 and info.duration == pytest.approx(30 / fps, abs=0.011)
    assert np.abs(frames[7].astype(int) - (56, 199, 100)).max() <= 8


@pytest.mark.parametrize("width, height, matrix, as_read", [
    (128, 32, "smpte170m", "bt601"), (1280, 64, "bt709", "bt709")])
def test_the_output_says_its_colour_matrix(tmp_path, width, height, matrix, as_read):
    """Saturated colours come back from the encoded file as a player decodes it by its tags,
    BT.601's matrix below HD and BT.709's from HD on (what a player also guesses of a video
    that says nothing); before, the file said nothing and was always BT.601, which a player
    taking an HD video for BT.709 showed 13-23 levels off."""
    colours = np.array([[200, 30, 30], [30, 180, 60], [40, 60, 210], [230, 220, 40]], np.uint8)
    patch = width // 4
    picture = np.repeat(np.repeat(colours[None], height, 0), patch, 1)
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:06d}.png"), picture[:, :, ::-1])
    out = tmp_path / "out.mp4"
    encode(str(tmp_path / "%06d.png"), Fraction(25), out)
    header = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(out)],
                            capture_output=True, text=True).stderr
    assert f"yuv420p(tv, {matrix}/bt709/bt709" in header or \
        (matrix == "bt709" and "yuv420p(tv, bt709" in header)
    as_played = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(out), "-frames:v", "1",
                                "-vf", f"scale=in_color_matrix={as_read},format=rgb24",
                                "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
    centres = (slice(height // 2, height // 2 + 1), slice(patch // 2, None, patch))
    played = np.frombuffer(as_played, np.uint8).reshape(height, width, 3)[centres][0]
    assert np.abs(played.astype(int) - colours).max() <= 4
    ours = next(read_frames(out, probe(out), width, height))[centres][0]
    assert np.abs(ours.astype(int) - colours).max() <= 4


def test_ffmpeg_message_reaches_the_user(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(UserError, match="Invalid data found"):
        probe(bad)
