"""Atomic file output: write beside the target, then rename over it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import UserError


def check_writable(path: Path) -> None:
    """Fail early, with one line, if ``path`` cannot be created."""
    parent = path.resolve().parent
    if not parent.is_dir():
        raise UserError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UserError(f"cannot write {path}: folder {parent} is not writable")
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a folder")
    # os.access answers yes to root for any folder (/proc, a read-only mount, a folder of
    # mode 555): only a file created there tells, before minutes of work are lost
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def check_readable(path: Path, what: str) -> None:
    """Fail early, with one line, if ``path`` is not a file this process can read (``what``
    names it: "image", "video")."""
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    The temporary name keeps the suffix so that writers which pick a format by extension
    (OpenCV, ffmpeg) still work. On failure the temporary file is removed and ``path`` is
    left as it was.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}",
                                    dir=path.parent)
    # mkstemp makes the file private (0600); give it the mode a plain open() would (the
    # umask's), or that of the file it replaces.
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o666 & ~_umask()
    os.fchmod(fd, mode)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
