"""Batch throughput on Ray: the same library of clips rendered with 1 and 2 CPU workers,
and locally (``stylevid render``, one clip after the other), at the render defaults except
the size.

The library: ``--clips`` pieces of ``--frames`` frames each from the real clip
../shared/data/video/bedroom/bedroom.mp4 (a library of short videos, one chunk each).
Rows:
- Ray, 1 worker, 1 thread (a 1-CPU Ray instance): the baseline for scaling;
- Ray, 2 workers, 1 thread each (what ``stylevid batch`` starts on 2 cores);
- Ray, 1 worker, 2 threads (``--workers 1`` on 2 cores);
- local ``stylevid render`` of each clip in turn, 2 threads.
For each: wall time, frames per minute, the driver's time before its first dispatch to a
worker (Ray start and actors included, then the time to plan) and the time to the first
finished frame.

    python scripts/bench_ray.py --clips 2 --frames 24 --size 64
Results: scripts/results/ray_throughput.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

import torch

from stylevid import distributed
from stylevid.api import render_video
from stylevid.config import RayOptions, RenderOptions, StyleParams, StyleSpec, video_params
from stylevid.device import cpu_description
from stylevid.synthetic import write_clip
from stylevid.video import probe, read_frames

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "scripts" / "results"
STYLE = DATA / "style" / "starry_night.jpg"
BEDROOM = DATA / "video" / "bedroom" / "bedroom.mp4"


def make_library(folder: Path, clips: int, frames: int) -> list[Path]:
    """``clips`` consecutive pieces of bedroom.mp4, ``frames`` frames each (full size)."""
    info = probe(BEDROOM)
    decoded = list(islice(read_frames(BEDROOM, info, info.width, info.height),
                          clips * frames))
    paths = []
    for k in range(clips):
        path = folder / f"bedroom{k}.mp4"
        write_clip(decoded[k * frames:(k + 1) * frames], path, audio=False)
        paths.append(path)
    return paths


class TimedPool(distributed.WorkerPool):
    """The product's pool, noting when the driver first hands a task to a worker."""

    first_dispatch: float | None = None

    def __init__(self, actors: list, call) -> None:
        def timed(actor, task):
            if TimedPool.first_dispatch is None:
                TimedPool.first_dispatch = time.perf_counter()
            return call(actor, task)

        super().__init__(actors, timed)


def run_ray(library: list[Path], folder: Path, params: StyleParams, options: RenderOptions,
            cpus: int, workers: int) -> dict:
    import ray

    distributed.WorkerPool = TimedPool  # type: ignore[misc]
    TimedPool.first_dispatch = None
    jobs = [distributed.VideoJob(p, folder / p.name, (StyleSpec(str(STYLE)),),
                                 folder / "work" / p.stem) for p in library]
    first_frame: list[float] = []
    notes: list[str] = []

    def progress(done: int, total: int, videos: int, videos_total: int) -> None:
        if done and not first_frame:
            first_frame.append(time.perf_counter())

    start = time.perf_counter()
    distributed.start_ray(None, cpus)
    outcomes = distributed.render_many(jobs, params, options, RayOptions(workers=workers),
                                       on_progress=progress, on_workers=notes.append)
    seconds = time.perf_counter() - start
    ray.shutdown()
    assert all(o.state == "done" for o in outcomes), [o.reason for o in outcomes]
    frames = sum(o.frames for o in outcomes)
    return {"mode": f"Ray, {notes[0]}", "seconds": seconds, "frames": frames,
            "before_first_dispatch_s": (TimedPool.first_dispatch or start) - start,
            "first_frame_s": first_frame[0] - start if first_frame else None}


def run_local(library: list[Path], folder: Path, params: StyleParams,
              options: RenderOptions) -> dict:
    torch.set_num_threads(os.cpu_count() or 1)
    start = time.perf_counter()
    first_frame: list[float] = []

    def on_frame(_index: int, _total: int, _loss: float) -> None:
        if not first_frame:
            first_frame.append(time.perf_counter())

    frames = 0
    for path in library:
        summary = render_video(
            path, [str(STYLE)], folder / path.name, params=params, options=options,
            work_dir=folder / "work" / path.stem,
            on_frame=on_frame)
        frames += summary.frames
    seconds = time.perf_counter() - start
    return {"mode": f"local stylevid render, {os.cpu_count()} threads, clips in turn",
            "seconds": seconds, "frames": frames, "before_first_dispatch_s": None,
            "first_frame_s": first_frame[0] - start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--modes", default="ray1x1,ray2x1,ray1x2,local")
    args = parser.parse_args()
    print(cpu_description(), f"{os.cpu_count()} CPUs, torch {torch.__version__}", flush=True)
    params = video_params(size=args.size)
    options = RenderOptions()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        library = make_library(Path(tmp), args.clips, args.frames)
        for mode in args.modes.split(","):
            folder = Path(tmp) / mode
            folder.mkdir()
            if mode == "local":
                run = run_local(library, folder, params, options)
            else:
                workers, threads = (int(x) for x in mode.removeprefix("ray").split("x"))
                run = run_ray(library, folder, params, options, workers * threads, workers)
            run["frames_per_min"] = 60 * run["frames"] / run["seconds"]
            runs.append(run)
            print(json.dumps(run), flush=True)
            shutil.rmtree(folder)
    base = runs[0]["frames_per_min"]
    lines = [f"# Ray batch throughput\n\n{cpu_description()}, {os.cpu_count()} CPUs, torch "
             f"{torch.__version__}. Library: {args.clips} clips x {args.frames} frames of "
             f"bedroom.mp4 at {args.size} px, starry night, render defaults "
             f"({params.iterations} iterations a later frame, {options.first_iterations} the "
             f"first).\n\n`python scripts/bench_ray.py --clips {args.clips} --frames "
             f"{args.frames} --size {args.size}`\n",
             "| mode | wall s | frames/min | vs first row | driver s before first dispatch "
             "| s to first frame |", "|---|---|---|---|---|---|"]
    for run in runs:
        before = run["before_first_dispatch_s"]
        lines.append(f"| {run['mode']} | {run['seconds']:.1f} | {run['frames_per_min']:.2f} | "
                     f"{run['frames_per_min'] / base:.2f}x | "
                     f"{'-' if before is None else f'{before:.1f}'} | "
                     f"{run['first_frame_s']:.1f} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ray_throughput.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "ray_throughput.json").write_text(json.dumps(
        {"cpu": cpu_description(), "args": vars(args), "runs": runs}, indent=2))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
