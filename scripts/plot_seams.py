"""Per-pair warping error of chunked Ray renders (results of ``bench_seams.py``) side by
side: one panel per clip and budget, a line per results file (and the local render of the
last one, where its results keep it), the seams and the frames pulled towards each keyframe
marked.

    python scripts/plot_seams.py seams_bedroom16_fresh_keys seams_bedroom16 \
        --labels "fresh keyframes,keyframes from the one before" --out docs/seams_bedroom16.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from stylevid.config import RayOptions  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", help="results files (scripts/results/NAME.json)")
    parser.add_argument("--labels", help="comma-separated, one per results file")
    parser.add_argument("--out", required=True, help="PNG to write")
    args = parser.parse_args()
    labels = args.labels.split(",") if args.labels else args.names
    results = [json.loads((RESULTS / f"{name}.json").read_text()) for name in args.names]
    panels = [(row["clip"], row["budget"]) for row in results[0]["rows"]]
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 2.6 * len(panels)), sharex=True,
                                squeeze=False)
    for axis, (clip, budget) in zip(axes[:, 0], panels, strict=True):
        for result, label in zip(results, labels, strict=True):
            row = next(r for r in result["rows"] if (r["clip"], r["budget"]) == (clip, budget))
            axis.plot(range(len(row["per_pair"])), row["per_pair"], marker=".", label=label)
        if "local_per_pair" in row:  # results since the local series was kept
            axis.plot(range(len(row["local_per_pair"])), row["local_per_pair"], color="0.4",
                      linewidth=1, label="local render (one chunk)")
        run = results[0]["args"]
        chunk = run["chunk_frames"]
        blend = RayOptions(chunk_frames=chunk, blend=run["blend"]).blend_frames
        for seam in range(chunk, row["frames"], chunk):
            axis.axvspan(seam - blend - 0.5, seam - 0.5, color="0.9", zorder=0)
            axis.axvline(seam, color="0.5", linestyle="--", linewidth=0.8)
        axis.set_title(f"{clip}, {budget}: pair (t-1, t); dashed: seam, grey: pulled frames",
                       fontsize=9)
        axis.set_ylabel("warping error")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    axes[-1, 0].set_xlabel("frame t")
    figure.tight_layout()
    figure.savefig(args.out, dpi=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())
