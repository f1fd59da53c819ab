# CUDA image that runs stylevid as a Ray worker (or head). Build: docker build -t stylevid .
# Not built in CI (no Docker there); versions are pinned to what the tests ran with.
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04

ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv python3-pip ffmpeg \
 && rm -rf /var/lib/apt/lists/* \
 && ln -sf /usr/bin/python3.11 /usr/local/bin/python3

WORKDIR /opt/stylevid
COPY pyproject.toml README.md ./
COPY stylevid ./stylevid
RUN python3 -m pip install "torch==2.5.1" --index-url https://download.pytorch.org/whl/cu124 \
 && python3 -m pip install . "ray[default]==2.60.0"

# Shared storage for inputs, work folders and outputs is mounted at /data.
VOLUME /data
# Join a cluster: docker run --gpus all stylevid ray start --address=HEAD:6379 --block
CMD ["ray", "start", "--head", "--port=6379", "--block"]
