"""How well the progress bars' forecast of the plateau stop does on recorded runs.

Replays the loss traces that ``scripts/bench_first_frame.py`` committed (one loss an
iteration, as the progress bar sees them; every level of every variant): for each level
and each tolerance the plateau rule stops at within the trace (the default 2e-4 and a
coarse level's 2e-3), the forecast made after 31, 46, 61, 91 and 121 iterations against the
iteration where the rule stopped.

    python scripts/check_forecast.py
Results: scripts/results/forecast.md.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_video import RESULTS  # noqa: E402

from stylevid.optimize import _WINDOW, forecast_stop, improvement  # noqa: E402

TRACES = ("first_frame.json", "first_frame_avx2.json")
TOLERANCES = (2e-4, 2e-3)
AFTER = (31, 46, 61, 91, 121)


def levels(path: Path) -> list[tuple[str, list[float]]]:
    """(name, losses) of every level of every variant in a bench_first_frame result."""
    runs = []
    for variant, row in json.loads(path.read_text())["rows"].items():
        widths = sorted({width for _t, _loss, width in row["trace"]})
        for width in widths:
            losses = [loss for _t, loss, w in row["trace"] if w == width]
            runs.append((f"{path.stem}: {variant}, {width} px wide", losses))
    return runs


def rule_stop(losses: list[float], tolerance: float) -> int | None:
    """The iteration count after which the plateau rule stops (None: it does not)."""
    for count in range(_WINDOW + 2, len(losses) + 1):
        if improvement(losses[:count]) <= tolerance:
            return count
    return None


def main() -> None:
    errors: dict[int, list[float]] = {n: [] for n in AFTER}
    lines = ["| level run | tolerance | rule stops after | forecast after " +
             " / ".join(str(n) for n in AFTER) + " iterations |", "|---|---|---|---|"]
    stops = 0
    for name in TRACES:
        for run, losses in levels(RESULTS / name):
            for tolerance in TOLERANCES:
                stop = rule_stop(losses, tolerance)
                if stop is None:
                    continue
                stops += 1
                cells = []
                for n in AFTER:
                    if n < stop:
                        forecast = forecast_stop(losses[:n], tolerance)
                        assert forecast is not None
                        errors[n].append(forecast / stop - 1)
                        cells.append(str(forecast))
                    else:
                        cells.append("-")
                lines.append(f"| {run} | {tolerance:g} | {stop} | {' / '.join(cells)} |")
    summary = ["| after | runs | median error | smallest | largest |", "|---|---|---|---|---|"]
    for n, errs in errors.items():
        if errs:
            summary.append(f"| {n} | {len(errs)} | {statistics.median(errs):+.0%} | "
                           f"{min(errs):+.0%} | {max(errs):+.0%} |")
    text = ("# The plateau stop forecast on recorded runs\n\n"
            f"`python scripts/check_forecast.py`: {stops} stops of the plateau rule in the "
            "loss traces of `scripts/results/first_frame*.json`. Error: forecast / actual "
            "stop - 1.\n\n" + "\n".join(summary) + "\n\n" + "\n".join(lines) + "\n")
    (RESULTS / "forecast.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
