"""Video input with ffmpeg (through ffmpeg-python): probe, stream frames (writing: encode).

The system ``ffmpeg`` is used when it is on PATH and has what a task needs, else the binary
of ``imageio-ffmpeg``. Frames are RGB uint8 arrays. A folder of numbered pictures works as a
video too.
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
from typing import Literal

import ffmpeg
import numpy as np

from .errors import UserError
from .fsutil import check_readable
from .imageio import read_image, resize_to

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_FOLDER_FPS = Fraction(25)


def ffmpeg_exe(filters: tuple[str, ...] = (), encoders: tuple[str, ...] = ()) -> str:
    """Path of the ffmpeg binary to use: the one on PATH if it has ``filters`` and
    ``encoders``, else the binary of imageio-ffmpeg (every release since 0.4.9 has zscale,
    tonemap, palettegen, libvpx-vp9 and libopus)."""
    import imageio_ffmpeg

    found = shutil.which("ffmpeg")
    if found and set(filters) <= _listed(found, "filters") \
            and set(encoders) <= _listed(found, "encoders"):
        return found
    bundled = imageio_ffmpeg.get_ffmpeg_exe()
    missing = (set(filters) - _listed(bundled, "filters")) \
        | (set(encoders) - _listed(bundled, "encoders"))
    if missing:
        raise UserError(f"ffmpeg at {bundled} has no {', '.join(sorted(missing))}")
    return bundled


@functools.cache
def _listed(exe: str, kind: Literal["filters", "encoders"]) -> frozenset[str]:
    """Names of the filters or encoders an ffmpeg binary has."""
    listing = subprocess.run([exe, "-hide_banner", f"-{kind}"], capture_output=True,
                             text=True, errors="replace").stdout
    # filters: " T.. zscale  V->V  ...", encoders: " V....D libx264  ...", after a legend
    # that ends with a line of dashes
    lines = listing.split("------", 1)[-1].splitlines() if kind == "encoders" else \
        [line for line in listing.splitlines()
         if len(line.split()) > 2 and "->" in line.split()[2]]
    return frozenset(line.split()[1] for line in lines if len(line.split()) > 1)


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
# A GIF's header gives the rate of its first delays (33.33 for 29.97 frames a second, whose
# delays alternate between 3 and 4 hundredths); its average rate is its frames over its length.
_GIF = re.compile(r"Input #0, gif,")
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
    if fps:
        return replace(info, fps=fps)
    if _GIF.search(proc.stderr) and info.duration > 0:
        return replace(info, fps=gif_rate(_frame_count(path), info.duration))
    return info


# Frame rates a GIF's length is matched against, integer rates before NTSC's
_GIF_RATES = tuple(Fraction(r) for r in (24, 25, 30, 50, 12, 15, 10, 20, 8, 5)) + tuple(
    Fraction(base * 1000, 1001) for base in (24, 30))


def gif_rate(frames: int, duration: float) -> Fraction:
    """The frame rate of a GIF of ``frames`` lasting ``duration`` seconds: a common rate whose
    length rounds to it (a GIF's delays are whole hundredths, so 10 frames at 30 a second
    last 0.33 s, 30.3 frames a second), else the average rate."""
    for rate in _GIF_RATES:
        if abs(frames / rate - duration) <= 0.0101:
            return rate
    return exact_fps(frames / duration)


def _frame_count(path: Path) -> int:
    """How many frames a file holds, counted from its packets (nothing decoded)."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-stats",
                           "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"],
                          capture_output=True, text=True, errors="replace")
    counts = re.findall(r"frame=\s*(\d+)", proc.stderr)
    if not counts:
        raise UserError(f"cannot read video {path}: {proc.stderr.strip() or 'no frames'}")
    return int(counts[-1])


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
    return with_globals(stream.output("pipe:", format="rawvideo", pix_fmt="rgb24").compile(
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


def with_globals(args: list[str]) -> list[str]:
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
