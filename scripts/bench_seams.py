"""Chunk seams on Ray: the warping error of the pair that straddles a seam against the
interior of the clip, at a low budget (10 iterations a later frame) and at the defaults.

Clips as in bench_video.py: the exact-flow pan (warping error under the true flow) and the
real clip bedroom.mp4 (DIS flow of the original frames), ``--frames`` frames each at
``--size`` px, rendered on Ray with 2 workers in chunks of ``--chunk-frames`` (keyframes at
the chunk starts, stylevid's default blend unless ``--blend``), measured on the decoded output,
and the same clip rendered locally at the same budget as the reference for each pair.

    python scripts/bench_seams.py --clips pan,bedroom --frames 48 --size 64 --chunk-frames 16
Results: scripts/results/seams.{md,json} (``--out`` another name).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_video import DATA, RESULTS, STYLE, make_clips  # noqa: E402

from stylevid.api import render_video  # noqa: E402
from stylevid.config import RayOptions, RenderOptions, StyleSpec, video_params  # noqa: E402
from stylevid.device import cpu_description  # noqa: E402
from stylevid.distributed import VideoJob, plan_chunks, render_many, start_ray  # noqa: E402
from stylevid.evaluate import evaluate_clip  # noqa: E402

BUDGETS = {"10 iterations": 10, "defaults": None}


def chunk_seams(frames: int, cuts: list[int], chunk_frames: int) -> list[int]:
    """First frames of the chunks that continue a shot (as the Ray runner plans them)."""
    return [c.start for c in plan_chunks(frames, cuts, chunk_frames)
            if c.start > 0 and c.start not in cuts]


def seam_figures(errors: list[float], local: list[float], seams: list[int],
                 blend: int) -> dict:
    """Seam pairs (seam - 1, seam) against the mean of every other pair, and against the
    same pair of a local render (one chunk: no seam; on a real clip some pairs are harder
    than others whatever renders them); the worst pair of the blended frames before a
    seam; the interior against the local render's."""
    pairs = {t: e for t, e in enumerate(errors) if t > 0 and np.isfinite(e)}
    interior = float(np.mean([e for t, e in pairs.items() if t not in seams]))
    local_interior = float(np.mean([e for t, e in enumerate(local)
                                    if t > 0 and t not in seams and np.isfinite(e)]))
    blended = [pairs[t] for s in seams for t in range(s - blend, s) if t in pairs]
    return {"interior": interior,
            "seams": [pairs[s] / interior for s in seams],
            "seams_vs_local": [pairs[s] / local[s] for s in seams],
            "local_seam_pairs": [local[s] / local_interior for s in seams],
            "interior_vs_local": interior / local_interior,
            "blended_max": max(blended) / interior if blended else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default="pan,bedroom")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--chunk-frames", type=int, default=16)
    parser.add_argument("--blend", type=int, default=None,
                        help="frames pulled towards a keyframe (default: as stylevid's)")
    parser.add_argument("--out", default="seams", help="results file name (without suffix)")
    args = parser.parse_args()
    print(cpu_description(), f"{os.cpu_count()} CPUs, torch {torch.__version__}", flush=True)
    assert DATA.is_dir(), f"needs {DATA}"
    ray_options = RayOptions(workers=2, chunk_frames=args.chunk_frames, blend=args.blend)
    start_ray(None, 2)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = make_clips(Path(tmp), args.clips.split(","), args.size, args.frames)
        for name, (path, truth, duration) in clips.items():
            for budget, iterations in BUDGETS.items():
                params = video_params(size=args.size, **(
                    {"iterations": iterations} if iterations else {}))
                options = RenderOptions(duration=duration)
                out = Path(tmp) / f"{name}-{iterations}.mp4"
                began = time.perf_counter()
                [outcome] = render_many([VideoJob(path, out, (StyleSpec(str(STYLE)),))],
                                        params, options, ray_options)
                seconds = time.perf_counter() - began
                assert outcome.state == "done", outcome.reason
                report = evaluate_clip(out, path, truth=truth, duration=duration)
                errors = report.warping_truth if truth else report.warping
                local_out = Path(tmp) / f"{name}-{iterations}-local.mp4"
                local_render = render_video(path, [StyleSpec(str(STYLE))], local_out,
                                            params=params, options=options)
                local = evaluate_clip(local_out, path, truth=truth, duration=duration)
                seams = chunk_seams(outcome.frames, local_render.cuts, args.chunk_frames)
                row = {"clip": name, "budget": budget, "iterations": params.iterations,
                       "frames": outcome.frames, "seconds": seconds,
                       "flow": "true" if truth else "DIS of the original",
                       **seam_figures(errors, local.warping_truth if truth else local.warping,
                                      seams, ray_options.blend_frames), "per_pair": errors,
                       "local_per_pair": local.warping_truth if truth else local.warping}
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if "per_pair" not in k}),
                      flush=True)
    write_results(args, ray_options.blend_frames, rows)
    return 0


def write_results(args: argparse.Namespace, blend: int, rows: list[dict]) -> None:
    """The table (``RESULTS/OUT.md``) and every figure with the per-pair series (``.json``)."""
    lines = [f"# Chunk seams on Ray\n\n{cpu_description()}, {os.cpu_count()} CPUs, torch "
             f"{torch.__version__}. {args.frames} frames at {args.size} px, starry night, "
             f"2 workers, chunks of {args.chunk_frames} frames (keyframe tasks), blend "
             f"{blend}; warping error of the decoded output.\n\n"
             f"`python scripts/bench_seams.py --clips {args.clips} --frames {args.frames} "
             f"--size {args.size} --chunk-frames {args.chunk_frames}"
             + (f" --blend {args.blend}" if args.blend else "") + "`\n",
             "The local render (`stylevid render`, one chunk) of the same clip at the same "
             "budget is the reference for each pair: on a real clip some pairs are harder "
             "than others whatever renders them.\n",
             "| clip | budget | flow | interior warping error | seam pairs / interior | "
             "seam pairs / the same pair rendered locally | those pairs locally / local "
             "interior | interior / local interior | worst blended pair / interior | "
             "wall s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        def ratios(key: str, row: dict = row) -> str:
            return ", ".join(f"{r:.2f}x" for r in row[key])
        lines.append(f"| {row['clip']} | {row['budget']} ({row['iterations']} it) | "
                     f"{row['flow']} | {row['interior']:.5f} | {ratios('seams')} | "
                     f"{ratios('seams_vs_local')} | {ratios('local_seam_pairs')} | "
                     f"{row['interior_vs_local']:.2f}x | "
                     f"{row['blended_max']:.2f}x | {row['seconds']:.0f} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{args.out}.json").write_text(json.dumps(
        {"cpu": cpu_description(), "args": vars(args), "rows": rows}, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
