"""What encoding does to stylized frames: style loss, sharpness and warping error of the
decoded frames against the lossless ones (the first two by frame type), their PSNR, for the
encoder settings of a render and others, with the file's bitrate and the encoding time.

Takes the lossless frames of a finished render (its work folder's ``frames``, kept until
the work folder is deleted) and the clip it was rendered from. ``--formats h264`` (the
default) compares H.264 settings, ``--formats web`` WebM's VP9 and GIF's dithering:

    python scripts/bench_encoder.py WORK/frames ../shared/data/video/bedroom/bedroom.mp4
    python scripts/bench_encoder.py WORK/frames ../shared/data/video/bedroom/bedroom.mp4 \
        --formats web
Results: scripts/results/encoder.{md,json}, encoder_web.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_video import RESULTS, STYLE  # noqa: E402

from stylevid.device import cpu_description  # noqa: E402
from stylevid.encode import (  # noqa: E402
    colour_matrix,
    encode,
    encode_args,
    gif_args,
)
from stylevid.evaluate import LossMeter, sharpness  # noqa: E402
from stylevid.imageio import read_image  # noqa: E402
from stylevid.motion import Motion, pair_motion  # noqa: E402
from stylevid.temporal import warping_error  # noqa: E402
from stylevid.video import ffmpeg_exe, probe, read_frames  # noqa: E402

# name: (output suffix, settings); None: stylevid.encode.encode itself, as a render
Setting = tuple[str, dict | None]
SETTINGS: dict[str, dict[str, Setting]] = {
    "h264": {
        "render (crf 18, tune grain)": (".mp4", None),
        "crf 18, x264 defaults (before)": (".mp4", {"pix_fmt": "yuv420p", "crf": 18,
                                                    "tune": None}),
        "crf 16, x264 defaults": (".mp4", {"pix_fmt": "yuv420p", "crf": 16, "tune": None}),
        "crf 14, x264 defaults": (".mp4", {"pix_fmt": "yuv420p", "crf": 14, "tune": None}),
        "crf 14, tune grain": (".mp4", {"pix_fmt": "yuv420p", "crf": 14, "tune": "grain"}),
        "crf 20, tune grain": (".mp4", {"pix_fmt": "yuv420p", "crf": 20, "tune": "grain"}),
        "crf 22, tune grain": (".mp4", {"pix_fmt": "yuv420p", "crf": 22, "tune": "grain"}),
        "crf 18, yuv444p, x264 defaults (few players)": (".mp4", {"pix_fmt": "yuv444p",
                                                                  "crf": 18, "tune": None}),
        "crf 18, yuv444p, tune grain (--pix-fmt yuv444p)": (".mp4", {"pix_fmt": "yuv444p",
                                                                     "crf": 18,
                                                                     "tune": "grain"}),
    },
    "web": {
        "H.264 as a render (crf 18, tune grain)": (".mp4", None),
        **{f"WebM, VP9 crf {crf}": (".webm", {"pix_fmt": "yuv420p", "crf": crf, "tune": None})
           for crf in (14, 18, 24, 28, 32)},
        "WebM as a render": (".webm", None),
        "GIF, no dithering": (".gif", {"dither": {"dither": "none"}}),
        "GIF, bayer_scale 1": (".gif", {"dither": {"dither": "bayer", "bayer_scale": 1}}),
        "GIF, bayer_scale 2": (".gif", {"dither": {"dither": "bayer", "bayer_scale": 2}}),
        "GIF, bayer_scale 3": (".gif", {"dither": {"dither": "bayer", "bayer_scale": 3}}),
        "GIF, bayer_scale 4": (".gif", {"dither": {"dither": "bayer", "bayer_scale": 4}}),
        "GIF, sierra2_4a (ffmpeg's default)": (".gif", {"dither": {"dither": "sierra2_4a"}}),
        "GIF, floyd_steinberg": (".gif", {"dither": {"dither": "floyd_steinberg"}}),
        "GIF as a render": (".gif", None),
    },
}


def frame_types(video: Path) -> list[str]:
    """The picture type (I, P or B) of each frame, from ffmpeg's showinfo filter."""
    run = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(video), "-vf", "showinfo",
                          "-f", "null", "-"], capture_output=True, text=True, check=True)
    return re.findall(r"\btype:([IPB])\b", run.stderr)


def encode_with(setting: Setting, pattern: str, fps: Fraction, out: Path,
                size: tuple[int, int]) -> None:
    """Encode as a render does (``setting[1]`` None) or with the given settings."""
    suffix, options = setting
    if options is None:
        encode(pattern, fps, out)
        return
    if suffix == ".gif":
        runs = gif_args(pattern, fps, str(out), str(out.with_suffix(".png")), **options)
    else:
        runs = [encode_args(pattern, fps, str(out), audio_source=None, start=None,
                            duration=None, matrix=colour_matrix(*size), **options)]
    for run in runs:
        subprocess.run(run, capture_output=True, check=True)


def psnr(decoded: list[np.ndarray], lossless: list[np.ndarray]) -> float:
    """PSNR in dB of the decoded frames against the lossless ones, over the whole clip."""
    error = np.mean([np.mean((d.astype(np.float64) - f) ** 2)
                     for d, f in zip(decoded, lossless, strict=True)])
    return float(10 * np.log10(255 ** 2 / error))


def by_type(values: np.ndarray, types: list[str]) -> dict[str, float]:
    """Mean of ``values`` over the I and P frames, and over the B frames."""
    kinds = np.array(types)
    return {"I/P": float(values[kinds != "B"].mean()),
            "B": float(values[kinds == "B"].mean()) if (kinds == "B").any() else float("nan")}


def warping_errors(frames: list[np.ndarray], motions: list[Motion]) -> np.ndarray:
    """Warping error of each frame after the first against the one before (Lai et al.: the
    DIS flow of the original and Ruder's masks, ``motions[t-1]`` for the pair (t-1, t))."""
    return np.array([warping_error(frames[t - 1:t + 1], [motions[t - 1].flow],
                                   [motions[t - 1].weights]) for t in range(1, len(frames))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frames", type=Path, help="folder of a render's lossless frames")
    parser.add_argument("source", type=Path, help="the clip they were rendered from")
    parser.add_argument("--style", type=Path, default=STYLE)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--formats", choices=sorted(SETTINGS), default="h264")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    machine = f"{cpu_description()}, {args.threads} threads, torch {torch.__version__}"
    print(machine, flush=True)
    paths = sorted(args.frames.glob("*.png"))
    lossless = [read_image(p) for p in paths]
    height, width = lossless[0].shape[:2]
    info = probe(args.source)
    originals = list(read_frames(args.source, info, width, height))[: len(lossless)]
    meter = LossMeter(read_image(args.style))
    style = np.array([meter(f, o)[0] for f, o in zip(lossless, originals, strict=True)])
    detail = np.array([sharpness(f) for f in lossless])
    motions = [pair_motion(originals[t - 1], originals[t])[0] for t in range(1, len(originals))]
    warping = warping_errors(lossless, motions).mean()
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, setting in SETTINGS[args.formats].items():
            out = Path(folder) / f"out{setting[0]}"
            began = time.perf_counter()
            encode_with(setting, str(args.frames / "%06d.png"), info.fps, out, (width, height))
            encoding = time.perf_counter() - began
            decoded = list(read_frames(out, probe(out), width, height))
            types = frame_types(out)
            style_ratio = np.array([meter(f, o)[0] for f, o in
                                    zip(decoded, originals, strict=True)]) / style
            sharp_ratio = np.array([sharpness(f) for f in decoded]) / detail
            warping_ratio = warping_errors(decoded, motions).mean() / warping
            seconds = len(decoded) / float(info.fps)
            rows[name] = {"kbit_s": out.stat().st_size * 8 / 1000 / seconds,
                          "encoding_s": encoding, "psnr_db": psnr(decoded, lossless),
                          "style": float(style_ratio.mean()),
                          "style_by_type": by_type(style_ratio, types),
                          "sharpness": float(sharp_ratio.mean()),
                          "sharpness_by_type": by_type(sharp_ratio, types),
                          "warping": float(warping_ratio),
                          "types": "".join(types)}
            print(name, json.dumps({k: v for k, v in rows[name].items() if k != "types"}),
                  flush=True)
    write_results(machine, args, width, height, len(lossless), rows)


def write_results(machine: str, args: argparse.Namespace, width: int, height: int,
                  count: int, rows: dict) -> None:
    command = f"python scripts/bench_encoder.py {args.frames} {args.source}"
    if args.formats != "h264":
        command += f" --formats {args.formats}"
    lines = [f"# Encoding stylized frames\n\n{machine}. {count} frames of a render of "
             f"{args.source.name} at {width}x{height} ({args.style.name}); decoded against "
             f"the lossless frames.\n\n`{command}`\n",
             "| encoder | kbit/s | encoding s | PSNR dB | style loss x lossless (I/P frames, "
             "B frames) | sharpness x lossless (I/P, B) | warping error x lossless |",
             "|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        s, d = row["style_by_type"], row["sharpness_by_type"]
        lines.append(f"| {name} | {row['kbit_s']:.0f} | {row['encoding_s']:.1f} | "
                     f"{row['psnr_db']:.2f} | {row['style']:.2f} ({s['I/P']:.2f}, "
                     f"{s['B']:.2f}) | {row['sharpness']:.3f} ({d['I/P']:.3f}, {d['B']:.3f}) | "
                     f"{row['warping']:.2f} |")
    stem = "encoder" if args.formats == "h264" else f"encoder_{args.formats}"
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{stem}.json").write_text(json.dumps(
        {"machine": machine, "size": [width, height], "frames": count, "rows": rows},
        indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
