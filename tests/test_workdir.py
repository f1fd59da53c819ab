"""The work folder's decoded clip: the content frames of a multi-pass render, memory-mapped."""

import numpy as np
import pytest

from stylevid.errors import UserError
from stylevid.workdir import CLIP, WorkDir


def frames(count: int, height: int = 6, width: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(count)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def test_the_clip_is_decoded_once_and_read_from_a_memory_map(tmp_path):
    work = WorkDir(tmp_path / "work")
    work.open({"format": 1})
    source, calls = frames(5), []

    def decode():
        calls.append(1)
        return iter(source)

    clip = work.clip(decode, 5, 6, 8)
    assert isinstance(clip.array, np.memmap)  # pages from the file, not a list in memory
    assert len(clip) == 5 and all(np.array_equal(clip[i], source[i]) for i in range(5))
    assert [np.array_equal(a, b) for a, b in zip(clip[1:3], source[1:3], strict=True)] == [
        True, True]
    clip[0][:] = 0  # a frame read is the caller's own copy
    again = work.clip(decode, 5, 6, 8)
    assert len(calls) == 1 and np.array_equal(again[0], source[0])
    other = frames(4)
    assert np.array_equal(work.clip(lambda: iter(other), 4, 6, 8)[3], other[3])  # other shape


def test_a_damaged_clip_is_decoded_again_and_a_short_one_refused(tmp_path):
    work = WorkDir(tmp_path / "work")
    work.open({"format": 1})
    (work.root / CLIP).write_bytes(b"\x93NUMPY half a header")
    source = frames(3)
    assert np.array_equal(work.clip(lambda: iter(source), 3, 6, 8)[2], source[2])
    (work.root / CLIP).unlink()
    with pytest.raises(UserError, match="2 frames now, 3 before"):
        work.clip(lambda: iter(source[:2]), 3, 6, 8)
    with pytest.raises(UserError, match="4 frames now, 3 before"):
        work.clip(lambda: iter(frames(4)), 3, 6, 8)
    assert not (work.root / CLIP).exists()
    assert not list(work.root.glob("*.part*"))  # no half-written file left


def test_other_settings_drop_the_decoded_clip(tmp_path):
    work = WorkDir(tmp_path / "work")
    work.open({"format": 1, "start": 0})
    work.clip(lambda: iter(frames(2)), 2, 6, 8)
    assert (work.root / CLIP).is_file()
    WorkDir(tmp_path / "work").open({"format": 1, "start": 5})  # no finished frame: taken over
    assert not (work.root / CLIP).exists()
