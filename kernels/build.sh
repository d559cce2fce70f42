#!/usr/bin/env bash
# Compile every kernels/*.cu with nvcc for sm_80 and sm_90; fail on any error or warning-as-error.
# At run time the cuda backend compiles the same sources with NVRTC through cupy.RawModule;
# this build only proves they compile, so CI catches mistakes without a GPU.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
shopt -s nullglob
sources=("$here"/*.cu)
if [ "${#sources[@]}" -eq 0 ]; then
    echo "kernels/build.sh: no kernels/*.cu to compile" >&2
    exit 1
fi
for src in "${sources[@]}"; do
    name="$(basename "$src" .cu)"
    nvcc -std=c++17 -O3 -Werror all-warnings \
        -gencode arch=compute_80,code=sm_80 \
        -gencode arch=compute_90,code=sm_90 \
        -c "$src" -o "$out/$name.o"
    echo "compiled kernels/$name.cu for sm_80 and sm_90"
done
