// cuda_shim.h: just enough of CUDA's device-side C++ for gpugrad's kernels (kernels/*.cu) to
// compile with the host C++ compiler and run on the CPU, for tests without a GPU. This header is
// what a kernel source sees; the launch itself (blocks, fibers, barriers, shuffles, faults) lives
// in emulator_runtime.cpp, compiled once and shared by every kernel library (loader.py), so a
// kernel source compiles in about a second.
//
// What it models:
//   - the launch: gridDim/blockDim/blockIdx/threadIdx; blocks run one after another; the threads
//     of one block run as fibers on the calling OS thread, switching only at __syncthreads and
//     warp shuffles, so a run is deterministic. A kernel that calls neither (as loader.py's
//     cooperative_kernels judges) runs its threads as plain calls instead. A fiber is started
//     once (ucontext) and reused for a thread of every later block; switches are
//     _setjmp/_longjmp, which skip ucontext's signal-mask system call;
//   - __syncthreads: a barrier over the block's threads that have not exited (as on Volta+);
//   - __shfl_xor_sync / __shfl_down_sync / __shfl_sync (full-warp masks, width 32): an exchange
//     over the 32 lanes of a warp (lane = linear thread id % 32); reading a lane that exited is
//     reported as an error;
//   - a deadlock (threads waiting at different barriers: divergent __syncthreads) is reported;
//   - __shared__ memory as `static` (one block runs at a time); atomics, bit casts, float4 &c.
//   - built by loader.py with -fsanitize=alignment,bounds,null (recovering): a misaligned typed
//     load or store (a float4 / double2 vector access off a 16-byte boundary), an out-of-bounds
//     index into a fixed-size array (__shared__ T s[32]) or a null dereference is reported as a
//     launch error. UBSan reports each source location once per process; after that, a
//     misaligned vector access is still caught where x86 faults on it (an aligned SSE move).
//   - a fault in a kernel (SIGSEGV, SIGBUS, SIGFPE) ends the launch with an error naming the thread
//     and block, not the process (emulator_runtime.cpp).
//
// What it does NOT model: the memory model (no caches, coalescing, bank conflicts, weak
// ordering), data races (nothing detects them; fibers never interleave between sync points),
// independent thread scheduling and warp divergence (lanes of a warp do not run in lockstep),
// out-of-bounds accesses through raw pointers into global memory that land in mapped host memory
// (they read or corrupt it silently; the fake CuPy's 0xff-filled `empty` exposes unwritten
// outputs), plain misaligned scalar pointer casts the sanitizer cannot see, timing, occupancy,
// register or shared-memory limits, streams, and any intrinsic not defined below (a compile error
// says so).
#pragma once

#include <math.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __shared__ static
#define __constant__ static
#define __launch_bounds__(...)

struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1)
        : x(x_), y(y_), z(z_) {}
};
struct uint3 {
    unsigned int x, y, z;
};

struct alignas(8) float2 {
    float x, y;
};
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(16) double2 {
    double x, y;
};
struct alignas(16) int4 {
    int x, y, z, w;
};
struct alignas(16) longlong2 {
    long long x, y;
};

// The launch's built-in variables: defined once, in the runtime (one launch at a time).
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
constexpr int warpSize = 32;

// What the kernels call in the runtime (emulator_runtime.cpp).
namespace emu {

void fail(const char* message);  // the launch fails with this message (the first one counts)
void barrier();                  // __syncthreads
// A warp shuffle of 8 bytes: returns what lane `source_lane` of this warp offers.
unsigned long long shuffle(unsigned mask, unsigned long long value, int source_lane);

inline unsigned linear_thread() {
    return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}

template <typename To, typename From>
To bit_cast(From v) {
    static_assert(sizeof(To) == sizeof(From), "bit cast between different sizes");
    To out;
    std::memcpy(&out, &v, sizeof(To));
    return out;
}

template <typename T>
T shuffle_value(unsigned mask, T value, int source_lane) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a wide type");
    unsigned long long bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    bits = shuffle(mask, bits, source_lane);
    T out;
    std::memcpy(&out, &bits, sizeof(T));
    return out;
}

}  // namespace emu

inline void __syncthreads() { emu::barrier(); }
inline void __syncwarp(unsigned = 0xffffffffu) {}  // lanes are not in lockstep anyway
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = 32) {
    if (width != 32) {
        emu::fail("__shfl_xor_sync: only width 32 is emulated");
    }
    return emu::shuffle_value(mask, value, static_cast<int>(emu::linear_thread() % 32) ^ lane_mask);
}

template <typename T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = 32) {
    if (width != 32) {
        emu::fail("__shfl_down_sync: only width 32 is emulated");
    }
    const int lane = static_cast<int>(emu::linear_thread() % 32);
    const int source = lane + static_cast<int>(delta);
    return emu::shuffle_value(mask, value, source < 32 ? source : lane);  // past the end: own value
}

template <typename T>
T __shfl_sync(unsigned mask, T value, int source_lane, int width = 32) {
    if (width != 32) {
        emu::fail("__shfl_sync: only width 32 is emulated");
    }
    return emu::shuffle_value(mask, value, source_lane & 31);
}

inline float __uint_as_float(unsigned v) { return emu::bit_cast<float>(v); }
inline unsigned __float_as_uint(float v) { return emu::bit_cast<unsigned>(v); }
inline float __int_as_float(int v) { return emu::bit_cast<float>(v); }
inline int __float_as_int(float v) { return emu::bit_cast<int>(v); }
inline double __longlong_as_double(long long v) { return emu::bit_cast<double>(v); }
inline long long __double_as_longlong(double v) { return emu::bit_cast<long long>(v); }

// Atomics: one OS thread runs the block's fibers and a fiber never switches inside these, so a
// plain read-modify-write is atomic here.
template <typename T>
T emu_atomic_add(T* address, T value) {
    const T old = *address;
    *address = old + value;
    return old;
}
inline float atomicAdd(float* a, float v) { return emu_atomic_add(a, v); }
inline double atomicAdd(double* a, double v) { return emu_atomic_add(a, v); }
inline int atomicAdd(int* a, int v) { return emu_atomic_add(a, v); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return emu_atomic_add(a, v); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
    return emu_atomic_add(a, v);
}
template <typename T>
T atomicMax(T* a, T v) {
    const T old = *a;
    *a = old < v ? v : old;
    return old;
}
template <typename T>
T atomicCAS(T* a, T compare, T value) {
    const T old = *a;
    *a = old == compare ? value : old;
    return old;
}

inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float v) { return 1.0f / sqrtf(v); }
inline double rsqrt(double v) { return 1.0 / sqrt(v); }
template <typename T>
T __ldg(const T* p) { return *p; }
