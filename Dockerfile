# gpugrad on a real NVIDIA GPU, with CuPy for CUDA 13 and the fused kernels in kernels/.
#
#   docker build -t gpugrad .
#   mkdir -p out && docker run --gpus all -v "$PWD/out:/out" gpugrad gpugrad demo --device cuda
#
# The CUDA runtime image carries the libraries CuPy loads (cudart, cuBLAS, cuRAND and NVRTC, which
# compiles kernels/*.cu on first use); the host provides only the NVIDIA driver (580 or newer for
# CUDA 13) through the NVIDIA Container Toolkit (`--gpus all`). gpugrad runs as the unprivileged
# user `gpugrad` (uid 1000; `--build-arg UID=... --build-arg GID=...` to match another host user)
# in /out, a volume: the demo's outputs land in ./out on the host with the mount above.
FROM nvidia/cuda:13.0.1-runtime-ubuntu24.04

ARG DEBIAN_FRONTEND=noninteractive
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/gpugrad \
    PATH=/opt/gpugrad/bin:$PATH

# Ubuntu 24.04's Python 3.12, in a virtual environment (the system one is externally managed).
# python3 and python3-venv are left unpinned on purpose: their versions change with Ubuntu's
# updates of Python 3.12, so a pin goes stale and fails the build, and the base image's tag
# already fixes the release. The Python packages are pinned below (docker/constraints.txt).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/gpugrad

# The user that runs gpugrad, in place of the base image's `ubuntu` user (which holds uid 1000),
# and the folders it writes: /out (outputs) and /cache (datasets and compiled-kernel caches).
ARG UID=1000
ARG GID=1000
RUN if id ubuntu >/dev/null 2>&1; then userdel --remove ubuntu; fi \
    && groupadd --gid "$GID" gpugrad \
    && useradd --uid "$UID" --gid "$GID" --create-home --shell /bin/bash gpugrad \
    && mkdir /out /cache \
    && chown gpugrad:gpugrad /out /cache

# Dependencies first, in a layer of their own: only pyproject.toml (the requirements of the build
# and of the cuda13, demo and data extras) and docker/constraints.txt (their exact versions) are
# copied, so editing the source reuses this layer instead of reinstalling CuPy, SciPy and
# matplotlib.
WORKDIR /src
COPY pyproject.toml ./
COPY docker/requirements.py docker/constraints.txt ./docker/
RUN python docker/requirements.py cuda13 demo data > requirements.txt \
    && pip install --constraint docker/constraints.txt --requirement requirements.txt \
    && rm requirements.txt

# Then the source (see .dockerignore), installed without touching the dependencies: a plain
# install, so the wheel's copy of kernels/*.cu lands in the package (setup.py) and /src is not
# needed at run time; `python -I` leaves /src off sys.path, so the check sees the installed copy.
COPY setup.py MANIFEST.in README.md LICENSE ./
COPY kernels ./kernels
COPY gpugrad ./gpugrad
RUN pip install --no-deps --no-build-isolation . \
    && pip check \
    && rm -rf build ./*.egg-info \
    && python -I -c "import gpugrad.backends.cuda as c; d = c.kernel_dir(); print('kernels:', d); \
assert d.startswith('/opt/gpugrad/'), d"

USER ${UID}:${GID}
# Every cache in /cache: gpugrad's datasets, matplotlib's fonts, CuPy's and CUDA's compiled kernels
ENV XDG_CACHE_HOME=/cache \
    MPLCONFIGDIR=/cache/matplotlib \
    CUPY_CACHE_DIR=/cache/cupy \
    CUDA_CACHE_PATH=/cache/nv
WORKDIR /out
# The demo writes ./gpugrad-demo here; mount a host folder (-v "$PWD/out:/out") to keep it.
VOLUME ["/out"]
CMD ["gpugrad", "demo", "--device", "cuda"]
