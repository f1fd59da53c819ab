"""The work directory of a render: a manifest of its parameters and the finished frames.

Every finished frame is written atomically, so a render stopped at any moment (Ctrl-C,
SIGKILL, a lost machine) continues where it stopped when the same command runs again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from .errors import UserError
from .fsutil import atomic_path
from .imageio import read_image, write_image
from .motion import MotionCache

MANIFEST = "manifest.json"
CLIP = "clip.npy"  # the content frames of a multi-pass render, decoded once


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (style pictures, masks), or the name of a built-in picture."""
    text = str(path)
    if text.startswith("skimage:") or not Path(text).is_file():
        return text
    digest = hashlib.sha256()
    with open(text, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _differences(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """The settings that differ between two manifests, by dotted name (nested settings
    named down to the field: ``options.flow_preset``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [change for key in sorted(set(old) | set(new))
                for change in _differences(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [(prefix.rstrip("."), old, new)]


def _as_read_back(manifest: dict[str, Any]) -> Any:
    """The manifest as it reads back from its file (tuples become lists)."""
    return json.loads(json.dumps(manifest))


class WorkDir:
    """Frames ``frames/000123.png`` (pass 1; later passes in ``pass2/`` ...) and cached
    motion ``motion/`` of one render."""

    def __init__(self, root: Path, motion: MotionCache | None = None) -> None:
        self.root = Path(root)
        self.frames = self.root / "frames"
        self.motion = motion or MotionCache(self.root / "motion")

    def open(self, manifest: dict[str, Any]) -> int:
        """Create the folder or check that it belongs to the same render; returns the number
        of frames already finished (a prefix of the video).

        A folder of other settings that holds no finished frame yet (a render that failed
        on a typo, say) is simply taken over: there is nothing in it to protect.
        """
        path = self.root / MANIFEST
        manifest = _as_read_back(manifest)
        previous = json.loads(path.read_text()) if path.is_file() else None
        if previous is not None and previous != manifest and self.has_frames():
            changes = ", ".join(f"{key} {old!r} now {new!r}"
                                for key, old, new in _differences(previous, manifest))
            raise UserError(
                f"work folder {self.root} belongs to a render with other settings "
                f"({changes}); run it with those, delete the folder or pass another "
                f"--work-dir")
        if previous != manifest:
            if previous is not None:  # a folder of ours: its flow was for other settings
                shutil.rmtree(self.root / "motion", ignore_errors=True)
                shutil.rmtree(self.root / "chunks", ignore_errors=True)
                (self.root / CLIP).unlink(missing_ok=True)
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create work folder {self.root}: {exc.strerror}") from exc
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
        self.frames.mkdir(exist_ok=True)
        return self.done_count()

    def holds(self, manifest: dict[str, Any]) -> bool:
        """Whether the folder holds finished frames of a render with ``manifest``."""
        path = self.root / MANIFEST
        return path.is_file() and json.loads(path.read_text()) == _as_read_back(manifest) \
            and self.has_frames()

    def has_frames(self) -> bool:
        """Whether any finished frame (of any pass or chunk) is in the folder."""
        return any(True for _ in self.root.rglob("[0-9]*.png"))

    def pass_folder(self, pass_index: int) -> Path:
        return self.frames if pass_index == 1 else self.root / f"pass{pass_index}"

    def done_count(self, pass_index: int = 1) -> int:
        count = 0
        while self.frame_path(count, pass_index).is_file():
            count += 1
        return count

    def frame_path(self, index: int, pass_index: int = 1) -> Path:
        return self.pass_folder(pass_index) / f"{index:06d}.png"

    def pattern(self, pass_index: int = 1) -> str:
        return str(self.pass_folder(pass_index) / "%06d.png")

    def write_frame(self, index: int, image: np.ndarray, pass_index: int = 1) -> None:
        self.pass_folder(pass_index).mkdir(exist_ok=True)
        write_image(self.frame_path(index, pass_index), image)

    def read_frame(self, index: int, pass_index: int = 1) -> np.ndarray:
        return read_image(self.frame_path(index, pass_index))

    def clip(self, decode: Callable[[], Iterable[np.ndarray]], count: int, height: int,
             width: int) -> ClipFrames:
        """The clip's ``count`` content frames, memory-mapped from the work folder and
        decoded with ``decode()`` the first time. Later passes visit every frame in both
        directions; held in memory, the clip grew with its length (442 KB a frame at
        512x288: 0.8 GB a minute of 30 fps video, 11 GB at 1920x1080)."""
        path = self.root / CLIP
        shape = (count, height, width, 3)
        if path.is_file():
            try:
                stored = np.load(path, mmap_mode="r")
                if stored.shape == shape and stored.dtype == np.uint8:
                    return ClipFrames(stored)
            except (OSError, ValueError):  # not a complete .npy file: decode it again
                pass
        with atomic_path(path) as tmp:
            array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
            written = 0
            for frame in decode():
                if written == count:  # one more than before
                    written += 1
                    break
                array[written] = frame
                written += 1
            array.flush()
            del array
            if written != count:
                raise UserError(f"the clip decoded to {written} frames now, {count} before")
        return ClipFrames(np.load(path, mmap_mode="r"))


class ClipFrames(Sequence[np.ndarray]):
    """Frames of a memory-mapped (N, H, W, 3) array; each read is a copy of its own."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, index: slice) -> list[np.ndarray]: ...

    def __getitem__(self, index: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(index, slice):
            return [np.array(frame) for frame in self.array[index]]
        return np.array(self.array[index])
