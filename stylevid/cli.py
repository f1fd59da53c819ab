"""Command line: argparse builds frozen parameters, then calls the library."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .config import (
    COLOR_MODES,
    CONTENT_LAYERS,
    FLOW_METHODS,
    FLOW_PRESETS,
    OPTIMIZERS,
    POOLINGS,
    PRECISIONS,
    STYLE_LAYERS,
    VIDEO_ITERATIONS,
    VIDEO_SIZE,
    ConfigError,
    RayOptions,
    RegionSpec,
    RenderOptions,
    StyleParams,
    StyleSpec,
)
from .errors import UserError

if TYPE_CHECKING:  # the engine (and torch) load only when a command runs
    import torch
    from torch import Tensor

    from .progress import IterationBar


DEMO_CONTENT = "skimage:chelsea"
DEMO_STYLE = "builtin:swirls"  # stylevid.painting.brush_painting
# A sketch is mostly white paper: a weak content loss lets the reference's colours in.
COLORIZE_CONTENT_WEIGHT = 0.2
_REPLACED = " (replaced the earlier file)"
# Options whose name is not the setting's field name with dashes.
_OPTION_NAMES = {"learning_rate": "--lr", "flow_method": "--flow"}


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def option_name(setting: str) -> str:
    """The command-line option of a settings field (``style_weight`` -> ``--style-weight``)."""
    return _OPTION_NAMES.get(setting, "--" + setting.replace("_", "-"))


def _positive_int(text: str) -> int:
    """A whole number > 0 (anything else: the same one-line message)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def _seconds(text: str) -> float:
    """A time in seconds: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, not {text}")
    return value


def _list(text: str) -> tuple[str, ...]:
    """Comma-separated values; the settings check each one."""
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_style_options(parser: argparse.ArgumentParser, *, size: int) -> None:
    """Options shared by every command that stylizes (images, videos, batch jobs)."""
    d = StyleParams()
    g = parser.add_argument_group("style transfer")
    g.add_argument("--style", action="append", default=[], metavar="IMAGE",
                   help="style picture; repeat to blend several styles")
    g.add_argument("--style-weights", type=_list, metavar="W1,W2",
                   help="blend weights of the --style pictures (default: equal)")
    g.add_argument("--size", default=size,
                   help=f"longest side of the output in pixels (default {size})")
    g.add_argument("--iterations", default=d.iterations,
                   help="optimizer iterations per scale (default %(default)s)")
    g.add_argument("--seed", default=d.seed, help="random seed (noise init)")
    g.add_argument("--content-weight", default=d.content_weight,
                   help="weight of the content loss (default %(default)g)")
    g.add_argument("--style-weight", default=d.style_weight,
                   help=f"weight of the style loss (default {d.style_weight:g}); "
                        "higher = more style")
    g.add_argument("--tv-weight", default=d.tv_weight,
                   help=f"weight of the total-variation smoothing (default {d.tv_weight:g})")
    g.add_argument("--content-layers", type=_list, default=CONTENT_LAYERS,
                   help=f"VGG layers for the content loss (default {','.join(CONTENT_LAYERS)})")
    g.add_argument("--style-layers", type=_list, default=STYLE_LAYERS,
                   help=f"VGG layers for the style loss (default {','.join(STYLE_LAYERS)})")
    g.add_argument("--style-layer-weights", type=_list, metavar="W1,W2,...",
                   help="relative weight of each style layer (default: equal)")
    g.add_argument("--style-scale", default=d.style_scale,
                   help="size of the style picture relative to the output (default 1.0); "
                        "smaller = finer brush strokes")
    g.add_argument("--pooling", choices=POOLINGS, default=d.pooling,
                   help="VGG pooling (default avg, as in Gatys et al.)")
    g.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer,
                   help="optimizer (default lbfgs)")
    g.add_argument("--lr",
                   help="learning rate (default 1.0 for lbfgs, 0.02 for adam)")
    g.add_argument("--tolerance", default=d.tolerance,
                   help="stop a scale early when the loss improves by less than this fraction "
                        f"per evaluation of the loss (default {d.tolerance:g}; 0 = never)")
    g.add_argument("--init", default=d.init,
                   help="start from 'content' (default), 'noise' or an image file")
    g.add_argument("--scales",
                   help="coarse-to-fine levels, each twice the size of the previous "
                        "(default: automatic, down to about 256 px)")
    g.add_argument("--preserve-colors", choices=COLOR_MODES, default=d.preserve_colors,
                   help="keep the content's colours: 'luminance' (transfer luminance only) or "
                        "'histogram' (re-colour the style like the content); default none")
    g.add_argument("--device", default="auto",
                   help="torch device: auto (default: CUDA if available), cpu, cuda, cuda:N, mps")
    g.add_argument("--precision", choices=PRECISIONS, default=d.precision,
                   help="VGG arithmetic: auto (default: bf16 on CUDA and on CPUs with AMX or "
                        "AVX512-BF16, "
                        "else fp32), fp32 or bf16; losses are always fp32")
    g.add_argument("--threads", type=_positive_int,
                   help="CPU threads (default: every core this process may use; results "
                        "depend on it)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def params_from_args(args: argparse.Namespace) -> StyleParams:
    """The checked image settings named by the parsed options."""
    return StyleParams(
        content_layers=args.content_layers, style_layers=args.style_layers,
        style_layer_weights=args.style_layer_weights, content_weight=args.content_weight,
        style_weight=args.style_weight, tv_weight=args.tv_weight, pooling=args.pooling,
        optimizer=args.optimizer, learning_rate=args.lr, iterations=args.iterations,
        tolerance=args.tolerance, init=args.init, size=args.size, scales=args.scales,
        style_scale=args.style_scale, preserve_colors=args.preserve_colors, seed=args.seed,
        precision=args.precision,
    )


def render_options_from_args(args: argparse.Namespace) -> RenderOptions:
    """The checked video settings named by the parsed options."""
    return RenderOptions(
        first_iterations=args.first_iterations, temporal_weight=args.temporal_weight,
        temporal_fine_weight=args.temporal_fine_weight,
        pass_fine_weight=args.pass_fine_weight, long_term=args.long_term,
        lookahead=args.lookahead, passes=args.passes, temporal_from_pass=args.temporal_from_pass,
        blend_weight=args.blend_weight, flow_method=args.flow, flow_preset=args.flow_preset,
        cut_threshold=args.cut_threshold, start=args.start, duration=args.duration,
        fps=args.fps, crf=args.crf, pix_fmt=args.pix_fmt)


def region_spec_from_args(args: argparse.Namespace) -> RegionSpec:
    """The --mask / --region / --style-mask / --segment choices."""
    return RegionSpec(masks=tuple(args.mask), rules=tuple(args.region),
                      style_masks=tuple(args.style_mask), segments=args.segment)


def style_specs(args: argparse.Namespace) -> list[StyleSpec]:
    """The --style files with their --style-weights."""
    weights = args.style_weights or (1.0,) * len(args.style)
    if len(weights) != len(args.style):
        raise UserError(f"--style-weights has {len(weights)} values for {len(args.style)} styles")
    return [StyleSpec(path, w) for path, w in zip(args.style, weights, strict=True)]


def _device(args: argparse.Namespace) -> torch.device:
    """The torch device of ``--device``, with CPU threads set from ``--threads``."""
    from .device import choose_threads, resolve_device

    device = resolve_device(args.device)
    if device.type == "cpu":
        choose_threads(args.threads)
    return device


@contextlib.contextmanager
def _other_load_note(args: argparse.Namespace, device: torch.device) -> Iterator[None]:
    """After work that ended well on the CPU with the default threads, one line on stderr
    if other processes kept some of those cores busy meanwhile."""
    import torch

    from .device import OtherLoad

    load = OtherLoad() if device.type == "cpu" and args.threads is None \
        and not args.quiet else None
    yield
    note = load.note(torch.get_num_threads()) if load is not None else None
    if note:
        print(note, file=sys.stderr)


def _iteration_bar(params: StyleParams, *, iterations: int, quiet: bool, desc: str,
                   snapshot: Callable[[int, Tensor], None] | None = None) -> IterationBar:
    """The bar over the iterations of one picture's levels (see progress.IterationBar)."""
    from .progress import IterationBar

    return IterationBar(iterations=iterations, sizes=params.scale_sizes(),
                        tolerance=params.level_tolerance(final=True),
                        coarse_tolerance=params.level_tolerance(final=False), quiet=quiet,
                        desc=desc, snapshot=snapshot)


def _check_inputs(pictures: Sequence[str], video: str | None = None) -> None:
    """A missing or unreadable input gets its one line before torch loads (3 s), not after."""
    from .fsutil import check_readable
    from .imageio import check_image_source

    for source in pictures:
        check_image_source(source)
    if video is not None and not Path(video).is_dir():
        check_readable(Path(video), "video")


def _cmd_stylize(args: argparse.Namespace) -> int:
    params = params_from_args(args)
    _check_inputs([args.content, *args.style])
    import numpy as np

    from .imageio import to_array, write_image
    from .regions import preview_sheet
    from .still import stylize_still

    device = _device(args)
    output = Path(args.output)
    snapshot = None
    if args.snapshot_every:
        stem = output.with_suffix("")

        def snapshot(step: int, image: Tensor) -> None:
            if (step + 1) % args.snapshot_every == 0:
                write_image(f"{stem}.iter{step + 1:05d}.png", to_array(image))

    bar = _iteration_bar(params, iterations=params.iterations, quiet=args.quiet,
                         desc="stylize", snapshot=snapshot)
    replaced = output.is_file()
    try:
        with _other_load_note(args, device):
            result = stylize_still(args.content, style_specs(args), output, params, device,
                                   regions=region_spec_from_args(args), on_step=bar)
    finally:
        bar.close()
    print(f"wrote {output}{_REPLACED if replaced else ''}")
    if args.preview:
        labels = result.labels if result.labels is not None else \
            np.zeros(result.content.shape[:2], np.int32)
        write_image(output.with_suffix(".preview.png"),
                    preview_sheet(result.content, labels, result.image))
        print(f"wrote {output.with_suffix('.preview.png')}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    args.content, args.style = DEMO_CONTENT, [DEMO_STYLE]
    return _cmd_stylize(args)


def _cmd_render(args: argparse.Namespace) -> int:
    params = params_from_args(args)
    options = render_options_from_args(args)
    specs = style_specs(args)
    _check_inputs(args.style, video=args.input)
    from .api import render_video
    from .progress import FrameBar
    from .render import default_work_dir

    if args.workers or args.ray_address:
        return _render_on_ray(args, params, options, specs)
    device = _device(args)
    output = Path(args.output)
    replaced = output.is_file()
    bar = FrameBar(quiet=args.quiet, first_frame=_iteration_bar(
        params, iterations=options.first_iterations, quiet=args.quiet, desc="first frame"))
    try:
        with _other_load_note(args, device):
            summary = render_video(
                args.input, specs, output, params=params, options=options,
                regions=region_spec_from_args(args), work_dir=args.work_dir, device=device,
                on_frame=bar.frame, on_step=bar.step,
                on_pass=bar.start_pass if options.passes > 1 else None,
                on_encode=bar.encoding)
    finally:
        bar.close()
    cuts = f", new shots at frames {summary.cuts}" if summary.cuts else ""
    shared = "" if args.work_dir or summary.work_dir == default_work_dir(output) \
        else f", the frames of {summary.work_dir}"
    print(f"wrote {output}{_REPLACED if replaced else ''}: {_count(summary.frames, 'frame')} "
          f"({summary.rendered} rendered now{shared}) "
          f"in {summary.seconds:.1f} s{cuts}")
    return 0


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _say(line: str) -> None:
    print(line, flush=True)


def _render_on_ray(args: argparse.Namespace, params: StyleParams, options: RenderOptions,
                   specs: list[StyleSpec]) -> int:
    from .distributed import VideoJob, render_many
    from .progress import ClusterBar

    ray_options = RayOptions(workers=args.workers, chunk_frames=args.chunk_frames,
                             blend=args.blend, address=args.ray_address)
    output = Path(args.output)
    job = VideoJob(Path(args.input), output, tuple(specs),
                   Path(args.work_dir) if args.work_dir else None, region_spec_from_args(args))
    bar = ClusterBar(quiet=args.quiet)
    try:
        [outcome] = render_many([job], params, options, ray_options, on_progress=bar,
                                on_workers=_say)
    finally:
        bar.close()
    if outcome.state != "done":
        raise UserError(outcome.reason)
    print(f"wrote {output}: {_count(outcome.frames, 'frame')}")
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from .api import run_job
    from .progress import ClusterBar

    bar = ClusterBar(quiet=args.quiet)
    try:
        result = run_job(args.job, workers=args.workers, address=args.ray_address,
                         on_progress=bar, on_workers=_say)
    finally:
        bar.close()
    if not result.done + result.failed:
        print("nothing to do: every input is done")
    print(result.summary)
    print(f"{result.done} done, {result.failed} failed")
    return 1 if result.failed else 0


def _cmd_status(args: argparse.Namespace) -> int:
    from .jobs import job_status

    print(job_status(args.job))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import LossMeter, evaluate_clip, plot_report, read_truth
    from .fsutil import check_writable
    from .imageio import read_image

    if args.plot:
        plot = Path(args.plot)
        if plot.suffix.lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
            raise UserError(f"--plot {plot}: give a .png, .pdf, .svg or .jpg file name")
        check_writable(plot)
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
    args.style = args.style or []
    params = params_from_args(args)
    _check_inputs([args.sketch, args.reference, *args.style])
    from .colorize import colorize_regions, flat_colours, overlay_lines
    from .engine import Stylizer
    from .imageio import check_image_output, read_image, to_tensor, write_image
    from .regions import preview_sheet
    from .still import finish, load_at_size

    output = Path(args.output)
    check_image_output(output)
    replaced = output.is_file()
    device = _device(args)
    sketch = load_at_size(args.sketch, params, device)
    reference = read_image(args.reference)
    regions, labels = colorize_regions(sketch, reference, seed=params.seed)
    stylizer = Stylizer(params, device)
    bar = _iteration_bar(params, iterations=params.iterations, quiet=args.quiet,
                         desc="colorize")
    init = to_tensor(flat_colours(regions, sketch.shape[:2]))
    try:
        with _other_load_note(args, device):
            result = stylizer.stylize(sketch, regions, init=init, on_step=bar)
    finally:
        bar.close()
    image = overlay_lines(finish(result.image, sketch, params), sketch)
    write_image(output, image)
    print(f"wrote {output}{_REPLACED if replaced else ''}")
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
                       description="Stylize skimage's 'chelsea' with stylevid's procedural "
                                   "brush-stroke painting (builtin:swirls) as the style: no "
                                   "files needed.")
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
                   help="output video: H.264 in .mp4, .mkv, .mov or .m4v, VP9 in .webm, or an "
                        "animated .gif (no sound); or a folder for PNG frames")
    add_style_options(p, size=VIDEO_SIZE)
    p.set_defaults(iterations=VIDEO_ITERATIONS)
    v = p.add_argument_group("video")
    v.add_argument("--first-iterations",
                   default=RenderOptions.first_iterations,
                   help="iterations for a frame started afresh: the first of each shot, or "
                        "every frame with --temporal-weight 0 (default %(default)s); "
                        f"--iterations applies to the following frames (default "
                        f"{VIDEO_ITERATIONS})")
    v.add_argument("--temporal-weight", default=RenderOptions.temporal_weight,
                   help="weight of the temporal loss (default %(default)g); 0 = stylize every "
                        "frame independently")
    v.add_argument("--temporal-fine-weight", default=RenderOptions.temporal_fine_weight,
                   metavar="BETA",
                   help="how firmly the temporal loss holds the finest detail, 0-1 (default "
                        "%(default)g; 1 = Ruder's loss, which lets the blur of warping the "
                        "previous frame build up along the clip)")
    v.add_argument("--long-term", action="store_true",
                   help="temporal loss against frames 1, 2 and 4 back (Ruder's long-term "
                        "consistency)")
    v.add_argument("--lookahead", default=RenderOptions.lookahead, metavar="N",
                   help="every N frames, render the frame N ahead first and paint the pixels "
                        "the frames in between see for the first time from it; where the "
                        "camera has zoomed by 1.1x, paint it afresh and pull the frames "
                        "before it towards it (default %(default)s; 0 = off)")
    v.add_argument("--passes", default=RenderOptions.passes,
                   help="Ruder's multi-pass algorithm: after the first pass, alternate "
                        "backward and forward passes of --iterations per frame, each frame "
                        "starting from its last result blended with its warped neighbour "
                        "(default %(default)s; more passes can be added to a finished render)")
    v.add_argument("--temporal-from-pass",
                   default=RenderOptions.temporal_from_pass, metavar="K",
                   help="use the temporal loss from pass K on (Ruder's use_temporalLoss_after; "
                        "default %(default)s)")
    v.add_argument("--blend-weight", default=RenderOptions.blend_weight,
                   help="weight of the warped neighbour in a later pass's starting image "
                        "(Ruder's blendWeight; default %(default)g: an equal blend)")
    v.add_argument("--pass-fine-weight", default=RenderOptions.pass_fine_weight,
                   metavar="BETA",
                   help="--temporal-fine-weight in passes after the first (default %(default)g)")
    v.add_argument("--flow", choices=FLOW_METHODS, default=RenderOptions.flow_method,
                   help="OpenCV optical flow (default dis)")
    v.add_argument("--flow-preset", choices=FLOW_PRESETS, default=RenderOptions.flow_preset,
                   help="DIS preset: OpenCV's ultrafast, fast, medium, or fine (default: medium "
                        "refined down to full resolution)")
    v.add_argument("--cut-threshold", default=RenderOptions.cut_threshold,
                   help="a frame whose consistent-motion fraction is below this starts a new "
                        "shot (default %(default)g)")
    v.add_argument("--start", help="start at this second")
    v.add_argument("--duration", help="render this many seconds")
    v.add_argument("--fps", help="frames a second: of a frame-folder input (default 25), or "
                                 "to render a video at (default: its own; a lower rate "
                                 "renders fewer frames, the audio kept in sync)")
    v.add_argument("--crf", default=RenderOptions.crf,
                   help="quality from 0 to 51 on x264's scale, lower = better (default 18; a .webm "
                        "gets VP9's crf of the same quality; not for a .gif)")
    v.add_argument("--pix-fmt", default=RenderOptions.pix_fmt,
                   help="H.264 chroma: yuv420p (default; plays everywhere) or yuv444p (the "
                        "strokes' colour at full resolution; few players decode it)")
    v.add_argument("--work-dir", help="folder for finished frames and flow (default: "
                                      "'.OUTPUT.stylevid' beside the output)")
    _add_region_options(p, video=True)
    r = p.add_argument_group("parallel rendering on Ray")
    r.add_argument("--workers",
                   help="split the video into chunks rendered by this many Ray workers "
                        "(one per GPU, or CPU workers); default: render in this process")
    r.add_argument("--ray-address", help="Ray cluster to use, e.g. 'auto' (default: start a "
                                         "local Ray instance)")
    r.add_argument("--chunk-frames", default=RayOptions.chunk_frames,
                   help="frames per chunk within a shot (default %(default)s)")
    r.add_argument("--blend", default=RayOptions.blend,
                   help="frames before a chunk seam that are pulled towards the next chunk's "
                        "first frame, so the seam does not show (default: a third of "
                        "--chunk-frames, at most 16)")
    p.set_defaults(run=_cmd_render)

    p = sub.add_parser("batch", help="render every video of a job file on Ray",
                       description="Render the inputs of a YAML job (paths and globs, styles, "
                                   "output_dir, params) across Ray workers. A manifest in "
                                   "output_dir records each input's state; running the job "
                                   "again skips what is done and resumes what is partial.")
    p.add_argument("job", help="job file (YAML), see jobs/ for examples")
    p.add_argument("--workers", help="Ray workers (default: one per GPU, "
                                                         "else one per CPU)")
    p.add_argument("--ray-address", help="Ray cluster address (default: local instance)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_cmd_batch)

    p = sub.add_parser("status", help="the state of a batch job (running or not)",
                       description="Print each input's state (pending, running, done, failed "
                                   "and why) from the job's manifest, while the job runs or "
                                   "after it stopped.")
    p.add_argument("job", help="the job file (YAML) or its output folder")
    p.set_defaults(run=_cmd_status)

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
    p.add_argument("--start", type=_seconds, help="start of the original that was rendered")
    p.add_argument("--duration", type=_seconds, help="length of the original rendered")
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
    except ConfigError as exc:
        if debug:
            raise
        print(f"stylevid: error: {option_name(exc.setting)} {exc.problem}", file=sys.stderr)
        return 2
    except UserError as exc:
        if debug:
            raise
        print(f"stylevid: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, permission changed under us, ...
        if debug:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print(f"stylevid: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:
        out_of_memory = isinstance(exc, MemoryError) or "out of memory" in str(exc) \
            or "not enough memory" in str(exc)
        if debug or not out_of_memory:
            raise
        print("stylevid: error: out of memory; use a smaller --size", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stylevid: interrupted (finished work is kept; run the same command to resume)",
              file=sys.stderr)
        return 130
