"""A shot's first frame: loss against time for ways to start it, at the video defaults.

The first frame of bedroom.mp4 at ``--size`` (512: the render default, two levels 256 and
512 px, up to 500 iterations each, early stop), stylized as ``stylevid render`` does it
(``default``: the coarse level stops on a plateau 10x looser than the full size's), with
the coarse level run to the full size's plateau as before (``coarse to its plateau``), from
the content re-coloured to the style's histogram (``matched``), with one more coarse level
(``3 levels``), and both. Reported: wall time, evaluations, the final loss at full size, and
when each variant first reaches the default's final loss and the first other variant's.

    python scripts/bench_first_frame.py --size 512
    python scripts/bench_first_frame.py --variants "default,coarse to its plateau" --tag avx2
Results: scripts/results/first_frame[_TAG].{md,json,png}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_video import DATA, RESULTS, STYLE  # noqa: E402

from stylevid.color import match_colors  # noqa: E402
from stylevid.config import video_params  # noqa: E402
from stylevid.device import cpu_description  # noqa: E402
from stylevid.engine import Region, StyleImage, Stylizer  # noqa: E402
from stylevid.imageio import read_image, resize_to, to_tensor  # noqa: E402
from stylevid.video import output_size, probe, read_frames  # noqa: E402

VARIANTS = ("default", "coarse to its plateau", "matched", "3 levels", "matched, 3 levels")


def run(stylizer: Stylizer, content: np.ndarray, style: np.ndarray, regions: list[Region],
        variant: str, size: int) -> list[tuple[float, float, int]]:
    """(seconds, loss, level width) after each evaluation."""
    init = None
    if variant.startswith("matched"):
        init = to_tensor(match_colors(content, style.reshape(1, -1, 3)), stylizer.device)
    sizes = [size // 4, size // 2, size] if "3 levels" in variant else None
    trace: list[tuple[float, float, int]] = []
    began = time.perf_counter()

    def step(_i: int, loss: float, image: torch.Tensor) -> None:
        trace.append((time.perf_counter() - began, loss, image.shape[-1]))

    if variant == "coarse to its plateau":  # a level of its own is a final one: full plateau
        height, width = content.shape[:2]
        small = resize_to(content, round(height / 2), round(width / 2))
        init = stylizer.stylize(small, regions, sizes=[size // 2], iterations=500,
                                on_step=step).image
        sizes = [size]
    stylizer.stylize(content, regions, init=init, sizes=sizes, iterations=500, on_step=step)
    return trace


def full_size(trace: list[tuple[float, float, int]], width: int) -> list[tuple[float, float]]:
    """(seconds, loss) of the evaluations at the full size."""
    return [(t, loss) for t, loss, w in trace if w == width]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated, from: {', '.join(VARIANTS)}")
    parser.add_argument("--tag", help="results go to first_frame_TAG.*")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",")]
    unknown = set(variants) - set(VARIANTS)
    if unknown or "default" not in variants:
        parser.error(f"--variants: unknown {sorted(unknown)}, or no 'default'")
    if "coarse to its plateau" in variants and len(video_params().scale_sizes(args.size)) != 2:
        parser.error("'coarse to its plateau' stands for two levels: --size 512 to 1023")
    torch.set_num_threads(args.threads)
    machine = f"{cpu_description()}, {args.threads} threads, torch {torch.__version__}"
    print(machine, flush=True)
    path = DATA / "video/bedroom/bedroom.mp4"
    info = probe(path)
    width, height = output_size(info, args.size)
    content = next(iter(read_frames(path, info, width, height)))
    style = read_image(STYLE)
    regions = [Region(None, (StyleImage(style),))]
    stylizer = Stylizer(video_params(size=args.size))
    stylizer.stylize(content, regions, iterations=2)  # warm-up
    traces = {variant: run(stylizer, content, style, regions, variant, args.size)
              for variant in variants}
    targets = [full_size(traces[v], width)[-1][1] for v in variants[:2]]
    rows = {}
    for variant, trace in traces.items():
        full = full_size(trace, width)
        reached = [next((t for t, loss in full if loss <= target), None) for target in targets]
        rows[variant] = {"seconds": trace[-1][0], "evaluations": len(trace),
                         "full_size_evaluations": len(full), "final_loss": full[-1][1],
                         "reaches_default_loss_s": reached[0],
                         "reaches_second_loss_s": reached[-1], "trace": trace}
        print(variant, json.dumps({k: v for k, v in rows[variant].items() if k != "trace"}),
              flush=True)
    write_results(machine, args, width, height, rows)


def write_results(machine: str, args: argparse.Namespace, width: int, height: int,
                  rows: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    command = f"python scripts/bench_first_frame.py --size {args.size}"
    if names != list(VARIANTS):
        command += f' --variants "{",".join(names)}"'
    if args.tag:
        command += f" --tag {args.tag}"
    header = "| start | wall s | evaluations (at full size) | final loss | reaches the default's " \
             "final loss after |"
    if len(names) > 1:
        header += f" reaches {names[1]}'s final loss after |"
    lines = [f"# A shot's first frame\n\n{machine}. bedroom.mp4 frame 0 at {width}x{height}, "
             f"starry night, video defaults.\n\n`{command}`\n", header,
             "|---" * header.count(" |") + "|"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for variant, row in rows.items():
        times = [row["reaches_default_loss_s"]] + ([row["reaches_second_loss_s"]]
                                                   if len(names) > 1 else [])
        lines.append(f"| {variant} | {row['seconds']:.1f} | {row['evaluations']} "
                     f"({row['full_size_evaluations']}) | {row['final_loss']:.5g} | "
                     + " | ".join("never" if t is None else f"{t:.1f} s" for t in times) + " |")
        ax.plot(*zip(*full_size(row["trace"], width), strict=True), label=variant)
    ax.set(xlabel="seconds", ylabel=f"loss at {width}x{height}", yscale="log",
           ylim=(rows["default"]["final_loss"] * 0.98, rows["default"]["final_loss"] * 1.5))
    ax.legend()
    fig.tight_layout()
    stem = "first_frame" + (f"_{args.tag}" if args.tag else "")
    fig.savefig(RESULTS / f"{stem}.png", dpi=90)
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{stem}.json").write_text(json.dumps(
        {"machine": machine, "size": [width, height], "rows": rows}))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
