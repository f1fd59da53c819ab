"""Writing the output video from numbered PNG frames, with ffmpeg (through ffmpeg-python):
H.264 in MP4, MOV, M4V and MKV, VP9 in WebM, and animated GIF; the source's sound kept
where the container holds sound.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import ffmpeg

from .errors import UserError
from .fsutil import atomic_path, check_writable
from .imageio import read_image
from .video import ffmpeg_exe, with_globals

H264_SUFFIXES = (".mp4", ".mkv", ".mov", ".m4v")
OUTPUT_SUFFIXES = (*H264_SUFFIXES, ".webm", ".gif")

# x264's tuning for film grain: painted strokes are fine texture of the same kind, and the
# default tuning quantises B-frames (3 frames in 4) more coarsely, smoothing their strokes.
# bedroom.mp4's first 48 frames rendered at 512x288, crf 18, decoded against the lossless
# frames (scripts/bench_encoder.py): by default style loss 1.52x (I/P frames 1.34x, B-frames
# 1.59x) and sharpness 0.94x / 0.87x, a pulse in the texture; tuned 1.29x (1.25x / 1.31x) and
# 0.98x / 0.96x, at 1.7x the bitrate (docs/benchmarks.md, "The encoder").
TUNE = "grain"

# VP9 takes the crf number given on x264's scale as its own: on the 200 frames of
# bedroom.mp4 rendered at 256x144, VP9 at crf 18 came 0.1 dB below x264 at crf 18 against the
# lossless frames, at 0.94x the bitrate (docs/benchmarks.md, "WebM and GIF"). Its speed
# setting (0 slowest ... 8) for "good" quality, with row multithreading:
VP9_CPU_USED = 2

AAC_BITRATE = "192k"  # where the audio is re-encoded for an H.264 container
OPUS_BITRATE = "128k"  # where it is re-encoded for WebM

# A GIF's frame delays are whole hundredths of a second, and browsers play a delay under
# two hundredths as a tenth: above 50 frames a second a GIF plays at 10.
GIF_MAX_FPS = 50
# One palette from every frame (a palette per frame changes the colours from frame to
# frame), and ordered dithering, whose pattern stays in place where the picture does: on
# bedroom.mp4 at 256x144 the GIF's warping error is 2.12x the lossless frames' with Bayer's
# pattern at scale 3, 2.25x at 2, 2.59x with ffmpeg's default error diffusion (sierra2_4a),
# whose grain moves every frame (docs/benchmarks.md, "WebM and GIF").
GIF_PALETTE = {"stats_mode": "full"}
# The palette's statistics come from the frames made at most this wide: at 1920x1080 from
# the full frames they took 1.1 s a frame, 0.14 s from frames 512 wide, and the GIF's PSNR
# against the lossless frames was the same (27.60 and 27.61 dB, 30 frames of bedroom.mp4).
GIF_PALETTE_WIDTH = 512
GIF_DITHER: dict[str, str | int] = {"dither": "bayer", "bayer_scale": 3}

# Audio codecs that players play in each container (browsers, QuickTime, phones); others
# are re-encoded, to AAC, or to Opus in WebM. ffmpeg 7+ copies PCM, FLAC or Opus into an MP4
# without complaint, and most players then play it silent: a camera's .mov with PCM sound
# came out so. Matroska plays anything.
PLAYABLE_AUDIO = {
    ".mp4": ("aac", "mp3", "ac3", "eac3", "alac"),
    ".m4v": ("aac", "mp3", "ac3", "eac3", "alac"),
    ".mov": ("aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le",
             "pcm_s24be", "pcm_s32le", "pcm_f32le", "pcm_f32be"),
    ".webm": ("opus", "vorbis"),
}


def check_container(output: Path, fps: Fraction, pix_fmt: str) -> None:
    """Refuse, before any work, what ``output``'s container cannot hold."""
    if output.suffix.lower() != ".gif":
        return
    if fps > GIF_MAX_FPS:
        raise UserError(f"a GIF plays at most {GIF_MAX_FPS} frames a second (browsers play "
                        f"faster ones at 10), and this clip has {float(fps):g}: add --fps "
                        f"{float(fps) / 2:g}, or write a video (.mp4, .webm)")
    if pix_fmt != "yuv420p":
        raise UserError(f"--pix-fmt {pix_fmt} is for a video file: a GIF holds 256 colours "
                        "a frame")


def colour_matrix(width: int, height: int) -> str:
    """The YUV matrix of an output of this size: BT.709's for HD (1280 wide or more, or
    taller than 576), BT.601's (smpte170m) below, which is what players assume of a video
    that does not say (mpv's rule). The output says it too (encode_args), so a player that
    reads the tags is right at any size, and one that guesses is right as well. Untagged and
    always BT.601, as before, a player taking an HD video for BT.709 showed a green of (30,
    180, 60) as (17, 157, 55). BT.709's matrix at 512x288 cost 0.4 dB against the lossless
    frames (26.23 against 26.63 dB, 4:2:0 halves more of a painting's colour with it)."""
    return "bt709" if width >= 1280 or height > 576 else "smpte170m"


def _frames(pattern: str, fps: Fraction) -> ffmpeg.nodes.FilterableStream:
    return ffmpeg.input(pattern, framerate=f"{fps.numerator}/{fps.denominator}",
                        start_number=0).video


def encode_args(pattern: str, fps: Fraction, output: str, *, audio_source: str | None,
                start: float | None, duration: float | None, crf: int, matrix: str,
                audio_codec: str = "copy", tune: str | None = TUNE,
                pix_fmt: str = "yuv420p") -> list[str]:
    """ffmpeg arguments that encode numbered PNGs to H.264 (VP9 for a ``.webm`` output) and
    copy the audio from ``start`` for ``duration`` seconds, the frames' length (``matrix``:
    see colour_matrix; ``crf``: x264's, VP9's the same; ``tune``: x264's tuning,
    None for its defaults, for scripts/bench_encoder.py; ``pix_fmt``: one of
    config.PIX_FMTS). Audio that ends sooner leaves every frame in: ffmpeg's ``-shortest``,
    used before, cut the video where the audio ended, and on a short clip well before (8
    frames over 0.84 s with 0.79 s of sound kept 6)."""
    # BT.709's primaries and transfer (those of the RGB frames) and the YUV matrix: on the
    # frames (setparams; ffmpeg 7 and later read them there) and on the encoder (ffmpeg 4
    # and 5 read them there)
    tags = {"color_primaries": "bt709", "color_trc": "bt709", "colorspace": matrix}
    video = (_frames(pattern, fps)
             .filter("scale", out_color_matrix=matrix, out_range="tv")
             .filter("setparams", range="tv", **tags))
    streams = [video]
    if audio_source is not None:
        options = {}
        if start:
            options["ss"] = start
        if duration:
            options["t"] = duration
        streams.append(ffmpeg.input(audio_source, **options).audio)
    if output.lower().endswith(".webm"):
        codec = {"vcodec": "libvpx-vp9", "crf": crf, "b:v": 0,
                 "deadline": "good", "cpu-used": VP9_CPU_USED, "row-mt": 1}
        bitrate = OPUS_BITRATE
    else:
        codec = {"vcodec": "libx264", "crf": crf, **({"tune": tune} if tune else {}),
                 "movflags": "+faststart"}
        bitrate = AAC_BITRATE
    out = ffmpeg.output(
        *streams, output, pix_fmt=pix_fmt, r=f"{fps.numerator}/{fps.denominator}", **codec,
        **tags, **({"acodec": audio_codec} if audio_source is not None else {}),
        **({"audio_bitrate": bitrate} if audio_codec != "copy" else {}),
    )
    return with_globals(out.compile(cmd=ffmpeg_exe(encoders=_encoders(output, audio_codec))))


def gif_args(pattern: str, fps: Fraction, output: str, palette: str,
             dither: dict[str, str | int] = GIF_DITHER) -> list[list[str]]:
    """The two ffmpeg runs that write numbered PNGs as an animated GIF that loops: one
    ``palette`` (a picture) from every frame, then the frames in it (paletteuse's
    ``dither`` options)."""
    exe = ffmpeg_exe(filters=("palettegen", "paletteuse"), encoders=("gif",))
    first = (_frames(pattern, fps)
             .filter("scale", w=f"min({GIF_PALETTE_WIDTH},iw)", h=-2, flags="area")
             .filter("palettegen", **GIF_PALETTE).output(palette))
    dithered = ffmpeg.filter([_frames(pattern, fps), ffmpeg.input(palette)], "paletteuse",
                             **dither)
    second = dithered.output(output, loop=0, r=f"{fps.numerator}/{fps.denominator}")
    return [with_globals(run.compile(cmd=exe)) for run in (first, second)]


def _encoders(output: str, audio_codec: str) -> tuple[str, ...]:
    video = "libvpx-vp9" if output.lower().endswith(".webm") else "libx264"
    return (video,) if audio_codec == "copy" else (video, audio_codec)


def audio_codecs(output: Path, source_codec: str | None) -> list[str]:
    """The audio codecs to try, in order: a copy where the container plays the source's
    codec (any in a Matroska file), else AAC (Opus in WebM)."""
    suffix = output.suffix.lower()
    fallback = "libopus" if suffix == ".webm" else "aac"
    playable = PLAYABLE_AUDIO.get(suffix)
    if playable is not None and source_codec not in playable:
        return [fallback]
    return ["copy", fallback]


EncodeProgress = Callable[[int], None]
_FRAME = re.compile(r"^frame=(\d+)$")


def _run(args: list[str], on_progress: EncodeProgress | None) -> subprocess.CompletedProcess:
    """Run ffmpeg, telling ``on_progress`` how many frames it has written as it goes (from
    its ``-progress`` report, about twice a second)."""
    if on_progress is None:
        return subprocess.run(args, capture_output=True, text=True, errors="replace")
    args = [args[0], "-progress", "pipe:1", "-nostats", *args[1:]]
    with tempfile.TemporaryFile("w+", errors="replace") as errors:
        with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errors, text=True,
                              errors="replace") as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                written = _FRAME.match(line.strip())
                if written:
                    on_progress(int(written.group(1)))
        errors.seek(0)
        return subprocess.CompletedProcess(args, proc.returncode, "", errors.read())


def encode(pattern: str, fps: Fraction, output: Path, *, audio_source: str | None = None,
           audio_codec: str | None = None, start: float | None = None,
           duration: float | None = None, crf: int = 18, pix_fmt: str = "yuv420p",
           on_progress: EncodeProgress | None = None) -> None:
    """Encode numbered frames into ``output`` atomically, keeping the source's audio (from
    ``start``, for ``duration`` seconds: the frames' length) where the container holds
    sound (not a GIF).

    The audio stream (its codec ``audio_codec``) is copied where the container plays it,
    else, or if the container refuses it, re-encoded (see PLAYABLE_AUDIO). ffmpeg's own
    message is shown on failure. ``on_progress(frames)`` hears how many frames are written
    (a GIF's from its second run, after the palette).
    """
    check_writable(output)
    if on_progress is not None:
        on_progress(0)
    with atomic_path(output) as tmp:
        if output.suffix.lower() == ".gif":
            with tempfile.TemporaryDirectory(prefix="stylevid-gif-") as folder:
                palette, dithered = gif_args(pattern, fps, str(tmp),
                                             str(Path(folder) / "palette.png"))
                proc = _run(palette, None)
                if proc.returncode == 0:
                    proc = _run(dithered, on_progress)
        else:
            height, width = read_image(pattern % 0).shape[:2]
            codecs = audio_codecs(output, audio_codec) if audio_source is not None else ["copy"]
            for codec in codecs:
                args = encode_args(pattern, fps, str(tmp), audio_source=audio_source,
                                   start=start, duration=duration, crf=crf,
                                   matrix=colour_matrix(width, height), audio_codec=codec,
                                   pix_fmt=pix_fmt)
                proc = _run(args, on_progress)
                if proc.returncode == 0:
                    break
        if proc.returncode == 0:
            return
        message = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "unknown error"
        raise UserError(f"ffmpeg failed to write {output}: {message}")
