"""stylevid: neural style transfer for videos and images."""

__version__ = "0.1.0"
