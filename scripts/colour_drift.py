"""Mean colour of a render against independent frames along a clip (does it drift?).

Reads a render (the decoded video) and the independent pairs ``bench_video.py`` stylized for
it (``independent (sampled)``: PNGs of the frames sample*k, sample*k+1, in that order), and
prints the render's mean RGB minus the independent frames' at each sampled frame, and over
the clip's first and last quarter:

    W=/tmp/stylevid-bench-video
    python scripts/colour_drift.py $W/bedroom-bf16-256px-sample16-200f-single-pass.mp4 \
        $W/bedroom-bf16-256px-sample16-200f-sampled --sample 16
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_video import SAMPLE, mean_colours, sampled_pairs  # noqa: E402

from stylevid.imageio import read_image  # noqa: E402


def colour_gaps(render: Path, sampled: Path, sample: int
                ) -> tuple[list[tuple[int, np.ndarray]], int]:
    """(frame, render's mean RGB minus the independent frame's) at every sampled frame, and
    the render's number of frames."""
    colours = mean_colours(render)
    indices = [i for pair in sampled_pairs(len(colours), sample) for i in pair]
    gaps = [(index, colours[index]
             - read_image(sampled / f"{number:06d}.png").reshape(-1, 3).mean(0))
            for number, index in enumerate(indices)]
    return gaps, len(colours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("render", type=Path, help="the rendered video")
    parser.add_argument("sampled", type=Path, help="folder of the independent pairs' PNGs")
    parser.add_argument("--sample", type=int, default=SAMPLE, help="bench_video.py's --sample")
    args = parser.parse_args()
    gaps, count = colour_gaps(args.render, args.sampled, args.sample)
    quarter = count // 4
    for index, gap in gaps:
        print(f"frame {index:4d}: {np.round(gap, 1)}")
    first = np.mean([gap for index, gap in gaps if index < quarter], 0)
    last = np.mean([gap for index, gap in gaps if index >= count - quarter], 0)
    print(f"first quarter {np.round(first, 1)}, last quarter {np.round(last, 1)}")


if __name__ == "__main__":
    main()
