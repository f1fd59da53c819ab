"""Pick the torch device and dtype from the user's choice or the environment."""

from __future__ import annotations

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
