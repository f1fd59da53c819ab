"""The README's Python API example, run exactly as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from stylevid.imageio import read_image
from stylevid.synthetic import pan_frames, write_clip
from stylevid.video import probe

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_api_code() -> str:
    section = README.read_text().split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_python_api_example_runs_as_written(tmp_path):
    frames = pan_frames(read_image("skimage:astronaut"), 5, 48, 32, 2)
    write_clip(frames, tmp_path / "clip.mp4", fps=10, audio=True)
    proc = subprocess.run([sys.executable, "-c", readme_api_code()], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "(43, 64, 3)"
    assert re.fullmatch(r"5 frames in \d+ s", lines[1]), lines
    assert re.search(r"clip\.mp4\s+done", proc.stdout), proc.stdout
    cat = read_image(tmp_path / "cat.png")
    assert cat.shape == (43, 64, 3) and cat.std() > 10
    for video in (tmp_path / "clip_swirls.mp4", tmp_path / "out/clip.mp4"):
        info = probe(video)
        assert (info.width, info.height, info.fps, info.has_audio) == (48, 32, 10, True)
