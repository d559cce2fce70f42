"""The CUDA-on-CPU emulator itself (tests/support/cuda_emulator) through the fake CuPy's
``RawModule`` (tests/support/fake_cupy.py): barriers, shared memory and warp shuffles give CUDA's
answers; bad launches, bad arguments, misaligned vector accesses and deadlocks are errors naming
the problem. The fake CuPy's own rules: test_fake_cupy.py."""
import numpy as np
import pytest

from support import cuda_emulator
from support.fake_cupy import FakeCupy

fake_cupy = FakeCupy()

pytestmark = pytest.mark.skipif(cuda_emulator.unavailable_reason() is not None,
                                reason=str(cuda_emulator.unavailable_reason()))

# A block sum three ways: shuffles within each warp, warp totals through shared memory, and an
# atomicAdd of each block's total; also a shift by __shfl_down_sync.
SOURCE = r"""
extern "C" __global__ void block_sum(const float* x, float* block_totals, float* total,
                                     long long n) {
    __shared__ float warp_totals[32];
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < n ? x[i] : 0.0f;
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, offset);
    }
    if ((threadIdx.x & 31) == 0) {
        warp_totals[threadIdx.x >> 5] = v;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        float s = 0.0f;
        for (unsigned w = 0; w < blockDim.x / 32; ++w) {
            s += warp_totals[w];
        }
        block_totals[blockIdx.x] = s;
        atomicAdd(total, s);
    }
}

extern "C" __global__ void shift_down(const double* x, double* out, int delta) {
    out[threadIdx.x] = __shfl_down_sync(0xffffffffu, x[threadIdx.x], delta);
}

extern "C" __global__ void vector_copy(const float* x, float* out, long long offset) {
    reinterpret_cast<float4*>(out)[threadIdx.x] =
        reinterpret_cast<const float4*>(x + offset)[threadIdx.x];
}

extern "C" __global__ void wild_write(float* out, long long offset) {
    out[offset + threadIdx.x] = 1.0f;
}

extern "C" __global__ void divergent_barrier(float* out) {
    float v = 0.0f;
    if (threadIdx.x < 16) {
        __syncthreads();  // half the warp waits here, the other half in the shuffle: a hang
    } else {
        v = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
        __syncthreads();
    }
    out[threadIdx.x] = v;
}

// A barrier reached through a function pointer: loader.cooperative_kernels cannot see it.
__device__ void barrier() { __syncthreads(); }
__device__ void (*volatile hidden_barrier)() = barrier;

extern "C" __global__ void hidden_sync(float* out) {
    hidden_barrier();
    out[threadIdx.x] = 1.0f;
}

extern "C" __global__ void early_exit_shuffle(float* out) {
    if (threadIdx.x == 1) {
        return;
    }
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}
"""


@pytest.fixture(scope="module")
def module():
    return fake_cupy.RawModule(code=SOURCE, options=("--std=c++17",))


def test_block_sum_with_shuffles_shared_memory_and_atomics(module):
    x = fake_cupy.asarray(np.arange(1000, dtype=np.float32) % 7)
    block_totals = fake_cupy.full(4, 0.0, np.float32)
    total = fake_cupy.full(1, 0.0, np.float32)
    module.get_function("block_sum")((4,), (256,), (x, block_totals, total, 1000))
    want = (np.arange(1024) % 7 * (np.arange(1024) < 1000)).reshape(4, 256).sum(axis=1)
    np.testing.assert_array_equal(block_totals.get(), want)
    assert total.get()[0] == want.sum()


def test_shfl_down_keeps_its_own_value_past_the_warp(module):
    x = fake_cupy.asarray(np.arange(64, dtype=np.float64))
    out = fake_cupy.empty(64, np.float64)
    module.get_function("shift_down")((1,), (64,), (x, out, np.int32(3)))
    lane = np.arange(64) % 32
    np.testing.assert_array_equal(out.get(), np.where(lane + 3 < 32, np.arange(64) + 3,
                                                      np.arange(64)))


def test_unknown_kernel_names_the_ones_there_are(module):
    with pytest.raises(cuda_emulator.EmulatorError, match="no __global__ function 'nope'.*"
                                                          "block_sum"):
        module.get_function("nope")


@pytest.mark.parametrize("bad, message", [
    (np.zeros(4, np.float32), "a NumPy array is host memory"),
    (None, "NoneType is not supported"),
    (7, "parameter is a pointer, but CuPy would pass int as long long"),
])
def test_a_pointer_parameter_takes_only_device_arrays(module, bad, message):
    out = fake_cupy.empty(64, np.float64)
    with pytest.raises(TypeError, match=message):
        module.get_function("shift_down")((1,), (32,), (bad, out, np.int32(1)))


def test_arguments_must_have_the_parameter_types(module):
    x, out = fake_cupy.asarray(np.zeros(32)), fake_cupy.empty(32, np.float64)
    kernel = module.get_function("shift_down")
    # a Python int goes as 8 bytes; the kernel's `int` takes 4: every later parameter would shift
    with pytest.raises(TypeError, match="argument 2: the parameter is int, but CuPy would pass "
                                        "int as long long"):
        kernel((1,), (32,), (x, out, 1))
    with pytest.raises(TypeError, match="takes 3 arguments, got 2"):
        kernel((1,), (32,), (x, out))


@pytest.mark.parametrize("block", [(2048,), (32, 64), (1, 1, 65)])
def test_invalid_launch_configurations_are_refused(module, block):
    x, out = fake_cupy.asarray(np.zeros(32)), fake_cupy.empty(32, np.float64)
    with pytest.raises(cuda_emulator.EmulatorError, match="invalid configuration argument"):
        module.get_function("shift_down")((1,), block, (x, out, np.int32(1)))


def test_misaligned_vector_access_is_reported(module):
    if cuda_emulator.loader._SANITIZER_WORKS.get(cuda_emulator.find_compiler()) is False:
        pytest.skip("this compiler cannot link UBSan into a shared library")
    x, out = fake_cupy.asarray(np.arange(40, dtype=np.float32)), fake_cupy.empty(32, np.float32)
    module.get_function("vector_copy")((1,), (8,), (x, out, 4))  # 16 bytes in: aligned
    np.testing.assert_array_equal(out.get(), np.arange(4, 36))
    with pytest.raises(cuda_emulator.EmulatorError, match="misaligned.*16 byte alignment"):
        module.get_function("vector_copy")((1,), (8,), (x, out, 1))


def test_a_fault_in_a_kernel_is_an_error_not_a_crash(module):
    out = fake_cupy.empty(32, np.float32)
    with pytest.raises(cuda_emulator.EmulatorError, match="kernel wild_write: Segmentation fault"):
        module.get_function("wild_write")((1,), (32,), (out, -(2**60)))
    module.get_function("wild_write")((1,), (32,), (out, 0))  # the module still works
    np.testing.assert_array_equal(out.get(), np.ones(32))


def test_divergent_barrier_is_a_deadlock(module):
    out = fake_cupy.empty(32, np.float32)
    with pytest.raises(cuda_emulator.EmulatorError, match="deadlock"):
        module.get_function("divergent_barrier")((1,), (32,), (out,))


def test_shuffle_from_an_exited_lane_is_reported(module):
    out = fake_cupy.empty(32, np.float32)
    with pytest.raises(cuda_emulator.EmulatorError, match="lane 0 reads lane 1, which has exited"):
        module.get_function("early_exit_shuffle")((1,), (32,), (out,))


def test_compile_errors_carry_the_compiler_message():
    with pytest.raises(cuda_emulator.EmulatorError, match="(?s)compiling the kernels.*undeclared"):
        fake_cupy.RawModule(code='extern "C" __global__ void k() { undeclared_name(); }')


def test_nvrtc_include_paths_and_macros_carry_over(tmp_path):
    (tmp_path / "scale.cuh").write_text("#pragma once\n"
                                        "__device__ __forceinline__ float scale() { return SCALE; }\n")
    source = ('#include "scale.cuh"\n'
              'extern "C" __global__ void fill(float* out) { out[threadIdx.x] = scale(); }\n')
    module = fake_cupy.RawModule(code=source, options=("--std=c++17", f"-I{tmp_path}",
                                                       "--define-macro=SCALE=2.5f"))
    out = fake_cupy.empty(4, np.float32)
    module.get_function("fill")((1,), (4,), (out,))
    np.testing.assert_array_equal(out.get(), np.full(4, 2.5, np.float32))
    with pytest.raises(NotImplementedError, match="NVRTC option '-use_fast_math'"):
        fake_cupy.RawModule(code=source, options=("-use_fast_math",))


def test_only_kernels_that_may_synchronize_run_as_fibers():
    source = r"""
#define BARRIER() __syncthreads()
template <typename T> __device__ __forceinline__ T warp_sum(T v) {
    return v + __shfl_xor_sync(0xffffffffu, v, 1);  // a comment: __syncthreads
}
__device__ float via_helper(float v) { return warp_sum(v); }
__device__ float plain(float v) { return v * 2.0f; }  /* warp_sum( */
extern "C" {
__global__ void __launch_bounds__(256) uses_helper(float* x) { x[0] = via_helper(x[0]); }
__global__ void uses_macro(float* x) { BARRIER(); }
__global__ void no_sync(float* x) { x[threadIdx.x] = plain(x[0]); const char* s = "warp_sum("; }
__global__ void syncs(float* x) { __syncthreads(); }
}
"""
    loader = cuda_emulator.loader
    assert loader.cooperative_kernels(source) == {"uses_helper", "uses_macro", "syncs"}
    # the kernels it cannot follow count as cooperative
    assert loader.cooperative_kernels('__global__ void k(float* x) { if (x) {') == {"k"}


def test_a_sync_the_loader_missed_fails_the_launch_loudly(module):
    assert "hidden_sync" not in cuda_emulator.loader.cooperative_kernels(SOURCE)
    out = fake_cupy.empty(32, np.float32)
    with pytest.raises(cuda_emulator.EmulatorError, match="hidden_sync.*launched without fibers"):
        module.get_function("hidden_sync")((1,), (32,), (out,))
    module.get_function("block_sum")((1,), (32,), (fake_cupy.zeros(32, np.float32),
                                                   fake_cupy.zeros(1, np.float32),
                                                   fake_cupy.zeros(1, np.float32), 32))


def test_every_module_reports_to_the_one_runtime(module):
    """A second kernel library's UBSan reports reach the runtime that all of them share."""
    if cuda_emulator.loader._SANITIZER_WORKS.get(cuda_emulator.find_compiler()) is False:
        pytest.skip("this compiler cannot link UBSan into a shared library")
    other = fake_cupy.RawModule(code=r"""
extern "C" __global__ void copy4(const float* x, float* out) {
    const float4* shifted = reinterpret_cast<const float4*>(x + 1);
    reinterpret_cast<float4*>(out)[threadIdx.x] = shifted[threadIdx.x];
}""")
    x, out = fake_cupy.asarray(np.arange(40, dtype=np.float32)), fake_cupy.empty(32, np.float32)
    with pytest.raises(cuda_emulator.EmulatorError, match="kernel copy4: .*misaligned"):
        other.get_function("copy4")((1,), (8,), (x, out))
