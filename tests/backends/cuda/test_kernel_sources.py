"""kernels/*.cu: every kernel the cuda backend launches exists with C linkage, and every source
compiles for sm_80 and sm_90 with the machine's nvcc (warnings are errors), as CI requires."""
import glob
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
KERNELS = os.path.join(ROOT, "kernels")
SOURCES = sorted(glob.glob(os.path.join(KERNELS, "*.cu")))


def _extern_c_kernels(path):
    """Names of the ``__global__`` functions inside the file's ``extern "C" { ... }`` block."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.find('extern "C" {')
    assert start >= 0, f"{path} has no extern \"C\" block (cupy.RawModule finds kernels by name)"
    return set(re.findall(r"__global__\s+void\s+(\w+)\s*\(", text[start:]))


def test_every_launched_kernel_exists_with_c_linkage():
    from gpugrad.backends.cuda import backend, runtime
    from gpugrad.backends.cuda.fused import FUSED_SUFFIX

    launched = {"bias_act_forward", "bias_act_backward", "bias_act_grads", "bias_grad_sum",
                "softmax_xent_forward", "softmax_xent_backward", "sgd_step", "adam_step",
                "im2col", "col2im", "max_pool2d", "max_pool2d_backward"}
    assert set(backend._KERNEL_FILES) == launched
    for base, file_name in backend._KERNEL_FILES.items():
        names = _extern_c_kernels(os.path.join(KERNELS, file_name))
        for suffix in runtime.KERNEL_SUFFIX.values():
            assert f"{base}_{suffix}" in names, f"{file_name} lacks {base}_{suffix}"
        if file_name in ("bias_act.cu", "softmax_cross_entropy.cu"):  # also float16, bfloat16
            for suffix in set(FUSED_SUFFIX.values()) | {"f16", "bf16"}:
                assert f"{base}_{suffix}" in names, f"{file_name} lacks {base}_{suffix}"


def test_sources_include_only_headers_from_kernels():
    """NVRTC (what CuPy compiles with at run time) has no system headers: a source may include
    only a header of kernels/ by a quoted name, which the backend inlines."""
    for path in SOURCES + glob.glob(os.path.join(KERNELS, "*.cuh")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for line in re.findall(r"^\s*#\s*include.*$", text, re.M):
            match = re.fullmatch(r'\s*#\s*include\s+"(\w+\.cuh)"\s*', line)
            assert match, f"{path}: {line.strip()!r} is not a quoted kernels/*.cuh include"
            assert os.path.isfile(os.path.join(KERNELS, match.group(1))), (path, line)


@pytest.mark.slow  # nvcc: 5-20 s
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed (CUDA toolkit)")
def test_build_script_compiles_every_kernel_for_sm80_and_sm90():
    done = subprocess.run(["bash", os.path.join(KERNELS, "build.sh")], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    for path in SOURCES:
        name = os.path.basename(path)
        assert f"compiled kernels/{name} for sm_80 and sm_90" in done.stdout


def test_nvrtc_compiles_every_kernel_as_cupy_does():
    """The run-time path: NVRTC with the options cupy.RawModule adds. Needs CuPy and an NVRTC
    library, not a GPU."""
    pytest.importorskip("cupy", reason="CuPy is not installed")
    # where CuPy is installed, an NVRTC that cannot load or compile fails this test: the cuda
    # backend would fail the same way at its first fused kernel
    from cupy.cuda import compiler

    from gpugrad.backends.cuda.backend import kernel_source

    broken = compiler._NVRTCProgram("__global__ void k() { undeclared(); }", "kernel.cu", (),
                                    (), name_expressions=None, method="cubin")
    with pytest.raises(compiler.CompileException, match="undeclared"):
        broken.compile(("-arch=sm_80",), None)   # a failed compile raises, never passes
    for path in SOURCES:
        source = kernel_source(KERNELS, os.path.basename(path))  # as the backend hands NVRTC
        for arch in ("80", "90"):
            program = compiler._NVRTCProgram(source, "kernel.cu", (), (), name_expressions=None,
                                             method="cubin")
            options = ("--std=c++17", "-ftz=true", f"-arch=sm_{arch}",
                       "--device-as-default-execution-space")
            binary, _ = program.compile(options, None)
            assert binary


def test_kernel_source_inlines_each_header_once(tmp_path):
    from gpugrad.backends.cuda.backend import kernel_source

    (tmp_path / "a.cuh").write_text('#pragma once\nint a;\n')
    (tmp_path / "b.cuh").write_text('#include "a.cuh"\nint b;\n')
    (tmp_path / "k.cu").write_text('#include "a.cuh"\n  #  include "b.cuh"\nint k;\n')
    text = kernel_source(str(tmp_path), "k.cu")
    assert "#include" not in text and "pragma" not in text and text.count("int a;") == 1
    assert text.index("int a;") < text.index("int b;") < text.index("int k;")
    for path in SOURCES:  # the real sources: self-contained once inlined
        assert "#include" not in kernel_source(KERNELS, os.path.basename(path))


@pytest.mark.slow  # nvcc: 5-20 s
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed (CUDA toolkit)")
def test_inlined_sources_compile_as_the_backend_hands_them_over(tmp_path):
    """The text the backend gives NVRTC (headers inlined) compiles with warnings as errors."""
    from gpugrad.backends.cuda.backend import kernel_source

    for path in SOURCES:
        name = os.path.basename(path)
        inlined = tmp_path / name
        inlined.write_text(kernel_source(KERNELS, name))
        done = subprocess.run(["nvcc", "-std=c++17", "-Werror", "all-warnings", "-arch=sm_90",
                               "-c", str(inlined), "-o", str(tmp_path / (name + ".o"))],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
