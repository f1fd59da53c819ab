"""Speed benchmark: stylevid's optimisation core against a plain Gatys reference.

Measures, on one device, in one run:
  * seconds per L-BFGS iteration at several sizes (steady state) for the reference and for
    stylevid in fp32 and (where the hardware has it) bf16, FLOPs per iteration, the fraction
    of the device's measured matmul peak in that precision, peak memory;
  * time to reach the loss that the plain reference reaches after N iterations, for a
    still image (stylevid uses its default coarse-to-fine schedule);
  * seconds per frame of a video render at `stylevid render`'s defaults (the first
    frame, and the iterations and seconds of a later one).
The reference is textbook Gatys: the full VGG-19 (to conv5_4), parameters left trainable,
fp32, one scale, L-BFGS with unit steps, its loss written with plain autograd; both sides
compute the same loss (checked at the start of each size).

    python scripts/bench.py --device cpu --sizes 128,256 --target-size 256
    python scripts/bench.py --device cuda --sizes 256,512,960x540 --target-size 512

Results: scripts/results/bench_<device>.json and .md, loss-vs-time plot .png.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from stylevid.config import LAYER_NAMES, StyleParams
from stylevid.device import cpu_description, has_fast_bf16, resolve_precision
from stylevid.engine import Region, StyleImage, Stylizer
from stylevid.imageio import read_image, resize_longest, resize_to, to_tensor
from stylevid.vgg import load_weights, preprocess

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class PlainVGG(nn.Module):
    """Textbook VGG-19: every layer up to relu5_4 evaluated, weights trainable. Its
    convolutions mirror their input at the edges as stylevid's do, so both compute one loss."""

    def __init__(self, pooling: str) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        self.names: list[str] = []
        weights = load_weights()
        for name in LAYER_NAMES[: LAYER_NAMES.index("relu5_4") + 1]:
            if name.startswith("conv"):
                w, b = weights[name]
                conv = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1, padding_mode="reflect")
                conv.weight.data.copy_(w)
                conv.bias.data.copy_(b)
                layers.append(conv)
            elif name.startswith("relu"):
                layers.append(nn.ReLU())
            else:
                layers.append(nn.AvgPool2d(2) if pooling == "avg" else nn.MaxPool2d(2))
            self.names.append(name)
        self.layers = nn.ModuleList(layers)

    def forward(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        x, out = preprocess(rgb), {}
        for name, layer in zip(self.names, self.layers, strict=True):
            x = layer(x)
            out[name] = x
        return out


def textbook_gram(features: torch.Tensor) -> torch.Tensor:
    """F Fᵀ / (H·W) with autograd's own gradient."""
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


class ReferenceLoss:
    """Textbook Gatys loss on the plain network, written with plain autograd: the same terms
    and weights as stylevid's Objective (content MSE, Gatys E_l, squared TV), independently."""

    def __init__(self, params: StyleParams, content: torch.Tensor, style: torch.Tensor,
                 device: torch.device) -> None:
        self.params, self.net = params, PlainVGG(params.pooling).to(device)
        with torch.no_grad():
            c, s = self.net(content), self.net(style)
        self.content = {k: c[k] for k in params.content_layers}
        self.grams = {k: textbook_gram(s[k]) for k in params.style_layers}
        weights = params.style_layer_weights or (1.0,) * len(params.style_layers)
        self.layer_weights = [w / sum(weights) for w in weights]

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        p, f = self.params, self.net(image)
        content = sum(F.mse_loss(f[k], t) for k, t in self.content.items()) / len(self.content)
        style = sum(w * ((textbook_gram(f[k]) - g) ** 2).sum() / (4 * g.shape[-1] ** 2)
                    for w, (k, g) in zip(self.layer_weights, self.grams.items(), strict=True))
        dx, dy = image[..., :, 1:] - image[..., :, :-1], image[..., 1:, :] - image[..., :-1, :]
        tv = (dx**2).mean() + (dy**2).mean()
        return p.content_weight * content + p.style_weight * style + p.tv_weight * tv


def reference_objective(params: StyleParams, content: torch.Tensor, style: np.ndarray,
                        device: torch.device) -> ReferenceLoss:
    """The reference loss for a style picture at its final size, checked against stylevid's
    fp32 Objective on the content image."""
    reference = ReferenceLoss(params, content, to_tensor(style, device), device)
    ours = Stylizer(params.with_(precision="fp32"), device).objective(
        content, [Region(None, (StyleImage(style),))])
    with torch.no_grad():
        a, b = float(reference(content)), float(ours(content))
    if abs(a - b) > 1e-4 * abs(a):
        raise SystemExit(f"reference loss {a} and stylevid's fp32 loss {b} disagree")
    return reference


def run_reference(objective: ReferenceLoss, init: torch.Tensor, iterations: int,
                  device: torch.device) -> tuple[list[float], list[float], float]:
    """Plain L-BFGS (one call, unit steps, as neural-style): losses, times, and the loss of
    its final image clamped to [0, 1] (the image it saves)."""
    image = init.clone(memory_format=torch.contiguous_format).requires_grad_(True)
    opt = torch.optim.LBFGS([image], lr=1.0, max_iter=iterations, history_size=100,
                            tolerance_grad=-1, tolerance_change=-1)
    losses, times = [], []
    start = time.perf_counter()

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = objective(image)
        loss.backward()
        sync(device)
        losses.append(float(loss.detach()))
        times.append(time.perf_counter() - start)
        return loss

    opt.step(closure)
    with torch.no_grad():
        saved = float(objective(image.clamp(0, 1)))
    return losses, times, saved


def seconds_per_iteration(fn, image: torch.Tensor, iterations: int,
                          device: torch.device) -> float:
    """Steady-state time of one loss+gradient evaluation (what an L-BFGS iteration costs)."""
    x = image.clone().requires_grad_(True)
    for _ in range(2):
        fn(x).backward()
    sync(device)
    start = time.perf_counter()
    for _ in range(iterations):
        x.grad = None
        fn(x).backward()
    sync(device)
    return (time.perf_counter() - start) / iterations


def flops_per_iteration(fn, image: torch.Tensor) -> int:
    x = image.clone().requires_grad_(True)
    with FlopCounterMode(display=False) as counter:
        fn(x).backward()
    return int(counter.get_total_flops())


def measured_peak_flops(device: torch.device, precision: str = "fp32") -> float:
    """Matmul throughput of this device in fp32 or bf16 (the roofline we compare against)."""
    n = 2048 if device.type == "cpu" else 8192
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    start, runs = time.perf_counter(), 3 if device.type == "cpu" else 20
    for _ in range(runs):
        a @ b
    sync(device)
    return 2 * n**3 * runs / (time.perf_counter() - start)


def parse_size(text: str) -> tuple[int, int] | int:
    if "x" in text:
        w, h = text.split("x")
        return int(w), int(h)
    return int(text)


def content_at(size: tuple[int, int] | int) -> np.ndarray:
    photo = read_image(DATA / "content/tubingen.jpg")
    if isinstance(size, tuple):
        return resize_to(photo, size[1], size[0])
    return resize_longest(photo, size)


def bench_sizes(sizes, params, style, device, iterations, peaks) -> list[dict]:
    """Seconds per iteration of the reference and of stylevid in each precision."""
    rows = []
    for size in sizes:
        content = content_at(size)
        c = to_tensor(content, device)
        ref_objective = reference_objective(
            params, c, resize_longest(style, max(content.shape[:2])), device)
        row: dict = {"size": f"{content.shape[1]}x{content.shape[0]}"}
        row["reference_s_per_iter"], row["peak_mem_mb_reference"] = timed(
            ref_objective, c, iterations, device)
        for precision in peaks:
            ours = Stylizer(params.with_(precision=precision), device)
            objective = ours.objective(c, [Region(None, (StyleImage(style),))], [])
            seconds, memory = timed(objective, c, iterations, device)
            flops = flops_per_iteration(objective, c)
            # Emulated bf16 (no AMX, no AVX512-BF16) has no peak of its own to be a fraction
            # of: its matmul is a conversion loop, which convolutions can outrun.
            native = precision == "fp32" or has_fast_bf16(device)
            row[precision] = {
                "s_per_iter": seconds, "speedup": row["reference_s_per_iter"] / seconds,
                "gflop_per_iter": flops / 1e9,
                "fraction_of_peak": flops / seconds / peaks[precision] if native else None,
                "peak_mem_mb": memory}
        rows.append(row)
        print(row, flush=True)
    return rows


def timed(fn, image: torch.Tensor, iterations: int,
          device: torch.device) -> tuple[float, float | None]:
    """Seconds per iteration and peak memory in MB (CUDA only)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds = seconds_per_iteration(fn, image, iterations, device)
    memory = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
    return seconds, memory


class _Reached(Exception):
    """Raised from the progress callback to end stylevid's run once it reached the target."""


class PausableClock:
    """Wall clock that does not count the time spent measuring (off-clock loss checks)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.spent, self.started = device, 0.0, time.perf_counter()

    def pause(self) -> float:
        sync(self.device)
        self.spent += time.perf_counter() - self.started
        return self.spent

    def resume(self) -> None:
        self.started = time.perf_counter()


def bench_time_to_target(size, params, style, device, reference_iterations,
                         check_every: int = 5, earlier: dict | None = None) -> dict:
    """Time for stylevid's default schedule to reach the loss the reference reaches in
    ``reference_iterations``. Every ``check_every`` full-size iterations the clock stops and
    the reference's own fp32 loss is evaluated on stylevid's current iterate, so the target
    is judged by the same fp32 loss whatever precision stylevid computes in. The target is
    the reference's own (unconstrained) loss; stylevid's iterates stay in [0, 1], so what is
    judged is the image it saves, a stricter test than the reference's iterate.
    ``earlier``: a previous result of this function on this machine whose reference curve
    is reused instead of measured again."""
    content = content_at(size)
    c = to_tensor(content, device)
    ref_objective = reference_objective(
        params, c, resize_longest(style, max(content.shape[:2])), device)
    if earlier and earlier["reference_iterations"] == reference_iterations:
        ref_times, ref_losses = (list(x) for x in zip(*earlier["reference_curve"], strict=True))
        ref_saved = earlier.get("reference_saved_loss")
    else:
        ref_losses, ref_times, ref_saved = run_reference(ref_objective, c, reference_iterations,
                                                         device)
    target = min(ref_losses)
    stylizer = Stylizer(params, device)
    regions = [Region(None, (StyleImage(style),))]
    curve: list[tuple[float, float]] = []
    full_size_steps = 0
    clock = PausableClock(device)

    def on_step(step: int, loss: float, image: torch.Tensor) -> None:
        nonlocal full_size_steps
        if image.shape[-2:] != c.shape[-2:]:
            return
        full_size_steps += 1
        if full_size_steps % check_every:
            return
        elapsed = clock.pause()
        with torch.no_grad():
            true_loss = float(ref_objective(image))
        curve.append((elapsed, true_loss))
        if true_loss <= target:
            raise _Reached
        clock.resume()

    try:
        # The default schedule (levels, early stop on the loss plateau) with the reference's
        # iteration count per level; if that falls short, the full-size level goes on from
        # its result without early stopping (new L-BFGS history).
        result = stylizer.stylize(content, regions, iterations=reference_iterations,
                                  on_step=on_step)
        stylizer.params = params.with_(tolerance=0.0)
        stylizer.stylize(content, regions, init=result.image, sizes=[max(content.shape[:2])],
                         iterations=reference_iterations, on_step=on_step)
    except _Reached:
        pass
    reached = curve[-1][0] if curve and curve[-1][1] <= target else None
    return {
        "size": f"{content.shape[1]}x{content.shape[0]}",
        "levels": params.scale_sizes(max(content.shape[:2])),
        "precision": stylizer.precision,
        "reference_iterations": reference_iterations, "target_loss": target,
        "reference_saved_loss": ref_saved,
        "reference_seconds": ref_times[-1], "ours_seconds_to_target": reached,
        "ours_full_size_iterations": full_size_steps,
        "ratio": (reached / ref_times[-1]) if reached else None,
        "reference_curve": list(zip(ref_times, ref_losses, strict=True)),
        "ours_curve": curve,
    }


def bench_video(size: int, params: StyleParams, device: torch.device, frames: int) -> dict:
    """`stylevid render`'s defaults on a pan over a photo: seconds for the first frame and
    a later one, iterations a later frame (counted)."""
    from stylevid.config import RenderOptions, video_params
    from stylevid.render import render_video
    from stylevid.synthetic import pan_frames, write_clip

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "pan.mp4"
        photo = read_image(DATA / "content/tubingen.jpg")
        height = size * 9 // 16
        write_clip(pan_frames(photo, frames, size, height, 3), clip)
        stamps: list[float] = []
        steps: list[int] = []
        stylizer = Stylizer(video_params(size=size, precision=params.precision), device)
        start = time.perf_counter()

        def on_frame(*_: object) -> None:
            stamps.append(time.perf_counter() - start)
            steps.append(0)

        def on_step(*_: object) -> None:
            if steps:
                steps[-1] += 1

        render_video(clip, Path(tmp) / "out.mp4", ["starry_night"], stylizer,
                     RenderOptions(), regions_for=lambda i, c: [Region(None, (StyleImage(
                         read_image(DATA / "style/starry_night.jpg")),))],
                     on_frame=on_frame, on_step=on_step)
    later = np.diff(stamps)
    return {"size": f"{size}x{height}", "frames": frames, "first_frame_s": stamps[0],
            "s_per_frame_after_first": float(later.mean()),
            "iterations_per_frame": float(np.mean(steps[:-1])),
            "precision": resolve_precision(params.precision, device)}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t2t = result["time_to_target"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ref = np.array(t2t["reference_curve"])
    ours = np.array(t2t["ours_curve"])
    ax.plot(ref[:, 0], ref[:, 1], label="plain reference (full VGG, fp32, one scale)")
    ax.plot(ours[:, 0], ours[:, 1], ".-", ms=3,
            label=f"stylevid ({t2t['precision']}, levels {t2t['levels']}; full size shown)")
    ax.axhline(t2t["target_loss"], color="grey", ls="--", lw=0.8,
               label=f"reference after {t2t['reference_iterations']} iterations")
    ax.set_yscale("log")
    ax.set_ylim(t2t["target_loss"] * 0.97, ref[0, 1] * 1.1)
    ax.set_xlabel("seconds")
    ax.set_ylabel("fp32 loss at full size")
    ax.set_title(f"{t2t['size']} on {result['machine']['device_name']}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def markdown(result: dict) -> str:
    m = result["machine"]
    peaks = result["peak_gflops"]
    precisions = list(peaks)
    lines = [f"# Benchmark on {m['device_name']} ({m['torch']}, {m['threads']} threads)", "",
             "Measured matmul peak: " + ", ".join(f"{p} {g:.0f} GFLOP/s" for p, g in
                                                   peaks.items()) + ".", "",
             "| size | reference s/iter | " + " | ".join(
                 f"stylevid {p} s/iter (speed-up, fraction of {p} peak)" for p in precisions)
             + " | GFLOP/iter | peak MB (reference / " + " / ".join(precisions) + ") |",
             "|---|---|" + "---|" * len(precisions) + "---|---|"]
    for r in result["per_iteration"]:
        cells = [f"{r[p]['s_per_iter']:.4f} ({r[p]['speedup']:.2f}x, "
                 f"{peak_share(r[p]['fraction_of_peak'])})" for p in precisions]
        mems = [r["peak_mem_mb_reference"]] + [r[p]["peak_mem_mb"] for p in precisions]
        mem = " / ".join(f"{x:.0f}" for x in mems) if mems[0] else "n/a (CPU)"
        lines.append(f"| {r['size']} | {r['reference_s_per_iter']:.4f} | " + " | ".join(cells)
                     + f" | {r[precisions[0]]['gflop_per_iter']:.1f} | {mem} |")
    t = result["time_to_target"]
    reached = (f"{t['ours_seconds_to_target']:.1f} s, {t['ratio']:.2f} of the reference's time "
               f"({t['ours_full_size_iterations']} full-size iterations)"
               if t["ours_seconds_to_target"] else f"not reached ({closest(t)})")
    saved = (f" (its saved image, clamped to [0, 1], has loss {t['reference_saved_loss']:.4g})"
             if t.get("reference_saved_loss") else "")
    lines += ["", f"Time to target, {t['size']}: the reference reaches loss "
              f"{t['target_loss']:.4g} after {t['reference_iterations']} iterations in "
              f"{t['reference_seconds']:.1f} s{saved}; stylevid ({t['precision']}, levels "
              f"{t['levels']}, up to {t['reference_iterations']} iterations per level with "
              f"its early stop, then the full size continued) reaches it in {reached}. "
              "The loss is the reference's fp32 loss of the image stylevid would save, "
              "evaluated off the clock.", ""]
    if result.get("video"):
        v = result["video"]
        lines.append(f"Video render at `stylevid render`'s defaults, {v['size']}, "
                     f"{v['frames']} frames, {v['iterations_per_frame']:.1f} iterations a "
                     f"later frame (keyframes ahead included), {v['precision']}: first "
                     f"frame {v['first_frame_s']:.1f} s, then "
                     f"{v['s_per_frame_after_first']:.2f} s per frame (flow computed in "
                     "parallel).")
    return "\n".join(lines) + "\n"


def peak_share(fraction: float | None) -> str:
    return "emulated" if fraction is None else f"{fraction:.0%}"


def closest(t: dict) -> str:
    """How near stylevid came to a target it did not reach, and when the reference was as
    near."""
    seconds, best = min(t["ours_curve"], key=lambda point: point[1])
    reference = next((s for s, loss in t["reference_curve"] if loss <= best), None)
    when = (f"; the reference reached that loss after {reference:.1f} s, so stylevid took "
            f"{seconds / reference:.2f} of its time" if reference else "")
    return (f"{t['ours_full_size_iterations']} full-size iterations; its lowest loss, "
            f"{best:.5g}, {best / t['target_loss'] - 1:.2%} above the target, after "
            f"{seconds:.1f} s{when}")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_description()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default="128,256", help="e.g. 256,512,960x540")
    parser.add_argument("--iterations", type=int, default=10, help="timed iterations per size")
    parser.add_argument("--target-size", type=int, default=256)
    parser.add_argument("--reference-iterations", type=int, default=500)
    parser.add_argument("--video-size", type=int, default=256)
    parser.add_argument("--video-frames", type=int, default=6)
    parser.add_argument("--precisions", default="fp32,bf16", help="timed precisions")
    parser.add_argument("--tag", default=None, help="name of the result files")
    parser.add_argument("--reuse", type=Path, metavar="JSON",
                        help="earlier result file of this machine: keep its per-iteration, "
                             "video and reference figures; measure stylevid's time to target")
    args = parser.parse_args()
    if args.reuse:
        result = json.loads(args.reuse.read_text())
        result["time_to_target"] = bench_time_to_target(
            args.target_size, StyleParams(), read_image(DATA / "style/starry_night.jpg"),
            torch.device(args.device), args.reference_iterations,
            earlier=result["time_to_target"])
        write_results(result, args.tag or args.device)
        return
    device = torch.device(args.device)
    print(f"device: {device_name(device)}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)
    params = StyleParams()
    style = read_image(DATA / "style/starry_night.jpg")
    # Both precisions on every machine: where bf16 is emulated (no AMX, no AVX512-BF16) its
    # row shows why --precision auto picks fp32 there.
    precisions = args.precisions.split(",")
    print(f"native bf16: {has_fast_bf16(device)}; --precision auto uses "
          f"{resolve_precision('auto', device)}", flush=True)
    peaks = {p: measured_peak_flops(device, p) for p in precisions}
    result = {
        "machine": {"device_name": device_name(device), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "python": platform.python_version()},
        "peak_gflops": {p: peak / 1e9 for p, peak in peaks.items()},
        "per_iteration": bench_sizes([parse_size(s) for s in args.sizes.split(",")], params,
                                     style, device, args.iterations, peaks),
    }
    result["time_to_target"] = bench_time_to_target(args.target_size, params, style, device,
                                                     args.reference_iterations)
    print({k: v for k, v in result["time_to_target"].items() if "curve" not in k}, flush=True)
    if args.video_frames:
        result["video"] = bench_video(args.video_size, params, device, args.video_frames)
        print(result["video"], flush=True)
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    write_results(result, args.tag or device.type)


def write_results(result: dict, tag: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"bench_{tag}.json").write_text(json.dumps(result, indent=1))
    (RESULTS / f"bench_{tag}.md").write_text(markdown(result))
    plot(result, RESULTS / f"bench_{tag}_loss.png")
    print(markdown(result))


if __name__ == "__main__":
    main()
