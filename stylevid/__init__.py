"""stylevid: neural style transfer for videos and images.

The settings (:mod:`stylevid.config`) load at once; the functions of :mod:`stylevid.api`
(and torch with them) on first use, so that the command line starts fast.
"""

from .config import RayOptions, RegionSpec, RenderOptions, StyleParams, StyleSpec, video_params

__version__ = "0.1.0"
_API = ("stylize_image", "render_video", "run_job")
__all__ = ["RayOptions", "RegionSpec", "RenderOptions", "StyleParams", "StyleSpec",
           "video_params", *_API]


def __getattr__(name: str) -> object:  # lazy attributes of a module (PEP 562)
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'stylevid' has no attribute {name!r}")
