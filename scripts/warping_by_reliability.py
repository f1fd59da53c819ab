"""Where a render's warping error lies: under the exact flow of a synthetic clip of
scripts/bench_video.py, split between the pixels Ruder's checker (on the DIS flow of the
original, as a render computes it) holds, weight >= 1/2, and those it lets go.

    python scripts/bench_video.py --clips disc --modes "single-pass,multi-pass (3)" ...
    python scripts/warping_by_reliability.py --clip disc --size 64 \\
        "1 pass=/tmp/stylevid-bench-video/.disc-bf16-single-pass.mp4.stylevid/frames" \\
        "3 passes=/tmp/stylevid-bench-video/.disc-bf16-multi-pass-3-.mp4.stylevid/pass3"

Each argument is NAME=FOLDER, a folder of a render's lossless frames (its work folder).
Results: scripts/results/warping_by_reliability_CLIP.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from bench_video import RESULTS, make_clips

from stylevid.evaluate import truth_mask, truth_warping_error
from stylevid.imageio import read_image
from stylevid.motion import pair_motion
from stylevid.video import output_size, probe, read_frames


def split_errors(frames: list[np.ndarray], originals: list[np.ndarray],
                 truth: list[np.ndarray]) -> dict[str, tuple[float, float, float]]:
    """Per part ("held", "let go"): the warping error under the exact flow
    (evaluate.truth_warping_error) over the part's pixels, the part's share of the pixels
    whose flow is known and lands inside the frame, and its share of their error."""
    sums = {"held": [0.0, 0], "let go": [0.0, 0]}
    for t in range(1, len(frames)):
        weights = pair_motion(originals[t], originals[t - 1])[0].weights  # of frame t-1
        known = truth_mask(truth[t - 1])
        for part, pixels in (("held", weights >= 0.5), ("let go", weights < 0.5)):
            count = int((known & pixels).sum())
            error = truth_warping_error(frames[t - 1], frames[t], truth[t - 1], pixels)
            sums[part][0] += error * count
            sums[part][1] += count
    total_error = sum(s[0] for s in sums.values())
    total_pixels = sum(s[1] for s in sums.values())
    return {part: (s[0] / max(s[1], 1), s[1] / total_pixels, s[0] / total_error)
            for part, s in sums.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", default="disc", choices=("disc", "pan", "pan-night"))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("renders", nargs="+", help="NAME=FOLDER of lossless frames")
    args = parser.parse_args()
    work = Path("/tmp/stylevid-warping-by-reliability")
    work.mkdir(exist_ok=True)
    path, truth, _ = make_clips(work, [args.clip], args.size, args.frames)[args.clip]
    info = probe(path)
    originals = list(read_frames(path, info, *output_size(info, args.size)))
    lines = [f"# Warping error by Ruder's reliability: {args.clip}, {args.size} px, "
             f"{args.frames} frames", "",
             "Exact flow; pixels split by Ruder's weights of the original's DIS flow.", "",
             "| render | warping error, all | held (>= 1/2): error, share of pixels, share "
             "of error | let go: error, share of pixels, share of error |",
             "|---|---|---|---|"]
    for spec in args.renders:
        name, folder = spec.split("=", 1)
        frames = [read_image(Path(folder) / f"{t:06d}.png") for t in range(args.frames)]
        parts = split_errors(frames, originals, truth)
        overall = sum(e * share for e, share, _ in parts.values())
        lines.append(f"| {name} | {overall:.5f} | " + " | ".join(
            f"{e:.5f}, {share:.3f}, {error_share:.3f}" for e, share, error_share in
            parts.values()) + " |")
        print(lines[-1], flush=True)
    (RESULTS / f"warping_by_reliability_{args.clip}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
