"""The Python API: what the commands do, with settings objects instead of options.

    import stylevid
    image = stylevid.stylize_image("photo.jpg", ["starry.jpg"], "out.png",
                                   params=stylevid.StyleParams(size=256))
    stylevid.render_video("clip.mp4", ["starry.jpg"], "out.mp4")
    stylevid.run_job("jobs/library.yaml")

The commands call these same functions; every setting is checked when its settings object
is built (:mod:`stylevid.config`), every file before any work starts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .config import RayOptions, RegionSpec, RenderOptions, StyleParams, StyleSpec, video_params
from .device import resolve_device
from .engine import ProgressFn
from .render import RenderSummary

if TYPE_CHECKING:
    from .distributed import BatchProgress

StyleSource = str | Path | StyleSpec


def _specs(styles: Sequence[StyleSource]) -> list[StyleSpec]:
    return [s if isinstance(s, StyleSpec) else StyleSpec(str(s)) for s in styles]


def stylize_image(
    content: str | Path | np.ndarray,
    styles: Sequence[StyleSource],
    output: str | Path | None = None,
    *,
    params: StyleParams | None = None,
    regions: RegionSpec | None = None,
    device: str | torch.device = "auto",
    on_step: ProgressFn | None = None,
) -> np.ndarray:
    """Stylize a picture (file, ``skimage:NAME``, ``builtin:NAME`` or RGB uint8 array) with
    one or more styles; returns the result as RGB uint8 and writes it to ``output`` if
    given. ``params`` defaults to :class:`StyleParams` (512 px, up to 500 iterations)."""
    from .still import stylize_still

    result = stylize_still(content, _specs(styles), output, params or StyleParams(),
                           resolve_device(str(device)), regions=regions, on_step=on_step)
    return result.image


def render_video(
    source: str | Path,
    styles: Sequence[StyleSource],
    output: str | Path,
    *,
    params: StyleParams | None = None,
    options: RenderOptions | None = None,
    regions: RegionSpec | None = None,
    work_dir: str | Path | None = None,
    device: str | torch.device = "auto",
    on_frame: Callable[[int, int, float], None] | None = None,
    on_step: ProgressFn | None = None,
    on_pass: Callable[[int], None] | None = None,
    on_encode: Callable[[int, int], None] | None = None,
) -> RenderSummary:
    """Stylize a video file or frame folder into ``output`` (a video file, or a folder for
    PNG frames) with temporal consistency; resumes a stopped render of the same settings.
    ``params`` defaults to :func:`video_params` (512 px, 20 iterations a later frame).
    ``on_frame(index, total, loss)`` follows each frame written; a resumed render first
    reports the last frame it holds, with the loss NaN. ``on_encode(written, frames)``
    follows the encoding of the output video."""
    from .engine import Stylizer
    from .render import render_video as render
    from .video import probe
    from .video_regions import regions_source

    params = params or video_params()
    options = options or RenderOptions()
    specs = _specs(styles)
    regions = regions or RegionSpec()
    clip = probe(source, options.frame_rate) if regions.masks else None
    regions_for, extra = regions_source(regions, specs, params, options, clip)
    stylizer = Stylizer(params, resolve_device(str(device)))
    return render(source, output, [s.path for s in specs], stylizer, options,
                  regions_for=regions_for, work_dir=Path(work_dir) if work_dir else None,
                  manifest_extra=extra, on_frame=on_frame, on_step=on_step, on_pass=on_pass,
                  on_encode=on_encode)


@dataclass
class JobResult:
    done: int
    failed: int
    summary: str  # a table: input, state, reason


def run_job(
    job_file: str | Path,
    *,
    workers: int | None = None,
    address: str | None = None,
    on_progress: Callable[[BatchProgress], None] | None = None,
    on_workers: Callable[[str], None] | None = None,
) -> JobResult:
    """Render every input of a YAML job on Ray (a local instance unless ``address``), with
    its manifest: what is done is skipped, what is partial resumes. ``on_workers`` hears
    how many workers were started."""
    from .distributed import VideoJob, render_many
    from .errors import UserError
    from .jobs import JobManifest, load_job, style_specs_for

    spec = load_job(job_file)
    try:
        spec.output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output_dir {spec.output_dir}: {exc.strerror}") from exc
    manifest = JobManifest(spec)
    manifest.save()
    todo = [item for item in spec.inputs if not manifest.is_done(item)]
    if not todo:
        return JobResult(0, 0, manifest.summary())
    jobs = [VideoJob(item.source, item.output, style_specs_for(item),
                     spec.output_dir / ".work" / item.output.name) for item in todo]
    ray_options: RayOptions = spec.ray.with_(workers=workers or spec.ray.workers,
                                             address=address or spec.ray.address)
    outcomes = render_many(
        jobs, spec.params, spec.options, ray_options, on_progress=on_progress,
        on_workers=on_workers,
        on_state=lambda job, state, reason: manifest.set(job.source, state, reason))
    failed = sum(o.state != "done" for o in outcomes)
    return JobResult(len(outcomes) - failed, failed, manifest.summary())

