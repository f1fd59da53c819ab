"""VGG-19 encoder with the original Caffe-trained weights (as shipped by `pastiche`).

Layers are named like the paper (``conv1_1``, ``relu1_1``, ``pool1`` ... ``relu5_4``).
The network is truncated after the deepest layer any loss needs, its parameters are
frozen, and one forward pass returns every requested layer. With ``precision="bf16"`` the
convolutions run in bfloat16 (channels-last) and the features come back in float32, so
Gram matrices and losses stay in float32.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import LAYER_NAMES, VGG19_BLOCK_CONVS

# Caffe convention of the original weights: BGR channels, 0-255, minus the ImageNet mean.
BGR_MEAN = (103.939, 116.779, 123.68)
WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"

_BLOCK_CHANNELS = (64, 128, 256, 512, 512)

@functools.lru_cache(maxsize=1)
def load_weights() -> dict[str, tuple[Tensor, Tensor]]:
    """Read the quantised VGG-19 file once: ``{"conv1_1": (weight OIHW, bias)}``."""
    path = resources.files("pastiche").joinpath(WEIGHTS_FILE)
    with resources.as_file(path) as local:
        state = torch.load(local, map_location="cpu", weights_only=True)
    weights = {}
    for block, convs in enumerate(VGG19_BLOCK_CONVS, start=1):
        for conv in range(1, convs + 1):
            key = f"block{block}_conv{conv}"
            codes, table = state[key + "_W_q"], state[key + "_W_table"]
            weight = table[codes.long()].to(torch.float32)
            weights[f"conv{block}_{conv}"] = (weight, state[key + "_b"].to(torch.float32))
    return weights


def preprocess(rgb: Tensor) -> Tensor:
    """RGB in [0, 1], shape (B, 3, H, W) -> Caffe input (BGR, 0-255, mean removed)."""
    mean = torch.tensor(BGR_MEAN, device=rgb.device, dtype=rgb.dtype).view(1, 3, 1, 1)
    return rgb.flip(1) * 255.0 - mean


class MirrorPaddedConv(nn.Conv2d):
    """A 3x3 convolution whose input is mirrored by one pixel at its edges (repeated where a
    side is a single pixel, which cannot be mirrored)."""

    def forward(self, x: Tensor) -> Tensor:
        mode = "reflect" if min(x.shape[-2:]) > 1 else "replicate"
        return super().forward(F.pad(x, (1, 1, 1, 1), mode=mode))


class VGG19Encoder(nn.Module):
    """Frozen VGG-19 truncated at the deepest of ``layers``; ``forward`` returns them by name.

    Its convolutions mirror their input at the picture's edges (``padding="reflect"``)
    instead of the zeros VGG was trained with: with zeros every layer sees a dark frame
    around the picture, and the optimised image answers with a saturated 1-px border and
    colour streaks along the edges (on video, the same streak in every frame). Mirroring
    changes only features near the edges; it costs no measurable time or memory from
    256 px up, and about 30 % a forward+backward pass at 64 px, where the padded copies
    dominate.
    """

    def __init__(self, layers: Iterable[str], pooling: str = "avg",
                 precision: str = "fp32", padding: str = "reflect") -> None:
        super().__init__()
        if padding not in ("reflect", "zeros"):
            raise ValueError(f"padding must be 'reflect' or 'zeros', not {padding!r}")
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', not {precision!r}")
        self.precision = precision
        self.layers = tuple(dict.fromkeys(layers))
        unknown = [name for name in self.layers if name not in LAYER_NAMES]
        if unknown:
            raise ValueError(f"unknown VGG-19 layer(s) {unknown}; known: {', '.join(LAYER_NAMES)}")
        if pooling not in ("avg", "max"):
            raise ValueError(f"pooling must be 'avg' or 'max', not {pooling!r}")
        deepest = max(LAYER_NAMES.index(name) for name in self.layers)
        weights = load_weights()
        modules: dict[str, nn.Module] = {}
        for name in LAYER_NAMES[: deepest + 1]:
            kind = name[:4]
            if kind == "conv":
                weight, bias = weights[name]
                conv = MirrorPaddedConv(weight.shape[1], weight.shape[0], kernel_size=3) \
                    if padding == "reflect" else \
                    nn.Conv2d(weight.shape[1], weight.shape[0], kernel_size=3, padding=1)
                conv.weight.data.copy_(weight)
                assert conv.bias is not None
                conv.bias.data.copy_(bias)
                modules[name] = conv
            elif kind == "relu":
                modules[name] = nn.ReLU(inplace=False)
            else:
                pool = nn.AvgPool2d if pooling == "avg" else nn.MaxPool2d
                modules[name] = pool(kernel_size=2, stride=2)
        self.net = nn.ModuleDict(modules)
        self.requires_grad_(False)
        self.eval()
        if precision == "bf16":
            # Weights stored in bf16 once (autocast would cast the frozen weights again on
            # every forward), channels-last, the layout oneDNN and cuDNN run fastest.
            self.to(torch.bfloat16)
            for module in modules.values():
                if isinstance(module, nn.Conv2d):
                    module.weight.data = module.weight.data.contiguous(
                        memory_format=torch.channels_last)

    def forward(self, rgb: Tensor) -> dict[str, Tensor]:
        """Features of ``rgb`` (B, 3, H, W) in [0, 1] at every requested layer (float32)."""
        x = preprocess(rgb)
        wanted = set(self.layers)
        out: dict[str, Tensor] = {}
        low = self.precision == "bf16"
        if low:
            x = x.to(torch.bfloat16, memory_format=torch.channels_last)
        for name, module in self.net.items():
            x = module(x)
            if name in wanted:
                out[name] = x.float() if low else x
        return out


def layer_scale(name: str) -> int:
    """Downsampling factor of a layer's feature map relative to the input (1, 2, 4, 8, 16)."""
    block = int(name[4]) if not name.startswith("pool") else int(name[4]) + 1
    return 2 ** (block - 1)
