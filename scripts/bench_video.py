"""Video quality along long clips: independent frames, single pass and multi-pass at the
default budget, measured on the decoded output files.

Clips (``--frames``, 48 by default): a camera pan over tubingen.jpg (exact flow known: 2 px
a frame; ``pan-night``: the same pan over hoovertowernight.jpg), ``disc``: a round cut-out
of brad_pitt.jpg moving 1 px a frame diagonally over golden_gate.jpg, bouncing off the edges
(exact flow; what it covers and uncovers are occlusions and disocclusions), ``zoom``: a
camera zooming into tubingen.jpg by 1 % a frame (exact flow; the painted history is
magnified frame after frame; ``zoom-out``: the same played backwards), a static scene
(identical frames of golden_gate.jpg: any change is drift), and the real clip
../shared/data/video/bedroom/bedroom.mp4 (200 frames; its first ``--frames``).
Every render goes through the same pipeline as ``stylevid render`` (work folder, H.264
output); only ``--temporal-weight 0`` (independent frames), ``--long-term`` and ``--passes``
differ from the defaults, and the size is small.

    python scripts/bench_video.py --clips pan,static,bedroom --size 64 --frames 48
Results: scripts/results/video_quality.md, and per clip a JSON file and a PNG of the
per-frame curves.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from stylevid.config import FLOW_PRESETS, VIDEO_ITERATIONS, RenderOptions, StyleParams
from stylevid.device import cpu_description, resolve_precision
from stylevid.encode import encode
from stylevid.engine import Region, StyleImage, Stylizer
from stylevid.evaluate import LossMeter, evaluate_clip, evaluate_frames
from stylevid.imageio import read_image, write_image
from stylevid.render import default_work_dir, render_video
from stylevid.still import finish
from stylevid.synthetic import moving_disc_frames, pan_frames, write_clip, zoom_frames
from stylevid.video import output_size, probe, read_frames
from stylevid.workdir import WorkDir

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "scripts" / "results"
STYLE = DATA / "style" / "starry_night.jpg"
PAN_STEP = 2
ZOOM_RATE = 1.01  # zoom: 1 % a frame, 1.6x over 48 frames
SIZE = 64  # results at another size are kept as video_quality_CLIP-Npx.json
PANS = {"pan": "tubingen.jpg", "pan-night": "hoovertowernight.jpg"}


def make_clips(folder: Path, names: list[str], size: int,
               frames: int) -> dict[str, tuple[Path, list | None, float | None]]:
    """Each clip with its ground-truth forward flows (None when unknown) and the duration
    to render (None: all of it)."""
    clips: dict[str, tuple[Path, list | None, float | None]] = {}
    width, height = size, size * 2 // 3
    for name, picture in PANS.items():
        if name not in names:
            continue
        photo = read_image(DATA / "content" / picture)
        path = folder / f"{name}.mp4"
        write_clip(pan_frames(photo, frames, width, height, PAN_STEP), path, audio=False)
        forward = np.zeros((height, width, 2), np.float32)
        forward[..., 0] = -PAN_STEP  # frame t-1 at x is frame t at x - 2
        clips[name] = (path, [forward] * (frames - 1), None)
    if "disc" in names:
        images, flows = moving_disc_frames(read_image(DATA / "content/golden_gate.jpg"),
                                           read_image(DATA / "content/brad_pitt.jpg"),
                                           frames, width, height)
        path = folder / "disc.mp4"
        write_clip(images, path, audio=False)
        clips["disc"] = (path, flows, None)
    for name in ("zoom", "zoom-out"):
        if name not in names:
            continue
        rate = ZOOM_RATE if name == "zoom" else 1 / ZOOM_RATE  # zoom-out: played backwards
        images, forward = zoom_frames(read_image(DATA / "content/tubingen.jpg"), frames,
                                      width, height, rate)
        path = folder / f"{name}.mp4"
        write_clip(images, path, audio=False)
        clips[name] = (path, [forward] * (frames - 1), None)
    if "static" in names:
        photo = read_image(DATA / "content/golden_gate.jpg")
        still = pan_frames(photo, 1, width, height, 0)[0]
        path = folder / "static.mp4"
        write_clip([still] * frames, path, audio=False)
        clips["static"] = (path, [np.zeros((height, width, 2), np.float32)] * (frames - 1),
                           None)
    if "bedroom" in names:  # 30 fps
        clips["bedroom"] = (DATA / "video/bedroom/bedroom.mp4", None,
                            None if frames >= 200 else frames / 30)
    return clips


# Independent frames, the reference of every ratio: 150 iterations each (early stop), as all
# the committed results measured them (a render with --temporal-weight 0 now gives each
# frame --first-iterations, 500).
INDEPENDENT_ITERATIONS = 150
MODES = {
    "independent": dict(temporal_weight=0.0, first_iterations=INDEPENDENT_ITERATIONS),
    "single-pass": {},
    "no keyframes ahead": dict(lookahead=0),  # single pass as before keyframes ahead
    "long-term": dict(long_term=True),  # single pass, J = {1, 2, 4}
    "multi-pass (3)": dict(passes=3),
    # single pass, a lighter temporal loss (the default 5e6 calibrated on the pan)
    "temporal weight 3e6": dict(temporal_weight=3e6),
    "temporal weight 2e6": dict(temporal_weight=2e6),
    "temporal weight 1e6": dict(temporal_weight=1e6),
    "lookahead 8": dict(lookahead=8),  # single pass, keyframes twice as close (default 16)
    # single pass, the finest detail held more lightly (the default 0.15)
    "temporal fine weight 0.05": dict(temporal_fine_weight=0.05),
    "temporal fine weight 1": dict(temporal_fine_weight=1.0),  # Ruder's loss
}
# Independent frames are independent: on a long clip the pairs of frames SAMPLE*k, SAMPLE*k+1
# estimate their sharpness, style loss and warping error at 2/SAMPLE of the cost.
SAMPLED = "independent (sampled)"
SAMPLE = 8


class IterationCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_: object) -> None:
        self.count += 1


class CountingStylizer(Stylizer):
    """A Stylizer that counts evaluations of the loss and its gradient (one VGG forward and
    backward pass each, the unit of cost: an L-BFGS iteration with a line search takes
    more than one)."""

    evaluations = 0

    def objective(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        objective = super().objective(*args, **kwargs)

        def counted(image: torch.Tensor) -> torch.Tensor:
            self.evaluations += 1
            return objective(image)

        return counted


def mean_colours(path: Path) -> np.ndarray:
    """Mean RGB of each frame of a video, (frames, 3)."""
    info = probe(path)
    return np.array([f.reshape(-1, 3).mean(0) for f in
                     read_frames(path, info, info.width, info.height)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", default="pan,static,bedroom")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--size", type=int, default=SIZE)
    parser.add_argument("--frames", type=int, default=48,
                        help="frames of each clip (the bedroom clip has 200)")
    parser.add_argument("--work", default="/tmp/stylevid-bench-video")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=VIDEO_ITERATIONS,
                        help="most iterations of a later frame (results at other than "
                             "`stylevid render`'s default are kept as "
                             "video_quality_CLIP-itN.json)")
    parser.add_argument("--tolerance", type=float, default=StyleParams.tolerance,
                        help="plateau stop of every frame (results at other than the "
                             "default are kept as video_quality_CLIP-tolT.json)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                        help="VGG arithmetic (results in bf16 are kept as "
                             "video_quality_CLIP-bf16.json)")
    parser.add_argument("--flow-preset", default=RenderOptions.flow_preset,
                        choices=FLOW_PRESETS,
                        help="DIS preset of the renders (results with another than the "
                             "default are kept as video_quality_CLIP-flow-PRESET.json)")
    parser.add_argument("--style", type=Path, default=STYLE,
                        help="style picture (results of another than starry_night.jpg are "
                             "kept as video_quality_CLIP-STYLE.json)")
    parser.add_argument("--sample", type=int, default=SAMPLE,
                        help=f"`{SAMPLED}`: the pairs of frames SAMPLE*k, SAMPLE*k+1")
    parser.add_argument("--tag", default="",
                        help="results kept as video_quality_CLIP-TAG.json (beside earlier "
                             "versions' rows measured otherwise, e.g. with another encoder "
                             "tuning; the ratios are against that file's independent frames)")
    args = parser.parse_args()
    style = args.style
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    params = StyleParams(size=args.size, iterations=args.iterations,
                         precision=args.precision, tolerance=args.tolerance)
    stylizer = CountingStylizer(params)
    precision = resolve_precision(params.precision, stylizer.device)
    meter = LossMeter(read_image(style))
    regions = [Region(None, (StyleImage(read_image(style)),))]
    machine = (f"{cpu_description()}, {args.threads} threads, torch {torch.__version__}, "
               f"precision {precision}")
    print(machine, flush=True)
    clips = make_clips(work, args.clips.split(","), args.size, args.frames)
    for name, (path, truth, duration) in clips.items():
        clip = name if style == STYLE else f"{name}-{style.stem}"
        clip += "-bf16" if precision == "bf16" else ""
        clip += f"-{args.size}px" if args.size != SIZE else ""
        clip += f"-it{args.iterations}" if args.iterations != VIDEO_ITERATIONS else ""
        clip += f"-tol{args.tolerance:g}" if args.tolerance != StyleParams.tolerance else ""
        if args.flow_preset != RenderOptions.flow_preset:
            clip += f"-flow-{args.flow_preset}"
        clip += f"-sample{args.sample}" if args.sample != SAMPLE else ""
        clip += f"-{args.tag}" if args.tag else ""
        results_path = RESULTS / f"video_quality_{clip}.json"
        measured: dict = {"machine": machine, "size": args.size}  # by this run

        def save(results_path: Path = results_path, measured: dict = measured) -> dict:
            """This run's modes over those in the file (other modes, measured earlier or by
            a run beside this one, are kept)."""
            earlier = json.loads(results_path.read_text()) if results_path.is_file() else {}
            results = {**earlier, **measured}
            results_path.write_text(json.dumps(results, indent=1))
            return results

        for mode in args.modes.split(","):
            if mode == SAMPLED:
                measured[mode] = sampled_independent(path, duration, args.size, stylizer,
                                                     regions, meter, work / f"{clip}-sampled",
                                                     truth, args.sample)
                save()
                continue
            options = RenderOptions(duration=duration, flow_preset=args.flow_preset,
                                    **MODES[mode])
            out = work / f"{clip}-{re.sub(r'[^a-z0-9]+', '-', mode)}.mp4"
            # rendered afresh: a work folder of an earlier run (of other code) would resume
            shutil.rmtree(default_work_dir(out), ignore_errors=True)
            counter = IterationCounter()
            stylizer.evaluations = 0
            first_frame: list[int] = []  # evaluations of the clip's first frame

            def on_frame(*_: object, first_frame: list[int] = first_frame) -> None:
                if not first_frame:
                    first_frame.append(stylizer.evaluations)

            began = time.perf_counter()
            summary = render_video(path, out, [str(style)], stylizer, options,
                                   regions_for=lambda _i, _c: regions,
                                   on_frame=on_frame, on_step=counter)
            seconds = time.perf_counter() - began
            report = evaluate_clip(out, path, truth=truth, losses=meter, duration=duration)
            work_dir = WorkDir(default_work_dir(out))
            rendered = [work_dir.read_frame(i, options.passes) for i in range(summary.frames)]
            lossless = evaluate_frames(zip(rendered, originals(path, duration, args.size),
                                           strict=True), truth=truth, losses=meter)
            colours = mean_colours(out)
            entry = {
                "frames": summary.frames, "seconds": seconds, "rendered": summary.rendered,
                "iterations": counter.count, "evaluations": stylizer.evaluations,
                "first_frame_evaluations": first_frame[0], "shots": len(summary.cuts) + 1,
                "passes": options.passes,
                "summary": report.summary(),
                "series": report.series(),
                "lossless": {"summary": lossless.summary(), "series": lossless.series()},
                "drift": float(np.abs(colours[-1] - colours[0]).max()),
            }
            measured[mode] = entry
            print(clip, mode, f"{seconds:.0f} s, {counter.count} iterations, "
                  f"{stylizer.evaluations} evaluations ({first_frame[0]} for frame 0)",
                  json.dumps(entry["summary"]), f"drift {entry['drift']:.2f}", flush=True)
            save()
        plot_clip(clip, save(), truth is not None)
    write_markdown()


def later_evaluations(entry: dict) -> float:
    """Evaluations per frame after the clip's first, over every pass."""
    passes = entry.get("passes", 1)
    return ((entry["evaluations"] - entry["first_frame_evaluations"])
            / (entry["frames"] * passes - 1))


def originals(path: Path, duration: float | None, size: int) -> list[np.ndarray]:
    """The clip's frames at the render's size."""
    info = probe(path)
    width, height = output_size(info, size)
    return list(read_frames(path, info, width, height, None, duration))


def sampled_pairs(count: int, sample: int = SAMPLE) -> list[tuple[int, int]]:
    """The pairs of frames sample*k, sample*k+1 of a clip of ``count`` frames."""
    return [(t - 1, t) for t in range(1, count, sample)]


def sampled_independent(path: Path, duration: float | None, size: int, stylizer: Stylizer,
                        regions: list[Region], meter: LossMeter, folder: Path,
                        truth: list | None, sample: int = SAMPLE) -> dict:
    """The pairs of frames sample*k, sample*k+1 stylized on their own
    (INDEPENDENT_ITERATIONS), measured as they are (``lossless``) and encoded like a render's
    frames (stylevid.encode.encode: at 64 px the halved colour resolution alone moves the
    style loss by ~20 %) and decoded. Their frame types are not the render's: they are encoded
    as a clip of their own, so the lossless ratios are the like-for-like ones."""
    frames = originals(path, duration, size)
    height, width = frames[0].shape[:2]
    pairs = sampled_pairs(len(frames), sample)
    indices = [index for pair in pairs for index in pair]
    counter = IterationCounter()
    began = time.perf_counter()
    folder.mkdir(exist_ok=True)
    stylized = []
    for number, index in enumerate(indices):
        result = stylizer.stylize(frames[index], regions, iterations=INDEPENDENT_ITERATIONS,
                                  on_step=counter)
        stylized.append(finish(result.image, frames[index], stylizer.params))
        write_image(folder / f"{number:06d}.png", stylized[-1])
    seconds = time.perf_counter() - began
    encoded = folder / "sampled.mp4"
    encode(str(folder / "%06d.png"), probe(path).fps, encoded)
    decoded = list(read_frames(encoded, probe(encoded), width, height))
    entry = {"frames": len(indices), "seconds": seconds, "rendered": len(indices),
             "iterations": counter.count, "drift": None}
    for name, images in (("decoded", decoded), ("lossless", stylized)):
        series: dict[str, list] = {"index": indices, "pair": [t for _, t in pairs]}
        for number, (first, second) in enumerate(pairs):
            report = evaluate_frames(
                [(images[2 * number], frames[first]), (images[2 * number + 1], frames[second])],
                truth=[truth[first]] if truth is not None else None, losses=meter)
            for measure, values in report.series().items():
                if measure in ("warping", "warping_truth"):
                    series.setdefault(measure, []).append(values[1])
                elif measure in ("sharpness", "style_loss"):
                    series.setdefault(measure, []).extend(values)
        summary = {}
        for measure, values in series.items():
            if measure in ("index", "pair"):
                continue
            at = np.array(series["pair" if measure.startswith("warping") else "index"])
            array = np.array(values)
            quarter = array[at >= len(frames) - len(frames) // 4]
            summary[measure] = {"clip": float(array.mean()),
                                "last_quarter": float(quarter.mean())}
        if name == "decoded":
            entry.update(summary=summary, series=series)
        else:
            entry["lossless"] = {"summary": summary, "series": series}
    print(path.stem, SAMPLED, f"{seconds:.0f} s", json.dumps(entry["summary"]),
          "lossless", json.dumps(entry["lossless"]["summary"]), flush=True)
    return entry


def plot_clip(clip: str, results: dict, exact: bool) -> None:
    """Per-frame curves of every mode measured on ``clip`` (this run's and earlier ones)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    for mode, entry in results.items():
        if not isinstance(entry, dict) or "series" not in entry:
            continue
        series = entry["series"]
        if "index" in series:  # independent frames, sampled
            warping = series.get("warping_truth" if exact else "warping")
            if warping:
                axes[0].plot(series["pair"], warping, "o", label=mode)
            axes[1].plot(series["index"], series["sharpness"], "o", label=mode)
            axes[2].plot(series["index"], series["style_loss"], "o", label=mode)
            continue
        axes[0].plot(series["warping_truth" if exact else "warping"], label=mode)
        axes[1].plot(series["sharpness"], label=mode)
        axes[2].plot(series["style_loss"], label=mode)
    axes[0].set_ylabel("warping error" + (" (exact flow)" if exact else " (DIS flow)"))
    axes[0].set_yscale("symlog", linthresh=1e-4)  # a static scene's error is exactly 0
    axes[1].set_ylabel("Laplacian variance")
    axes[2].set_ylabel("style loss")
    axes[2].set_xlabel("frame")
    axes[0].set_title(f"{clip}: per-frame quality of the decoded output")
    for axis in axes:
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / f"video_quality_{clip}.png", dpi=90)
    plt.close(fig)


def pair_means(entry: dict, key: str, pairs: list[int]) -> tuple[float, float]:
    """Mean ``key`` of a render over the pairs (t-1, t) given by t, over the clip and over
    those in its last quarter (as the sampled independent frames measure them)."""
    values = np.array(entry["series"][key])[pairs]
    frames = len(entry["series"][key])
    quarter = values[np.array(pairs) >= frames - frames // 4]
    return float(values.mean()), float(quarter.mean())


def ratio(value: float, base: float) -> str:
    """``value / base``, or "-" where the base is 0 (a still scene's independent frames are
    the same picture: no warping error)."""
    return f"{value / base:.2f}" if base else "-"


def ratios(entry: dict, base: dict) -> str:
    """``entry``'s sharpness and style loss over ``base``'s (clip / last quarter)."""
    s, b = entry["summary"], base["summary"]
    return " | ".join(f"{s[m]['clip'] / b[m]['clip']:.2f} / "
                      f"{s[m]['last_quarter'] / b[m]['last_quarter']:.2f}"
                      for m in ("sharpness", "style_loss"))


def write_markdown() -> None:
    """scripts/results/video_quality.md from every clip's JSON."""
    by_clip = {path.stem.removeprefix("video_quality_"): json.loads(path.read_text())
               for path in sorted(RESULTS.glob("video_quality_*.json"))}
    machines = sorted({f"{r['machine']}, {r['size']} px" for r in by_clip.values()})
    lines = [f"# Video quality along long clips ({'; '.join(machines)})", "",
             f"Decoded H.264 outputs; `stylevid render` defaults ({VIDEO_ITERATIONS} iterations "
             "per later frame, 500 for a shot's first, early stop) except the mode and where "
             "the clip's name says otherwise (-itN: N iterations per later frame; -bf16: bf16 "
             f"convolutions; -Npx: N px instead of {SIZE}). Warping error under "
             "the exact flow where known (pan, static), else DIS flow of the original. "
             f"Ratios are against independent frames ({INDEPENDENT_ITERATIONS} iterations "
             f"each; on long clips only the pairs of frames {SAMPLE}k, {SAMPLE}k+1 (or "
             "as the clip's name says, -sampleN: Nk, Nk+1) are "
             f"stylized independently, `{SAMPLED}`, encoded as a clip of their own, and the "
             "warping error is compared over those pairs; older rows of that mode sampled "
             f"every {SAMPLE}th frame only, without a warping error). The last two columns "
             "measure the frames before encoding (the render's work folder, the independent "
             "frames' PNGs): the encoder's frame types and bit allocation differ between a "
             "render and a clip of sampled frames, so these are the like-for-like ratios "
             "(rows measured before they were taken leave them empty). Results of earlier "
             "versions are kept under their mode's name with what changed since.", "",
             "Evaluations (one VGG forward and backward pass each) per later frame: those "
             "after the clip's first frame, over the frames rendered after it in all passes "
             "(a new shot's first frame counts among them).", "",
             "| clip | mode | s/frame | iterations/frame | evaluations/later frame "
             "| warping error (clip / last quarter) "
             "| vs independent | sharpness vs independent (clip / last quarter) "
             "| style loss vs independent (clip / last quarter) "
             "| drift (max mean-colour change, /255) "
             "| before encoding: sharpness vs independent | before encoding: style loss vs "
             "independent |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def independent(clip: str) -> dict | None:
        """Independent frames of ``clip``, or of the same clip at the default budget."""
        for name in (clip, re.sub(r"-it\d+(?=-|$)", "", clip)):
            result = by_clip.get(name, {})
            base = result.get("independent") or result.get(SAMPLED)
            if base:
                return base
        return None

    for clip, result in by_clip.items():
        modes = {k: v for k, v in result.items() if k not in ("machine", "size")}
        base = independent(clip)
        for mode, entry in modes.items():
            s = entry["summary"]
            key = "warping_truth" if "warping_truth" in s else "warping"
            w = s.get(key)
            row = (f"| {clip} | {mode} | {entry['seconds'] / entry['frames']:.2f} | "
                   f"{entry['iterations'] / entry['frames']:.0f} | "
                   + (f"{later_evaluations(entry):.0f} | " if "evaluations" in entry else "| ")
                   + (f"{w['clip']:.5f} / {w['last_quarter']:.5f} | " if w else "| "))
            if base:
                bw = base["summary"].get(key)
                if w and bw and "pair" in base["series"] and "pair" not in entry["series"]:
                    mine = pair_means(entry, key, base["series"]["pair"])
                    row += f"{ratio(mine[0], bw['clip'])} / {ratio(mine[1], bw['last_quarter'])} | "
                elif w and bw and ("pair" in entry["series"]) == ("pair" in base["series"]):
                    row += (f"{ratio(w['clip'], bw['clip'])} / "
                            f"{ratio(w['last_quarter'], bw['last_quarter'])} | ")
                else:
                    row += "| "
                row += ratios(entry, base) + " | "
            else:
                row += "| | | "
            row += f"{entry['drift']:.2f} |" if entry.get("drift") is not None else " |"
            if base and "lossless" in entry and "lossless" in base:
                row += " " + ratios(entry["lossless"], base["lossless"]) + " |"
            else:
                row += " | |"
            lines.append(row)
    (RESULTS / "video_quality.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
