"""What H.264 encoding does to stylized frames: style loss, sharpness and warping error of
the decoded frames against the lossless ones (the first two by frame type), for the encoder
settings of a render and others, with the file's bitrate.

Takes the lossless frames of a finished render (its work folder's ``frames``, kept until
the work folder is deleted) and the clip it was rendered from:

    python scripts/bench_encoder.py WORK/frames ../shared/data/video/bedroom/bedroom.mp4
Results: scripts/results/encoder.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_video import RESULTS, STYLE  # noqa: E402

from stylevid.device import cpu_description  # noqa: E402
from stylevid.evaluate import LossMeter, sharpness  # noqa: E402
from stylevid.imageio import read_image  # noqa: E402
from stylevid.motion import Motion, pair_motion  # noqa: E402
from stylevid.temporal import warping_error  # noqa: E402
from stylevid.video import (  # noqa: E402
    colour_matrix,
    encode,
    encode_args,
    ffmpeg_exe,
    probe,
    read_frames,
)

# name: (pixel format, crf, x264 tuning); None: stylevid.video.encode itself, as a render
SETTINGS: dict[str, tuple[str, int, str | None] | None] = {
    "render (crf 18, tune grain)": None,
    "crf 18, x264 defaults (before)": ("yuv420p", 18, None),
    "crf 16, x264 defaults": ("yuv420p", 16, None),
    "crf 14, x264 defaults": ("yuv420p", 14, None),
    "crf 14, tune grain": ("yuv420p", 14, "grain"),
    "crf 20, tune grain": ("yuv420p", 20, "grain"),
    "crf 22, tune grain": ("yuv420p", 22, "grain"),
    "crf 18, yuv444p, x264 defaults (few players)": ("yuv444p", 18, None),
    "crf 18, yuv444p, tune grain (--pix-fmt yuv444p)": ("yuv444p", 18, "grain"),
}


def frame_types(video: Path) -> list[str]:
    """The picture type (I, P or B) of each frame, from ffmpeg's showinfo filter."""
    run = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(video), "-vf", "showinfo",
                          "-f", "null", "-"], capture_output=True, text=True, check=True)
    return re.findall(r"\btype:([IPB])\b", run.stderr)


def encode_with(setting: tuple[str, int, str | None] | None, pattern: str, fps: Fraction,
                out: Path, size: tuple[int, int]) -> None:
    if setting is None:
        encode(pattern, fps, out)
        return
    pix_fmt, crf, tune = setting
    subprocess.run(encode_args(pattern, fps, str(out), audio_source=None, start=None,
                               duration=None, crf=crf, matrix=colour_matrix(*size), tune=tune,
                               pix_fmt=pix_fmt),
                   capture_output=True, check=True)


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
        for name, setting in SETTINGS.items():
            out = Path(folder) / "out.mp4"
            encode_with(setting, str(args.frames / "%06d.png"), info.fps, out, (width, height))
            decoded = list(read_frames(out, probe(out), width, height))
            types = frame_types(out)
            style_ratio = np.array([meter(f, o)[0] for f, o in
                                    zip(decoded, originals, strict=True)]) / style
            sharp_ratio = np.array([sharpness(f) for f in decoded]) / detail
            warping_ratio = warping_errors(decoded, motions).mean() / warping
            seconds = len(decoded) / float(info.fps)
            rows[name] = {"kbit_s": out.stat().st_size * 8 / 1000 / seconds,
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
    lines = [f"# H.264 and stylized frames\n\n{machine}. {count} frames of a render of "
             f"{args.source.name} at {width}x{height} ({args.style.name}); decoded against "
             f"the lossless frames.\n\n`python scripts/bench_encoder.py {args.frames} "
             f"{args.source}`\n",
             "| encoder | kbit/s | style loss x lossless (I/P frames, B frames) | sharpness x "
             "lossless (I/P, B) | warping error x lossless |", "|---|---|---|---|---|"]
    for name, row in rows.items():
        s, d = row["style_by_type"], row["sharpness_by_type"]
        lines.append(f"| {name} | {row['kbit_s']:.0f} | {row['style']:.2f} ({s['I/P']:.2f}, "
                     f"{s['B']:.2f}) | {row['sharpness']:.3f} ({d['I/P']:.3f}, {d['B']:.3f}) | "
                     f"{row['warping']:.2f} |")
    (RESULTS / "encoder.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "encoder.json").write_text(json.dumps(
        {"machine": machine, "size": [width, height], "frames": count, "rows": rows},
        indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
