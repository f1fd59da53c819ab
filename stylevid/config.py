"""Parameters of a stylization with their defaults, in one place, each with its source."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

# Gatys, Ecker & Bethge 2016, "Image Style Transfer Using Convolutional Neural Networks":
# content on conv4_2 (its relu here, as in neural-style), style on conv1_1 ... conv5_1
# with equal weights, average pooling, L-BFGS.
CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclass(frozen=True)
class StyleParams:
    """Everything that decides how one image is stylized (and nothing about files)."""

    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    # Relative weight of each style layer (Gatys: equal); normalised to sum to 1.
    style_layer_weights: tuple[float, ...] | None = None
    # Loss weights for this package's normalisation (content = feature MSE, style = Gatys
    # E_l with mass-normalised Grams, images in [0, 1]); calibrated so that the defaults
    # give a neural-style-like balance at 256-1024 px.
    content_weight: float = 1.0
    style_weight: float = 5e-4
    tv_weight: float = 10.0
    pooling: str = "avg"  # Gatys 2016, Sec. 2: average pooling gives more appealing results
    optimizer: str = "lbfgs"  # Gatys 2016 and neural-style default
    learning_rate: float | None = None  # None: 1.0 for L-BFGS, 0.02 for Adam
    iterations: int = 500  # neural-style default
    # Stop when the loss improved by less than this fraction per iteration over 20 iterations.
    tolerance: float = 1e-5
    init: str = "content"  # "content", "noise" or a path to an image
    size: int = 512  # longest side of the output, pixels
    # Number of coarse-to-fine levels, each twice the previous size; None = automatic
    # (levels down to about 256 px on the longest side).
    scales: int | None = None
    style_scale: float = 1.0  # style image size relative to the content (neural-style)
    preserve_colors: str = "none"  # "none", "luminance" (Gatys 2016b) or "histogram"
    seed: int = 0
    # Arithmetic of the VGG convolutions: "fp32", "bf16" (Gram matrices and losses stay fp32)
    # or "auto" (bf16 where the hardware runs it natively: CUDA with bf16, CPUs with AMX).
    precision: str = "auto"

    def with_(self, **changes: Any) -> StyleParams:
        """A copy with some fields changed."""
        return replace(self, **changes)

    @property
    def lr(self) -> float:
        """The learning rate actually used by the chosen optimizer."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 1.0 if self.optimizer == "lbfgs" else 0.02

    def scale_sizes(self, size: int | None = None) -> list[int]:
        """Longest sides of the coarse-to-fine levels, smallest first."""
        final = size or self.size
        levels = self.scales
        if levels is None:
            levels = 1
            while final // 2 ** levels >= 256:
                levels += 1
        return [max(32, final // 2**k) for k in reversed(range(levels))]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (for manifests)."""
        return asdict(self)
