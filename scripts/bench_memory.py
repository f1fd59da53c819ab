"""Peak memory of one stylized frame per frame size, against stylevid's own estimate.

Each size runs in a fresh process (one L-BFGS optimisation at the frame's size, the
settings of `stylevid render` for a later frame: one scale, default layers and precision)
and reports its peak resident memory (``ru_maxrss``); the estimate that stylevid checks
before any work (``stylevid.memory.estimate_bytes``) is printed beside it.

    python scripts/bench_memory.py --sizes 256x144,512x288 --iterations 110

    python scripts/bench_memory.py --sizes 960x540,1920x1080 --iterations 3

Results (merged over runs): scripts/results/memory.json and .md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def child(width: int, height: int, iterations: int, precision: str) -> None:
    """Stylize one frame of ``width`` x ``height`` and print the peak memory as JSON."""
    import numpy as np
    import torch

    from stylevid.config import video_params
    from stylevid.engine import Region, StyleImage, Stylizer
    from stylevid.imageio import read_image, resize_to

    torch.set_num_threads(2)
    params = video_params(size=max(width, height), scales=1, iterations=iterations,
                          tolerance=0.0, precision=precision)
    content = resize_to(read_image("skimage:astronaut"), height, width)
    style = StyleImage(read_image("skimage:coffee"))
    stylizer = Stylizer(params)
    began = time.perf_counter()
    stylizer.stylize(content, [Region(None, (style,))])
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"width": width, "height": height, "peak_bytes": peak,
                      "seconds_per_iteration": seconds / iterations,
                      "precision": stylizer.precision,
                      "pixels": int(np.prod(content.shape[:2]))}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256x144,512x288")
    parser.add_argument("--iterations", type=int, default=110,
                        help="L-BFGS iterations (its history is full after 100)")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.iterations, args.precision)
        return
    from stylevid.config import video_params
    from stylevid.device import cpu_description
    from stylevid.memory import estimate_bytes

    machine = cpu_description()
    print(f"CPU: {machine}")
    path = RESULTS / "memory.json"
    results = json.loads(path.read_text()) if path.is_file() else {"rows": []}
    for size in filter(None, args.sizes.split(",")):  # none: rewrite the report only
        width, height = (int(v) for v in size.split("x"))
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(width), str(height),
             "--iterations", str(args.iterations), "--precision", args.precision],
            capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{size}: failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row.update(iterations=args.iterations, machine=machine)
        print(f"{size}, {args.iterations} iterations: peak {row['peak_bytes'] / 2**30:.2f} GiB, "
              f"{row['seconds_per_iteration']:.2f} s/iteration ({row['precision']})")
        key = (width, height, args.iterations, row["precision"])
        results["rows"] = [r for r in results["rows"] if
                           (r["width"], r["height"], r["iterations"], r["precision"]) != key]
        results["rows"].append(row)
    results["rows"].sort(key=lambda r: (r["precision"], r["iterations"], r["pixels"]))
    for r in results["rows"]:  # the estimate of the current code, beside each measurement
        r["estimate_bytes"] = estimate_bytes(r["height"], r["width"], video_params(
            precision=r["precision"], iterations=r["iterations"]))
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    lines = ["| frame | precision | L-BFGS iterations | peak RSS (GiB) | estimate (GiB) | "
             "s/iteration | machine |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['width']}x{r['height']} | {r['precision']} | {r['iterations']} | "
              f"{r['peak_bytes'] / 2**30:.2f} | {r['estimate_bytes'] / 2**30:.2f} | "
              f"{r['seconds_per_iteration']:.2f} | {r['machine']} |" for r in results["rows"]]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
