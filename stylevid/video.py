"""Video I/O with ffmpeg (through ffmpeg-python): probe, stream frames, encode with audio.

The system ``ffmpeg`` is used when it is on PATH, else the binary of ``imageio-ffmpeg``.
Frames are RGB uint8 arrays. A folder of numbered pictures works as a video too.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import ffmpeg
import numpy as np

from .errors import UserError
from .fsutil import atomic_path, check_readable, check_writable
from .imageio import read_image, resize_to

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".m4v")  # containers that hold H.264 and the audio
DEFAULT_FOLDER_FPS = Fraction(25)


def ffmpeg_exe(filters: tuple[str, ...] = ()) -> str:
    """Path of the ffmpeg binary to use: the one on PATH if it has ``filters``, else the
    binary of imageio-ffmpeg (every release since 0.4.9 has zscale and tonemap)."""
    import imageio_ffmpeg

    found = shutil.which("ffmpeg")
    if found and (not filters or set(filters) <= _filters_of(found)):
        return found
    bundled = imageio_ffmpeg.get_ffmpeg_exe()
    missing = set(filters) - _filters_of(bundled) if filters else set()
    if missing:
        raise UserError(f"ffmpeg at {bundled} has no {', '.join(sorted(missing))} filter")
    return bundled


@functools.cache
def _filters_of(exe: str) -> frozenset[str]:
    """Names of the filters an ffmpeg binary has."""
    listing = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True,
                             text=True, errors="replace").stdout
    return frozenset(line.split()[1] for line in listing.splitlines()
                     if len(line.split()) > 2 and "->" in line.split()[2])


@dataclass(frozen=True)
class VideoInfo:
    """What the pipeline needs to know about an input video or frame folder."""

    width: int  # as displayed (rotation and the pixels' aspect applied)
    height: int
    fps: Fraction
    duration: float  # seconds
    has_audio: bool
    frames: list[Path] | None = None  # the pictures of a frame folder
    transfer: str | None = None  # an HDR video's transfer (HDR_TRANSFERS), None for SDR
    audio_codec: str | None = None  # ffmpeg's name of the first audio stream's codec


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: .*?(\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"(\d+(?:\.\d+)?) (?:fps|tbr)")
_SAR = re.compile(r"\[SAR (\d+):(\d+) DAR")
# ffmpeg opens a single picture as a one-frame "video" with these demuxers
_STILL = re.compile(r"Input #0, (?:image2|\w+_pipe),")
_AUDIO = re.compile(r"Stream #\S+.*?: Audio: (\w+)")
_ROTATION = re.compile(r"(?:rotation of |rotate\s*:\s*)(-?\d+(?:\.\d+)?)")

# HDR video (PQ, SMPTE ST 2084: HDR10, Dolby Vision's base layer; HLG, ARIB STD-B67: what
# phones record) is tone-mapped to SDR BT.709 as it is decoded; decoded as if it were SDR
# it looks grey and dim (PQ's reference white came out at 146 of 255 instead of 255).
HDR_TRANSFERS = ("smpte2084", "arib-std-b67")
_TRANSFER = re.compile(r"\b(" + "|".join(HDR_TRANSFERS) + r")\b")
# ITU-R BT.2408: HDR's reference (diffuse) white is 203 cd/m2, for PQ and HLG alike. It
# becomes linear 1.0, SDR's white. The brighter highlights are rolled off (tonemap's Möbius
# curve, linear up to the knee) into SDR's range up to a peak of 1000 cd/m2, HLG's nominal
# display peak and HDR10's usual mastering peak; brighter PQ values clip.
REFERENCE_WHITE_NITS = 203
HDR_PEAK_NITS = 1000
TONE_MAP_KNEE = 0.7


def exact_fps(value: float) -> Fraction:
    """ffmpeg prints 29.97 for 30000/1001: recover the NTSC rationals."""
    for base in (24, 30, 48, 60, 120):
        ntsc = Fraction(base * 1000, 1001)
        if abs(float(ntsc) - value) < 0.006:
            return ntsc
    return Fraction(value).limit_denominator(1001)


def parse_probe(text: str, source: str) -> VideoInfo:
    """Read an input's properties from ``ffmpeg -i`` output (no ffprobe needed)."""
    video = _VIDEO.search(text)
    if video is None:
        lines = [line.strip() for line in text.strip().splitlines()
                 if line.strip() and "output file must be specified" not in line]
        reason = ("it has no video stream" if "Input #0" in text
                  else lines[-1] if lines else "ffmpeg cannot open it")
        raise UserError(f"cannot read video {source}: {reason}")
    if _STILL.search(text):
        raise UserError(f"{source} is a still picture, not a video (`stylevid stylize` "
                        "paints a picture; a folder of pictures is read as a video)")
    width, height = int(video.group(1)), int(video.group(2))
    line = text[video.start():].splitlines()[0]
    aspect = _SAR.search(line)  # non-square pixels (DV, DVD): the width as displayed
    if aspect and int(aspect.group(1)) > 0 and int(aspect.group(2)) > 0:
        width = max(1, round(width * int(aspect.group(1)) / int(aspect.group(2))))
    fps_match = _FPS.search(line)
    fps = exact_fps(float(fps_match.group(1))) if fps_match else DEFAULT_FOLDER_FPS
    rotation = _ROTATION.search(text)
    if rotation and round(abs(float(rotation.group(1)))) % 180 == 90:
        width, height = height, width
    duration = _DURATION.search(text)
    seconds = (int(duration.group(1)) * 3600 + int(duration.group(2)) * 60
               + float(duration.group(3))) if duration else 0.0
    audio = _AUDIO.search(text)
    transfer = _TRANSFER.search(line)
    return VideoInfo(width, height, fps, seconds, audio is not None,
                     transfer=transfer.group(1) if transfer else None,
                     audio_codec=audio.group(1) if audio else None)


def frame_order(path: Path) -> tuple[str | int, ...]:
    """Sort key of a numbered picture: its name's numbers compared as numbers, so that
    ``frame_2.png`` comes before ``frame_10.png`` in a folder whose numbers are not padded
    (by name alone, 10-19 came between 1 and 2)."""
    return tuple(int(part) if part.isdigit() else part.lower()
                 for part in re.split(r"(\d+)", path.name))


def probe(source: str | Path, fps: Fraction | None = None) -> VideoInfo:
    """Properties of a video file or a folder of numbered pictures, with ``fps`` as its
    frame rate when given: a folder's (else 25), or the rate a video is to be decoded at
    (else its own)."""
    path = Path(source)
    if path.is_dir():
        frames = sorted((p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES),
                        key=frame_order)
        if not frames:
            raise UserError(f"folder {path} has no pictures ({', '.join(FRAME_SUFFIXES)})")
        first = read_image(frames[0])
        rate = fps or DEFAULT_FOLDER_FPS
        return VideoInfo(first.shape[1], first.shape[0], rate, len(frames) / float(rate),
                         False, frames)
    check_readable(path, "video")
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                          text=True, errors="replace")
    info = parse_probe(proc.stderr, str(path))
    return replace(info, fps=fps) if fps else info


def output_size(info: VideoInfo, size: int | None) -> tuple[int, int]:
    """(width, height) with the longest side at most ``size``, both even (for yuv420p)."""
    scale = min(1.0, size / max(info.width, info.height)) if size else 1.0
    width = max(2, int(round(info.width * scale / 2)) * 2)
    height = max(2, int(round(info.height * scale / 2)) * 2)
    return width, height


def decode_args(source: str, width: int, height: int, fps: Fraction,
                start: float | None = None, duration: float | None = None,
                transfer: str | None = None) -> list[str]:
    """The ffmpeg arguments that stream RGB frames of ``source`` at (width, height), at the
    constant rate ``fps`` (the rate the output is encoded at). A variable-frame-rate input
    (a phone's recording, a screen capture) is resampled to it, a frame repeated or dropped
    where its timestamps call for it. Left to the raw-video pipe, ffmpeg made it constant at
    the stream's nominal rate (its tbr): 8 frames over 0.8 s with a pause of half a second
    came out as 28 frames (24 repeated, 5 dropped), which the output, encoded at the 10 fps
    ffmpeg reports for the input, played over 2.8 s, the audio out of sync. A constant-rate
    input passes unchanged. Interlaced frames (a camcorder's 1080i, broadcast, DV) are
    deinterlaced (bwdif, one frame per frame): woven as they come, their two fields, half
    a frame's time apart, comb every moving edge (the real clip interlaced: 26.8 dB against
    its frames, 38.4 dB deinterlaced); progressive frames pass bit for bit. An HDR
    ``transfer`` is tone-mapped to SDR (see HDR_TRANSFERS)."""
    options = {}
    if start:
        options["ss"] = start
    if duration:
        options["t"] = duration
    stream = (ffmpeg.input(source, **options).video
              .filter("bwdif", mode="send_frame", parity="auto", deint="interlaced")
              .filter("fps", fps=f"{fps.numerator}/{fps.denominator}")
              .filter("scale", width, height, flags="area"))  # keeps 10 bits
    if transfer is not None:  # on the small frames: 6 ms a 4K frame instead of 131
        stream = _tone_mapped(stream)
    exe = ffmpeg_exe(("zscale", "tonemap") if transfer is not None else ())
    return _with_globals(stream.output("pipe:", format="rawvideo", pix_fmt="rgb24").compile(
        cmd=exe))


def _tone_mapped(stream: ffmpeg.nodes.FilterableStream) -> ffmpeg.nodes.FilterableStream:
    """HDR frames as SDR BT.709 RGB: linear light in units of the reference white, BT.2020's
    gamut into BT.709's, the highlights rolled off, then BT.709's transfer."""
    return (stream
            .filter("zscale", t="linear", npl=REFERENCE_WHITE_NITS)
            .filter("format", "gbrpf32le")
            .filter("zscale", p="bt709")
            .filter("tonemap", tonemap="mobius", param=TONE_MAP_KNEE, desat=0,
                    peak=HDR_PEAK_NITS / REFERENCE_WHITE_NITS)
            .filter("zscale", t="bt709", m="gbr", r="full")
            .filter("format", "gbrp"))


def _with_globals(args: list[str]) -> list[str]:
    """Global options go first: ffmpeg ignores options after the last output."""
    return [args[0], "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args[1:]]


def read_frames(source: str | Path, info: VideoInfo, width: int, height: int,
                start: float | None = None, duration: float | None = None
                ) -> Iterator[np.ndarray]:
    """Yield RGB frames one at a time (the video is never held in memory)."""
    if info.frames is not None:
        first = int(round((start or 0) * float(info.fps)))
        count = int(round(duration * float(info.fps))) if duration else None
        selected = info.frames[first:first + count if count else None]
        for path in selected:
            yield resize_to(read_image(path), height, width)
        return
    args = decode_args(str(source), width, height, info.fps, start, duration, info.transfer)
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    frame_bytes = width * height * 3
    assert process.stdout is not None and process.stderr is not None
    try:
        while True:
            data = process.stdout.read(frame_bytes)
            if len(data) < frame_bytes:
                break
            yield np.frombuffer(data, np.uint8).reshape(height, width, 3).copy()
    finally:
        process.stdout.close()
        process.kill()
        error = process.stderr.read().decode(errors="replace").strip()
        process.wait()
    if process.returncode not in (0, -9) and error:
        raise UserError(f"ffmpeg failed to decode {source}: {error.splitlines()[-1]}")


# x264's tuning for film grain: painted strokes are fine texture of the same kind, and the
# default tuning quantises B-frames (3 frames in 4) more coarsely, smoothing their strokes.
# bedroom.mp4's first 48 frames rendered at 512x288, crf 18, decoded against the lossless
# frames (scripts/bench_encoder.py): by default style loss 1.52x (I/P frames 1.34x, B-frames
# 1.59x) and sharpness 0.94x / 0.87x, a pulse in the texture; tuned 1.29x (1.25x / 1.31x) and
# 0.98x / 0.96x, at 1.7x the bitrate (docs/benchmarks.md, "The encoder").
TUNE = "grain"


def colour_matrix(width: int, height: int) -> str:
    """The YUV matrix of an output of this size: BT.709's for HD (1280 wide or more, or
    taller than 576), BT.601's (smpte170m) below, which is what players assume of a video
    that does not say (mpv's rule). The output says it too (encode_args), so a player that
    reads the tags is right at any size, and one that guesses is right as well. Untagged and
    always BT.601, as before, a player taking an HD video for BT.709 showed a green of (30,
    180, 60) as (17, 157, 55). BT.709's matrix at 512x288 cost 0.4 dB against the lossless
    frames (26.23 against 26.63 dB, 4:2:0 halves more of a painting's colour with it)."""
    return "bt709" if width >= 1280 or height > 576 else "smpte170m"


AAC_BITRATE = "192k"  # where the audio is re-encoded


def encode_args(pattern: str, fps: Fraction, output: str, *, audio_source: str | None,
                start: float | None, duration: float | None, crf: int, matrix: str,
                audio_codec: str = "copy", tune: str | None = TUNE,
                pix_fmt: str = "yuv420p") -> list[str]:
    """ffmpeg arguments that encode numbered PNGs to H.264 and copy the audio from ``start``
    for ``duration`` seconds, the frames' length (``matrix``: see colour_matrix; ``tune``:
    x264's tuning, None for its defaults, for scripts/bench_encoder.py; ``pix_fmt``: one of
    config.PIX_FMTS). Audio that ends sooner leaves every frame in: ffmpeg's ``-shortest``,
    used before, cut the video where the audio ended, and on a short clip well before (8
    frames over 0.84 s with 0.79 s of sound kept 6)."""
    # BT.709's primaries and transfer (those of the RGB frames) and the YUV matrix: on the
    # frames (setparams; ffmpeg 7 and later read them there) and on the encoder (ffmpeg 4
    # and 5 read them there)
    tags = {"color_primaries": "bt709", "color_trc": "bt709", "colorspace": matrix}
    video = (ffmpeg.input(pattern, framerate=f"{fps.numerator}/{fps.denominator}",
                          start_number=0).video
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
    out = ffmpeg.output(
        *streams, output, vcodec="libx264", pix_fmt=pix_fmt, crf=crf,
        **({"tune": tune} if tune is not None else {}),
        r=f"{fps.numerator}/{fps.denominator}", movflags="+faststart", **tags,
        **({"acodec": audio_codec} if audio_source is not None else {}),
        **({"audio_bitrate": AAC_BITRATE} if audio_codec == "aac" else {}),
    )
    return _with_globals(out.compile(cmd=ffmpeg_exe()))


# Audio codecs that players play in an MP4 (browsers, QuickTime, phones) and in a MOV
# (QuickTime); others are re-encoded to AAC. ffmpeg 7+ copies PCM, FLAC or Opus into an
# MP4 without complaint, and most players then play it silent: a camera's .mov with PCM
# sound came out so.
PLAYABLE_AUDIO = {
    ".mp4": ("aac", "mp3", "ac3", "eac3", "alac"),
    ".m4v": ("aac", "mp3", "ac3", "eac3", "alac"),
    ".mov": ("aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le",
             "pcm_s24be", "pcm_s32le", "pcm_f32le", "pcm_f32be"),
}


def audio_codecs(output: Path, source_codec: str | None) -> list[str]:
    """The audio codecs to try, in order: a copy where the container plays the source's
    codec (any in a Matroska file), else AAC."""
    playable = PLAYABLE_AUDIO.get(output.suffix.lower())
    if playable is not None and source_codec not in playable:
        return ["aac"]
    return ["copy", "aac"]


def encode(pattern: str, fps: Fraction, output: Path, *, audio_source: str | None = None,
           audio_codec: str | None = None, start: float | None = None,
           duration: float | None = None, crf: int = 18, pix_fmt: str = "yuv420p") -> None:
    """Encode numbered frames into ``output`` atomically, keeping the source's audio (from
    ``start``, for ``duration`` seconds: the frames' length).

    The audio stream (its codec ``audio_codec``) is copied where the container plays it,
    else, or if the container refuses it, re-encoded to AAC (see PLAYABLE_AUDIO). ffmpeg's
    own message is shown on failure.
    """
    check_writable(output)
    height, width = read_image(pattern % 0).shape[:2]
    with atomic_path(output) as tmp:
        codecs = audio_codecs(output, audio_codec) if audio_source is not None else ["copy"]
        for codec in codecs:
            args = encode_args(pattern, fps, str(tmp), audio_source=audio_source, start=start,
                               duration=duration, crf=crf, matrix=colour_matrix(width, height),
                               audio_codec=codec, pix_fmt=pix_fmt)
            proc = subprocess.run(args, capture_output=True, text=True, errors="replace")
            if proc.returncode == 0:
                return
        message = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "unknown error"
        raise UserError(f"ffmpeg failed to write {output}: {message}")
