"""Pick the torch device and dtype from the user's choice or the environment."""

from __future__ import annotations

import ctypes
import functools
import platform

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
    return device


PRECISIONS = ("auto", "fp32", "bf16")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


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


def check_precision(precision: str) -> None:
    """Raise a UserError unless ``precision`` is one of PRECISIONS."""
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")


def resolve_precision(precision: str, device: torch.device) -> str:
    """The convolution arithmetic actually used: 'fp32' or 'bf16' ('auto' asks the hardware)."""
    check_precision(precision)
    if precision == "auto":
        return "bf16" if has_fast_bf16(device) else "fp32"
    return precision


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_BELOW = 1 << 30


@functools.lru_cache(maxsize=1)
def keep_freed_cpu_memory() -> bool:
    """Let glibc keep freed blocks up to 1 GiB for reuse instead of returning them to the OS.

    Every optimisation step allocates and frees the same large CPU feature maps (50 MB for
    64 channels at 512x384). By default glibc unmaps blocks over 32 MiB on free, so each step
    page-faults them in again: a third of the step time at 960x540. Process-wide; the price
    is that the process keeps its peak heap. Returns whether glibc accepted the setting.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_BELOW)
                and libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_BELOW))
