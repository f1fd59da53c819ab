"""Mistakes and hostile environments: one line on stderr, exit 2, no work done first, no
partial file left, finished work kept."""

from __future__ import annotations

import errno
import resource
import subprocess
import sys

import numpy as np
import pytest

from stylevid import engine
from stylevid.cli import main
from stylevid.errors import UserError
from stylevid.workdir import WorkDir


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if an optimisation starts."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("an optimisation started before the input was checked")

    monkeypatch.setattr(engine.Stylizer, "stylize", refuse)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("output, message", [
    ("result.txt", "give a picture file name"),
    ("result", "give a picture file name"),
])
def test_image_output_without_a_picture_extension(tmp_path, capsys, no_work, output, message):
    code = main(["stylize", "skimage:chelsea", "--style", "builtin:swirls",
                 "-o", str(tmp_path / output)])
    assert code == 2 and message in one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_video_output_without_a_video_extension(tmp_path, capsys, no_work):
    from stylevid.synthetic import write_clip

    clip = tmp_path / "in.mp4"
    write_clip([np.zeros((32, 32, 3), np.uint8)] * 3, clip, audio=False)
    code = main(["render", str(clip), "--style", "builtin:swirls", "-o",
                 str(tmp_path / "out.txt")])
    assert code == 2 and "give a video file name" in one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_a_size_that_cannot_fit_in_memory_is_refused_before_any_work(tmp_path, capsys, no_work):
    code = main(["stylize", "skimage:chelsea", "--style", "builtin:swirls",
                 "-o", str(tmp_path / "o.png"), "--size", "100000"])
    line = one_error_line(capsys)
    assert code == 2 and "a 100000x66519 frame needs about" in line and "--size" in line
    assert list(tmp_path.iterdir()) == []


def test_unreadable_style_is_reported_as_what_it_is(tmp_path, capsys, monkeypatch, no_work):
    style = tmp_path / "style.png"
    style.write_bytes(b"whatever")
    real_fromfile = np.fromfile

    def fromfile(path, *args, **kwargs):
        if str(path) == str(style):  # what reading a file without read permission raises
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_fromfile(path, *args, **kwargs)

    monkeypatch.setattr(np, "fromfile", fromfile)
    code = main(["stylize", "skimage:chelsea", "--style", str(style),
                 "-o", str(tmp_path / "o.png"), "--size", "32"])
    assert code == 2 and f"cannot read {style}: Permission denied" in one_error_line(capsys)


def test_a_full_disk_is_reported_and_leaves_no_partial_file(tmp_path):
    """A real write failure from the OS: the file size limit makes writes fail with EFBIG
    exactly as a full disk fails them with ENOSPC."""
    out = tmp_path / "o.png"

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))

    proc = subprocess.run(
        [sys.executable, "-m", "stylevid", "stylize", "skimage:chelsea", "--style",
         "builtin:swirls", "-o", str(out), "--size", "32", "--iterations", "2", "--quiet"],
        capture_output=True, text=True, preexec_fn=limit_file_size)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot write {out}: File too large" in lines[0], lines
    assert list(tmp_path.iterdir()) == []


def test_a_work_folder_with_no_finished_frame_is_taken_over(tmp_path):
    """A render that failed on a typo must not block the corrected command."""
    work = WorkDir(tmp_path / "work")
    work.open({"styles": ["typo.jpg"]})
    assert work.open({"styles": ["right.jpg"]}) == 0
    work.write_frame(0, np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(UserError, match="belongs to a render with other settings"):
        work.open({"styles": ["other.jpg"]})
    assert work.open({"styles": ["right.jpg"]}) == 1


def test_a_replaced_output_is_announced(tmp_path, capsys):
    out = tmp_path / "o.png"
    out.write_bytes(b"earlier")
    args = ["stylize", "skimage:chelsea", "--style", "builtin:swirls", "-o", str(out),
            "--size", "32", "--iterations", "2", "--quiet"]
    assert main(args) == 0
    assert f"wrote {out} (replaced the earlier file)" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["stylize", "{tmp}/photo.png", "--style", "builtin:swirls", "-o", "{tmp}/photo.png"],
     "would replace the content picture"),
    (["stylize", "skimage:chelsea", "--style", "builtin:swirls", "-o", "{tmp}/o.png",
      "--init", "{tmp}/missing.png"], "image not found"),
    (["stylize", "skimage:chelsea", "--style", "builtin:nope", "-o", "{tmp}/o.png"],
     "no built-in painting 'nope'"),
    (["stylize", "skimage:chelsea", "--style", "builtin:swirls", "-o", "{tmp}/o.png",
      "--segment", "1000"], "--segment must be <= 64"),
    (["stylize", "skimage:chelsea", "--style", "builtin:swirls", "-o", "{tmp}/o.png",
      "--seed", "-1"], "--seed must be >= 0"),
    (["stylize", "skimage:chelsea", "--style", "builtin:swirls", "-o", "{tmp}/o.png",
      "--content-layers", ","], "--content-layers must be a non-empty list"),
    (["stylize", "skimage:chelsea", "--style", "builtin:swirls", "-o", "{tmp}/o.png",
      "--lr", "0"], "--lr must be > 0"),
    (["render", "{tmp}/photo.png", "--style", "builtin:swirls", "-o", "{tmp}/o.mp4",
      "--workers", "0"], "--workers must be >= 1"),
    (["render", "{tmp}", "--style", "builtin:swirls", "-o", "{tmp}/notes"],
     "it is a file, not a folder"),
    (["render", "{tmp}/photo.png", "--style", "builtin:swirls", "-o", "{tmp}/o.mp4"],
     "is a still picture, not a video"),
    (["eval", "{tmp}/photo.png", "--reference", "{tmp}/photo.png", "--plot", "{tmp}/p.txt"],
     "--plot"),
])
def test_more_mistakes_are_one_line_before_any_work(tmp_path, capsys, no_work, args, message):
    from stylevid.imageio import write_image

    write_image(tmp_path / "photo.png", np.full((24, 32, 3), 128, np.uint8))
    (tmp_path / "notes").write_text("a file without extension")
    before = sorted(tmp_path.iterdir())
    code = main([a.format(tmp=tmp_path) for a in args])
    assert code == 2 and message in one_error_line(capsys)
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize("text", ['{"inputs": 5}', '{"inputs": {"a.mp4": {}}}', "[1]", "{"])
def test_a_damaged_job_manifest_is_one_line_not_a_traceback(tmp_path, capsys, text):
    (tmp_path / "stylevid-job.json").write_text(text)
    assert main(["status", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a stylevid job manifest" in err
