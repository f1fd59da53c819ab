"""Pick the torch device and dtype from the user's choice or the environment."""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import time

import torch

from .errors import UserError


def resolve_device(name: str = "auto") -> torch.device:
    """Return the device for ``name`` ('auto' picks CUDA, then MPS, then CPU)."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r} requested but CUDA is not available on this machine")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise UserError(f"device {name!r} requested but this machine has "
                        f"{torch.cuda.device_count()} CUDA device(s)")
    mps = getattr(torch.backends, "mps", None)
    if device.type == "mps" and not (mps and mps.is_available()):
        raise UserError(f"device {name!r} requested but MPS is not available on this machine")
    return device


def _cpuinfo(key: str) -> str | None:
    """The first ``key`` line of /proc/cpuinfo (None where there is none)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    return frozenset((_cpuinfo("flags") or "").split())


def cpu_description() -> str:
    """The CPU model, its vector/matrix extensions that matter here, and the cores this
    process may use: what a benchmark figure holds for."""
    model = _cpuinfo("model name") or platform.processor() or "unknown CPU"
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    extensions = [flag for flag in wanted if flag in cpu_flags()] or ["none of avx2/avx512/amx"]
    return f"{model} ({', '.join(extensions)}; {allowed_cores()} cores)"


def has_fast_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bfloat16 convolutions natively: CUDA with bf16, or a CPU with
    AMX tiles or AVX-512 BF16 dot products (oneDNN). Without either, oneDNN emulates bf16:
    on an AVX2-only EPYC one 128x96 iteration took 10.1 s in bf16 against 0.23 s in fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu" and torch.backends.mkldnn.is_available():
        amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
        return bool(amx and amx()) or "avx512_bf16" in cpu_flags()
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """The convolution arithmetic actually used: 'fp32' or 'bf16' ('auto' asks the hardware)."""
    if precision == "auto":
        return "bf16" if has_fast_bf16(device) else "fp32"
    return precision


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def allowed_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else (os.cpu_count() or 1)


def choose_threads(requested: int | None = None) -> int:
    """Set and return torch's CPU thread count: ``requested``, else every core this process
    may run on. Never chosen from the machine's current load: the thread count changes
    how MKL and torch split their sums, so the same command would give a different picture
    (bf16 at 32 px: 63 % of pixels off by up to 8/255 between 1 and 2 threads) and a
    resumed render would not continue the frames it started."""
    threads = requested if requested is not None else allowed_cores()
    torch.set_num_threads(threads)
    return threads


def _own_cpu_seconds() -> float:
    """CPU time of this process and of its children that ended (ffmpeg decoding and
    encoding): without them, a resumed render that only re-encoded its frames said other
    processes had kept a core busy."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class OtherLoad:
    """The cores other processes keep busy while this one works: all CPUs' busy time from
    /proc/stat less this process's own CPU time, over the wall time since it was made."""

    def __init__(self) -> None:
        self._start = _cpu_times(), _own_cpu_seconds(), time.monotonic()

    def busy_cores(self) -> float | None:
        """Cores busy with other processes so far, on average (None without /proc/stat)."""
        (first, own, wall), last = self._start, _cpu_times()
        elapsed = time.monotonic() - wall
        if first is None or last is None or elapsed <= 0:
            return None
        busy = (last[0] - first[0]) / os.sysconf("SC_CLK_TCK")
        return max(0.0, busy - (_own_cpu_seconds() - own)) / elapsed

    def note(self, threads: int) -> str | None:
        """A hint when other processes kept some of the ``threads`` cores busy: OpenMP
        threads that share a core with another busy process wait for each other at every
        layer (a render beside one other CPU-heavy process ran 2-4x slower with 2 threads
        than with 1 on 2 cores). None when they left the cores free."""
        other = self.busy_cores()
        if other is None:
            return None
        free = max(1, round(allowed_cores() - other))
        if free >= threads:
            return None
        return (f"note: other processes kept about {round(other)} of the "
                f"{allowed_cores()} cores busy; beside them --threads {free} is faster "
                f"(the thread count changes the picture slightly)")


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_BELOW = 1 << 30
_GLIBC_MMAP_MAX = 32 << 20  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit


@functools.lru_cache(maxsize=1)
def keep_freed_cpu_memory(keep: bool = True) -> bool:
    """Let glibc keep freed blocks up to 1 GiB for reuse instead of returning them to the OS,
    or (``keep=False``) return blocks over 32 MiB, the most glibc's own adaptive threshold
    keeps (a process that rendered small frames first, then large ones).

    Every optimisation step allocates and frees the same large CPU feature maps (50 MB for
    64 channels at 512x384). By default glibc unmaps blocks over 32 MiB on free, so each step
    page-faults them in again: a third of the step time at 960x540. Process-wide; the price
    is that the process keeps its peak heap. Returns whether glibc accepted the setting.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    mmap_above = _KEEP_BELOW if keep else _GLIBC_MMAP_MAX
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, mmap_above)
                and libc.mallopt(_M_TRIM_THRESHOLD, 2 * mmap_above))
