# gpugrad on a real NVIDIA GPU, with CuPy for CUDA 13 and the fused kernels in kernels/.
#
#   docker build -t gpugrad .
#   docker run --gpus all gpugrad gpugrad demo --device cuda
#
# The CUDA runtime image carries the libraries CuPy loads (cudart, cuBLAS, cuRAND and NVRTC, which
# compiles kernels/*.cu on first use); the host provides only the NVIDIA driver (580 or newer for
# CUDA 13) through the NVIDIA Container Toolkit (`--gpus all`).
FROM nvidia/cuda:13.0.1-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/gpugrad \
    PATH=/opt/gpugrad/bin:$PATH

# Ubuntu 24.04's Python 3.12, in a virtual environment (the system one is externally managed)
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/gpugrad

# Only what the build needs (see .dockerignore); a plain install, so the wheel's copy of
# kernels/*.cu lands in the package (setup.py) and /src is not needed at run time.
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY kernels ./kernels
COPY gpugrad ./gpugrad
RUN pip install ".[cuda13,demo]" \
    && rm -rf /src/build /src/*.egg-info \
    && cd / && python -c "import gpugrad.backends.cuda as c; d = c.kernel_dir(); print('kernels:', d); \
assert d.startswith('/opt/gpugrad/'), d"

WORKDIR /work
# CuPy's compiled-kernel cache; mount a volume here to keep it across containers.
ENV CUPY_CACHE_DIR=/work/.cupy-cache
CMD ["gpugrad", "demo", "--device", "cuda"]
