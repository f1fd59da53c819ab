"""Command line: argparse builds frozen parameters, then calls the library."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from torch import Tensor
from tqdm import tqdm

from .color import COLOR_MODES
from .config import CONTENT_LAYERS, STYLE_LAYERS, StyleParams
from .device import PRECISIONS
from .engine import Region
from .errors import UserError
from .render import RenderOptions
from .still import StyleSpec
from .vgg import LAYER_NAMES

DEMO_CONTENT = "skimage:chelsea"
DEMO_STYLE = "skimage:immunohistochemistry"
# A sketch is mostly white paper: a weak content loss lets the reference's colours in.
COLORIZE_CONTENT_WEIGHT = 0.2


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be a number, not {text}") from exc
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text}")
    return value


def _non_negative(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not {text}")
    return value


def _positive(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, not {text}")
    return value


def _fraction(text: str) -> float:
    value = _finite(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _crf(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 51:
        raise argparse.ArgumentTypeError(f"must be an H.264 quality from 0 to 51, not {text}")
    return value


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(_non_negative(v) for v in text.split(","))
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise argparse.ArgumentTypeError(
            f"expected numbers >= 0 separated by commas: {text}") from exc


def _layers(text: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in text.split(",") if v.strip())
    for name in names:
        if name not in LAYER_NAMES:
            raise argparse.ArgumentTypeError(
                f"unknown VGG-19 layer {name!r} (e.g. relu1_1 ... relu5_4)")
    return names


def add_style_options(parser: argparse.ArgumentParser, *, size: int) -> None:
    """Options shared by every command that stylizes (images, videos, batch jobs)."""
    d = StyleParams()
    g = parser.add_argument_group("style transfer")
    g.add_argument("--style", action="append", default=[], metavar="IMAGE",
                   help="style picture; repeat to blend several styles")
    g.add_argument("--style-weights", type=_floats, metavar="W1,W2",
                   help="blend weights of the --style pictures (default: equal)")
    g.add_argument("--size", type=_positive_int, default=size,
                   help=f"longest side of the output in pixels (default {size})")
    g.add_argument("--iterations", type=_positive_int, default=d.iterations,
                   help="optimizer iterations per scale (default %(default)s)")
    g.add_argument("--seed", type=int, default=d.seed, help="random seed (noise init)")
    g.add_argument("--content-weight", type=_non_negative, default=d.content_weight,
                   help="weight of the content loss (default %(default)g)")
    g.add_argument("--style-weight", type=_non_negative, default=d.style_weight,
                   help=f"weight of the style loss (default {d.style_weight:g}); "
                        "higher = more style")
    g.add_argument("--tv-weight", type=_non_negative, default=d.tv_weight,
                   help=f"weight of the total-variation smoothing (default {d.tv_weight:g})")
    g.add_argument("--content-layers", type=_layers, default=CONTENT_LAYERS,
                   help=f"VGG layers for the content loss (default {','.join(CONTENT_LAYERS)})")
    g.add_argument("--style-layers", type=_layers, default=STYLE_LAYERS,
                   help=f"VGG layers for the style loss (default {','.join(STYLE_LAYERS)})")
    g.add_argument("--style-layer-weights", type=_floats, metavar="W1,W2,...",
                   help="relative weight of each style layer (default: equal)")
    g.add_argument("--style-scale", type=_positive, default=d.style_scale,
                   help="size of the style picture relative to the output (default 1.0); "
                        "smaller = finer brush strokes")
    g.add_argument("--pooling", choices=("avg", "max"), default=d.pooling,
                   help="VGG pooling (default avg, as in Gatys et al.)")
    g.add_argument("--optimizer", choices=("lbfgs", "adam"), default=d.optimizer,
                   help="optimizer (default lbfgs)")
    g.add_argument("--lr", type=_positive,
                   help="learning rate (default 1.0 for lbfgs, 0.02 for adam)")
    g.add_argument("--tolerance", type=_non_negative, default=d.tolerance,
                   help="stop a scale early when the loss improves by less than this fraction "
                        f"per iteration (default {d.tolerance:g}; 0 = never)")
    g.add_argument("--init", default=d.init,
                   help="start from 'content' (default), 'noise' or an image file")
    g.add_argument("--scales", type=_positive_int,
                   help="coarse-to-fine levels, each twice the size of the previous "
                        "(default: automatic, down to about 256 px)")
    g.add_argument("--preserve-colors", choices=COLOR_MODES, default=d.preserve_colors,
                   help="keep the content's colours: 'luminance' (transfer luminance only) or "
                        "'histogram' (re-colour the style like the content); default none")
    g.add_argument("--device", default="auto",
                   help="torch device: auto (default: CUDA if available), cpu, cuda, cuda:N, mps")
    g.add_argument("--precision", choices=PRECISIONS, default=d.precision,
                   help="VGG arithmetic: auto (default: bf16 on CUDA and on CPUs with AMX, "
                        "else fp32), fp32 or bf16; losses are always fp32")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def params_from_args(args: argparse.Namespace) -> StyleParams:
    """The frozen parameters named by the parsed options."""
    if args.style_layer_weights and len(args.style_layer_weights) != len(args.style_layers):
        raise UserError(f"--style-layer-weights has {len(args.style_layer_weights)} values for "
                        f"{len(args.style_layers)} style layers")
    if args.style_scale <= 0:
        raise UserError("--style-scale must be > 0")
    init = args.init
    if init not in ("content", "noise") and not Path(init).is_file():
        raise UserError(f"--init must be 'content', 'noise' or an image file; not found: {init}")
    return StyleParams(
        content_layers=args.content_layers, style_layers=args.style_layers,
        style_layer_weights=args.style_layer_weights, content_weight=args.content_weight,
        style_weight=args.style_weight, tv_weight=args.tv_weight, pooling=args.pooling,
        optimizer=args.optimizer, learning_rate=args.lr, iterations=args.iterations,
        tolerance=args.tolerance, init=init, size=args.size, scales=args.scales,
        style_scale=args.style_scale, preserve_colors=args.preserve_colors, seed=args.seed,
        precision=args.precision,
    )


def style_specs(args: argparse.Namespace) -> list[StyleSpec]:
    """The --style files with their --style-weights."""
    weights = args.style_weights or (1.0,) * len(args.style)
    if len(weights) != len(args.style):
        raise UserError(f"--style-weights has {len(weights)} values for {len(args.style)} styles")
    return [StyleSpec(path, w) for path, w in zip(args.style, weights, strict=True)]


class IterationBar:
    """tqdm bar over optimizer iterations with the current loss, opened at the first
    iteration (so that input errors print no empty bar); writes snapshots."""

    def __init__(self, total: int, *, quiet: bool, desc: str,
                 snapshot: Callable[[int, Tensor], None] | None = None) -> None:
        self.total, self.quiet, self.desc = total, quiet, desc
        self.bar: tqdm | None = None
        self.snapshot = snapshot

    def __call__(self, step: int, loss: float, image: Tensor) -> None:
        if self.bar is None:
            self.bar = tqdm(total=self.total, desc=self.desc, unit="it", disable=self.quiet,
                            dynamic_ncols=True)
        self.bar.total = max(self.bar.total, step + 1)
        self.bar.n = step + 1
        self.bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        self.bar.refresh()
        if self.snapshot is not None:
            self.snapshot(step, image)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _cmd_stylize(args: argparse.Namespace) -> int:
    from .device import resolve_device
    from .imageio import to_array, write_image
    from .regions import build_regions, preview_sheet
    from .still import stylize_still

    params = params_from_args(args)
    device = resolve_device(args.device)
    output = Path(args.output)
    labels: list[np.ndarray | None] = [None]

    def regions_for(content: np.ndarray) -> list[Region]:
        regions, labels[0] = build_regions(
            content, params, style_specs(args), masks=args.mask, rules=args.region,
            style_masks=args.style_mask,
            segments=args.segment, labels_out=output.with_suffix(".regions.png"))
        return regions

    snapshot = None
    if args.snapshot_every:
        stem = output.with_suffix("")

        def snapshot(step: int, image: Tensor) -> None:
            if (step + 1) % args.snapshot_every == 0:
                write_image(f"{stem}.iter{step + 1:05d}.png", to_array(image))

    bar = IterationBar(params.iterations * len(params.scale_sizes()), quiet=args.quiet,
                       desc="stylize", snapshot=snapshot)
    try:
        content, result = stylize_still(args.content, regions_for, output, params, device,
                                        on_step=bar)
    finally:
        bar.close()
    print(f"wrote {output}")
    if args.preview:
        sheet = preview_sheet(content, labels[0] if labels[0] is not None else
                              np.zeros(content.shape[:2], np.int32), result)
        write_image(output.with_suffix(".preview.png"), sheet)
        print(f"wrote {output.with_suffix('.preview.png')}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    args.content, args.style = DEMO_CONTENT, [DEMO_STYLE]
    return _cmd_stylize(args)


class FrameBar:
    """tqdm bar over video frames showing iterations per second and the current loss."""

    def __init__(self, *, quiet: bool, desc: str = "render") -> None:
        self.quiet, self.desc = quiet, desc
        self.bar: tqdm | None = None
        self.iterations = 0
        self.started = time.monotonic()

    def step(self, _step: int, _loss: float, _image: Tensor) -> None:
        self.iterations += 1

    def frame(self, index: int, total: int, loss: float) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, initial=index, desc=self.desc, unit="frame",
                            disable=self.quiet, dynamic_ncols=True)
        self.bar.total = max(self.bar.total, total)
        rate = self.iterations / max(time.monotonic() - self.started, 1e-9)
        self.bar.set_postfix({"it/s": f"{rate:.1f}", "loss": f"{loss:.4g}"}, refresh=False)
        self.bar.update(index + 1 - self.bar.n)

    def start_pass(self, pass_index: int) -> None:
        """A new bar for pass ``pass_index`` of a multi-pass render."""
        self.close()
        self.bar = None
        self.desc = f"pass {pass_index}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _cmd_render(args: argparse.Namespace) -> int:
    from .device import resolve_device
    from .engine import Stylizer
    from .render import RenderOptions, render_video
    from .video_regions import regions_source

    params = params_from_args(args)
    options = RenderOptions(
        first_iterations=args.first_iterations, temporal_weight=args.temporal_weight,
        long_term=args.long_term, passes=args.passes, temporal_from_pass=args.temporal_from_pass,
        blend_weight=args.blend_weight, flow_method=args.flow, flow_preset=args.flow_preset,
        cut_threshold=args.cut_threshold, start=args.start, duration=args.duration,
        folder_fps=args.fps, crf=args.crf)
    specs = style_specs(args)
    if args.workers or args.ray_address:
        if args.passes > 1:
            raise UserError("--passes > 1 is not supported with --workers yet")
        return _render_on_ray(args, params, options, specs)
    device = resolve_device(args.device)
    output = Path(args.output)
    stylizer = Stylizer(params, device)
    regions_for, extra = regions_source(args, specs, params)
    bar = FrameBar(quiet=args.quiet)
    try:
        summary = render_video(
            args.input, output, [s.path for s in specs], stylizer,
            options, regions_for=regions_for,
            work_dir=Path(args.work_dir) if args.work_dir else None, manifest_extra=extra,
            on_frame=bar.frame, on_step=bar.step,
            on_pass=bar.start_pass if options.passes > 1 else None)
    finally:
        bar.close()
    cuts = f", new shots at frames {summary.cuts}" if summary.cuts else ""
    print(f"wrote {output}: {summary.frames} frames ({summary.rendered} rendered now) "
          f"in {summary.seconds:.1f} s{cuts}")
    return 0


class ClusterBar:
    """tqdm bar over the frames of every video of a distributed render."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: tqdm | None = None

    def __call__(self, frames: int, total: int, videos: int, videos_total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, desc="frames", unit="frame", disable=self.quiet,
                            dynamic_ncols=True)
        self.bar.total = max(total, frames)
        self.bar.set_postfix(videos=f"{videos}/{videos_total}", refresh=False)
        self.bar.update(frames - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _render_on_ray(args: argparse.Namespace, params: StyleParams, options: RenderOptions,
                   specs: list[StyleSpec]) -> int:
    from .distributed import VideoJob, render_many

    if args.mask or args.segment:
        raise UserError("regions (--mask, --segment) are not supported with --workers yet")
    output = Path(args.output)
    job = VideoJob(Path(args.input), output, tuple(specs),
                   Path(args.work_dir) if args.work_dir else None)
    bar = ClusterBar(quiet=args.quiet)
    try:
        [outcome] = render_many([job], params, options, workers=args.workers,
                                chunk_frames=args.chunk_frames, blend=args.blend,
                                address=args.ray_address, on_progress=bar)
    finally:
        bar.close()
    if outcome.state != "done":
        raise UserError(outcome.reason)
    print(f"wrote {output}: {outcome.frames} frames on {args.workers or 'all'} Ray workers")
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from .distributed import VideoJob, render_many
    from .jobs import JobManifest, load_job, style_specs_for

    spec = load_job(args.job)
    try:
        spec.output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output_dir {spec.output_dir}: {exc.strerror}") from exc
    manifest = JobManifest(spec)
    manifest.save()
    todo = [item for item in spec.inputs if not manifest.is_done(item)]
    if not todo:
        print(f"nothing to do: all {len(spec.inputs)} inputs are done")
        print(manifest.summary())
        return 0
    jobs = [VideoJob(item.source, item.output, style_specs_for(item),
                     spec.output_dir / ".work" / item.output.name) for item in todo]
    by_source = {job.source: job for job in jobs}
    bar = ClusterBar(quiet=args.quiet)
    try:
        outcomes = render_many(
            jobs, spec.params, spec.options, workers=args.workers or spec.workers,
            chunk_frames=spec.chunk_frames, blend=spec.blend,
            address=args.ray_address or spec.address, on_progress=bar,
            on_state=lambda job, state, reason: manifest.set(job.source, state, reason))
    finally:
        bar.close()
    assert set(by_source) == {o.job.source for o in outcomes}
    print(manifest.summary())
    failed = [o for o in outcomes if o.state != "done"]
    print(f"{len(outcomes) - len(failed)} done, {len(failed)} failed")
    return 1 if failed else 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import LossMeter, evaluate_clip, plot_report, read_truth
    from .imageio import read_image

    truth = read_truth(args.flow_truth) if args.flow_truth else None
    losses = LossMeter(read_image(args.style)) if args.style else None
    report = evaluate_clip(args.video, args.reference, size=args.size, start=args.start,
                           duration=args.duration, truth=truth, baseline=args.baseline,
                           losses=losses)
    series = report.series()
    names = list(series)
    if args.per_frame:
        print("frame " + " ".join(f"{n:>19}" for n in names))
        for index in range(len(report.warping)):
            print(f"{index:5d} " + " ".join(f"{series[n][index]:19.6g}" for n in names))
    print(f"{'':19} {'clip':>12} {'last quarter':>12}")
    for name, values in report.summary().items():
        print(f"{name:19} {values['clip']:12.6g} {values['last_quarter']:12.6g}")
    sharp = report.summary()["sharpness"]
    ref = report.summary()["reference_sharpness"]
    print(f"sharpness ratio (stylized / {'baseline' if args.baseline else 'original'}): "
          f"{sharp['clip'] / ref['clip']:.3f} over the clip, "
          f"{sharp['last_quarter'] / ref['last_quarter']:.3f} in the last quarter")
    if args.plot:
        plot_report(report, args.plot, title=Path(args.video).name)
        print(f"wrote {args.plot}")
    return 0


def _cmd_colorize(args: argparse.Namespace) -> int:
    from .colorize import colorize_regions, flat_colours, overlay_lines
    from .device import resolve_device
    from .engine import Stylizer
    from .fsutil import check_writable
    from .imageio import read_image, resize_longest, to_tensor, write_image
    from .regions import preview_sheet
    from .still import finish

    args.style = args.style or []
    params = params_from_args(args)
    output = Path(args.output)
    check_writable(output)
    sketch = resize_longest(read_image(args.sketch), params.size)
    reference = read_image(args.reference)
    regions, labels = colorize_regions(sketch, reference, seed=params.seed)
    stylizer = Stylizer(params, resolve_device(args.device))
    bar = IterationBar(params.iterations * len(params.scale_sizes()), quiet=args.quiet,
                       desc="colorize")
    init = to_tensor(flat_colours(regions, sketch.shape[:2]))
    try:
        result = stylizer.stylize(sketch, regions, init=init, on_step=bar)
    finally:
        bar.close()
    image = overlay_lines(finish(result.image, sketch, params), sketch)
    write_image(output, image)
    print(f"wrote {output}")
    if args.preview:
        write_image(output.with_suffix(".preview.png"), preview_sheet(sketch, labels, image))
    return 0


def _add_region_options(parser: argparse.ArgumentParser, *, video: bool = False) -> None:
    g = parser.add_argument_group("regions (different styles in different parts)")
    g.add_argument("--mask", action="append", default=[], metavar="IMAGE",
                   help="label image (integer labels or colour-coded regions); or repeat with "
                        "one binary mask per region (labels 1, 2, ... in order)" +
                        ("; for videos also a mask video or a folder of per-frame label "
                         "images, or one image propagated along the optical flow" if video
                         else ""))
    g.add_argument("--region", action="append", default=[], metavar="LABEL=STYLE",
                   help="style of a region: LABEL=style.jpg, LABEL=style.jpg@0.5 (weight), or "
                        "LABEL=keep (leave unstylized); LABEL=* for every other label")
    g.add_argument("--style-mask", action="append", default=[], metavar="LABEL=MASK",
                   help="take the style of region LABEL only from the white part of MASK "
                        "(a mask of that region's style picture), e.g. sky from sky")
    g.add_argument("--segment", type=_positive_int, metavar="N",
                   help="no mask? split the content into N regions automatically (SLIC)")
    if not video:
        g.add_argument("--preview", action="store_true",
                       help="also write OUT.preview.png: content, regions, result side by side")


def build_parser() -> argparse.ArgumentParser:
    """The full command-line parser."""
    parser = _Parser(prog="stylevid", description=(
        "Neural style transfer for images and videos (Gatys et al. optimisation with VGG-19, "
        "temporal consistency after Ruder et al.)."))
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("stylize", help="stylize one image",
                       description="Stylize CONTENT with one or more --style pictures.")
    p.add_argument("content", help="content image (or skimage:NAME for a skimage.data picture)")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg)")
    p.add_argument("--snapshot-every", type=_positive_int, metavar="N",
                   help="also write OUT.iterNNNNN.png every N iterations")
    add_style_options(p, size=StyleParams().size)
    _add_region_options(p)
    p.set_defaults(run=_cmd_stylize)

    p = sub.add_parser("demo", help="stylize a bundled picture (skimage's cat) to see a result",
                       description="Stylize skimage's 'chelsea' with its immunohistochemistry "
                                   "picture as the style: no files needed.")
    p.add_argument("-o", "--output", default="demo.png", help="output image (default demo.png)")
    p.add_argument("--snapshot-every", type=_positive_int, help=argparse.SUPPRESS)
    add_style_options(p, size=256)
    _add_region_options(p)
    p.set_defaults(run=_cmd_demo, iterations=200)

    p = sub.add_parser("render", help="stylize a video with temporal consistency",
                       description="Stylize a video (or a folder of numbered frames) frame by "
                                   "frame; each frame starts from the previous stylized frame "
                                   "warped by optical flow, with a temporal loss (Ruder et al.). "
                                   "Frame rate and audio are kept; re-running resumes.")
    p.add_argument("input", help="video file, or folder of numbered pictures")
    p.add_argument("-o", "--output", required=True,
                   help="output video (.mp4, .mkv, .mov) or a folder for PNG frames")
    add_style_options(p, size=512)
    p.set_defaults(iterations=150)
    v = p.add_argument_group("video")
    v.add_argument("--first-iterations", type=_positive_int,
                   default=RenderOptions.first_iterations,
                   help="iterations for the first frame of each shot (default %(default)s); "
                        "--iterations applies to the following frames (default 150)")
    v.add_argument("--temporal-weight", type=_non_negative, default=RenderOptions.temporal_weight,
                   help="weight of the temporal loss (default %(default)g); 0 = stylize every "
                        "frame independently")
    v.add_argument("--long-term", action="store_true",
                   help="temporal loss against frames 1, 2 and 4 back (Ruder's long-term "
                        "consistency)")
    v.add_argument("--passes", type=_positive_int, default=RenderOptions.passes,
                   help="Ruder's multi-pass algorithm: after the first pass, alternate "
                        "backward and forward passes of --iterations per frame, each frame "
                        "starting from its last result blended with its warped neighbour "
                        "(default %(default)s; more passes can be added to a finished render)")
    v.add_argument("--temporal-from-pass", type=_positive_int,
                   default=RenderOptions.temporal_from_pass, metavar="K",
                   help="use the temporal loss from pass K on (Ruder's use_temporalLoss_after; "
                        "default %(default)s)")
    v.add_argument("--blend-weight", type=_non_negative, default=RenderOptions.blend_weight,
                   help="weight of the warped neighbour in a later pass's starting image "
                        "(Ruder's blendWeight; default %(default)g: an equal blend)")
    v.add_argument("--flow", choices=("dis", "farneback"), default="dis",
                   help="OpenCV optical flow (default dis)")
    v.add_argument("--flow-preset", choices=("ultrafast", "fast", "medium"), default="medium",
                   help="DIS preset (default medium)")
    v.add_argument("--cut-threshold", type=_fraction, default=RenderOptions.cut_threshold,
                   help="a frame whose consistent-motion fraction is below this starts a new "
                        "shot (default %(default)g)")
    v.add_argument("--start", type=_non_negative, help="start at this second")
    v.add_argument("--duration", type=_positive, help="render this many seconds")
    v.add_argument("--fps", type=_positive, default=25.0,
                   help="frame rate of a frame-folder input (default 25)")
    v.add_argument("--crf", type=_crf, default=18,
                   help="H.264 quality from 0 to 51, lower = better (default 18)")
    v.add_argument("--work-dir", help="folder for finished frames and flow (default: "
                                      "'.OUTPUT.stylevid' beside the output)")
    _add_region_options(p, video=True)
    r = p.add_argument_group("parallel rendering on Ray")
    r.add_argument("--workers", type=_positive_int,
                   help="split the video into chunks rendered by this many Ray workers "
                        "(one per GPU, or CPU workers); default: render in this process")
    r.add_argument("--ray-address", help="Ray cluster to use, e.g. 'auto' (default: start a "
                                         "local Ray instance)")
    r.add_argument("--chunk-frames", type=_positive_int, default=48,
                   help="frames per chunk within a shot (default 48)")
    r.add_argument("--blend", type=_positive_int, default=8,
                   help="frames before a chunk seam that are pulled towards the next chunk's "
                        "first frame, so the seam does not show (default 8)")
    p.set_defaults(run=_cmd_render)

    p = sub.add_parser("batch", help="render every video of a job file on Ray",
                       description="Render the inputs of a YAML job (paths and globs, styles, "
                                   "output_dir, params) across Ray workers. A manifest in "
                                   "output_dir records each input's state; running the job "
                                   "again skips what is done and resumes what is partial.")
    p.add_argument("job", help="job file (YAML), see jobs/ for examples")
    p.add_argument("--workers", type=_positive_int, help="Ray workers (default: one per GPU, "
                                                         "else one per CPU)")
    p.add_argument("--ray-address", help="Ray cluster address (default: local instance)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_cmd_batch)

    p = sub.add_parser("colorize", help="colour a line drawing from a reference picture",
                       description="Segment the sketch and the reference into foreground and "
                                   "background, match the regions, transfer the reference's "
                                   "style region to region, then draw the sketch's lines on top.")
    p.add_argument("sketch", help="line drawing (dark lines on a light background)")
    p.add_argument("--reference", required=True, help="picture whose colours and texture to use")
    p.add_argument("-o", "--output", required=True, help="output image")
    p.add_argument("--preview", action="store_true",
                   help="also write OUT.preview.png: sketch, regions, result")
    add_style_options(p, size=512)
    p.set_defaults(content_weight=COLORIZE_CONTENT_WEIGHT, run=_cmd_colorize)

    p = sub.add_parser("eval", help="measure the quality of a stylized video along the clip",
                       description="Per frame and over the clip (and its last quarter): warping "
                                   "error (Lai et al. 2018: masked mean squared difference "
                                   "between each stylized frame and the previous one warped by "
                                   "the optical flow of the original, pixels in [0, 1]), the same "
                                   "under ground-truth flow, sharpness (Laplacian variance) "
                                   "against the original or a baseline render, and style and "
                                   "content loss.")
    p.add_argument("video", help="stylized video or frame folder")
    p.add_argument("--reference", required=True, help="the original video (for the flow)")
    p.add_argument("--size", type=_positive_int, help="compare at this longest side")
    p.add_argument("--start", type=_non_negative, help="start of the original that was rendered")
    p.add_argument("--duration", type=_positive, help="length of the original rendered")
    p.add_argument("--flow-truth", metavar="FLO",
                   help="ground-truth forward flow: a .flo file or a folder of them (frame i "
                        "to i+1, in name order)")
    p.add_argument("--baseline", metavar="VIDEO",
                   help="compare sharpness with this render (e.g. --temporal-weight 0) "
                        "instead of the original")
    p.add_argument("--style", metavar="IMAGE", help="also report style and content loss")
    p.add_argument("--plot", metavar="PNG", help="write the per-frame curves to this picture")
    p.add_argument("--per-frame", action="store_true", help="print every frame's values")
    p.set_defaults(run=_cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stylevid`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or bool(os.environ.get("STYLEVID_DEBUG"))
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args))
    except UserError as exc:
        if debug:
            raise
        print(f"stylevid: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stylevid: interrupted (finished work is kept; run the same command to resume)",
              file=sys.stderr)
        return 130
