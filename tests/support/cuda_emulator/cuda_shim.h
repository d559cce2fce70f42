// cuda_shim.h: just enough of CUDA's device-side C++ for gpugrad's kernels (kernels/*.cu) to
// compile with the host C++ compiler and run on the CPU, for tests without a GPU.
//
// What it models:
//   - the launch: gridDim/blockDim/blockIdx/threadIdx; blocks run one after another; the threads
//     of one block run as fibers (ucontext) on the calling OS thread, switching only at
//     __syncthreads and warp shuffles, so a run is deterministic;
//   - __syncthreads: a barrier over the block's threads that have not exited (as on Volta+);
//   - __shfl_xor_sync / __shfl_down_sync (full-warp masks only): an exchange over the 32 lanes of
//     a warp (lane = linear thread id % 32); reading a lane that exited is reported as an error;
//   - a deadlock (threads waiting at different barriers: divergent __syncthreads) is reported;
//   - __shared__ memory as `static` (one block runs at a time); atomics, bit casts, float4 &c.
//   - built by loader.py with -fsanitize=alignment,bounds,null (recovering): a misaligned typed
//     load or store (a float4 / double2 vector access off a 16-byte boundary), an out-of-bounds
//     index into a fixed-size array (__shared__ T s[32]) or a null dereference is reported as a
//     launch error. UBSan reports each source location once per process; after that, a
//     misaligned vector access is still caught where x86 faults on it (an aligned SSE move).
//   - a fault in a kernel (SIGSEGV, SIGBUS, SIGFPE) ends the launch with an error naming the thread
//     and block, not the process (emulator_launch.h).
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

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <ucontext.h>

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

// One OS thread runs a launch (loader.py serializes launches), so plain globals suffice.
inline uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
constexpr int warpSize = 32;

namespace emu {

enum class State { runnable, at_block_barrier, at_shuffle, done };

struct Fiber {
    ucontext_t context;
    std::vector<char> stack;
    State state = State::runnable;
    uint64_t shuffle_value = 0;  // what this lane offers
    int shuffle_source = 0;      // the lane it reads
    uint64_t shuffle_result = 0;
};

struct Launch {
    std::vector<Fiber> fibers;  // one per thread of the block (reused across blocks)
    ucontext_t scheduler;
    int current = -1;           // the fiber running now; -1 outside cooperative mode
    const std::function<void()>* body = nullptr;
    std::string error;          // the first error of this launch
};

inline Launch launch_state;

inline void fail(const std::string& message) {
    if (launch_state.error.empty()) {
        launch_state.error = message;
    }
}

inline unsigned linear_thread() {
    return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}

// Give control back to the scheduler; returns once this fiber's barrier has completed.
inline void wait_as(State state) {
    Launch& L = launch_state;
    if (L.current < 0) {
        throw std::logic_error("a sync primitive ran in a kernel compiled without "
                               "cooperative mode (the loader saw no __syncthreads/__shfl)");
    }
    Fiber& me = L.fibers[L.current];
    me.state = state;
    swapcontext(&me.context, &L.scheduler);
}

inline void fiber_main() {
    Launch& L = launch_state;
    try {
        (*L.body)();
    } catch (const std::exception& e) {
        fail(std::string("exception in kernel: ") + e.what());
    } catch (...) {
        fail("unknown exception in kernel");
    }
    L.fibers[L.current].state = State::done;
    // returning resumes uc_link, the scheduler
}

inline void set_thread(unsigned t) {
    threadIdx.x = t % blockDim.x;
    threadIdx.y = (t / blockDim.x) % blockDim.y;
    threadIdx.z = t / (blockDim.x * blockDim.y);
}

// Complete the barriers that every live participant has reached; false when none could.
inline bool release_barriers(unsigned n) {
    Launch& L = launch_state;
    bool released = false;
    unsigned live = 0, at_block = 0;
    for (unsigned t = 0; t < n; ++t) {
        live += L.fibers[t].state != State::done;
        at_block += L.fibers[t].state == State::at_block_barrier;
    }
    if (live && at_block == live) {
        for (unsigned t = 0; t < n; ++t) {
            if (L.fibers[t].state == State::at_block_barrier) {
                L.fibers[t].state = State::runnable;
            }
        }
        return true;
    }
    for (unsigned w = 0; w * 32 < n; ++w) {
        const unsigned first = w * 32, last = std::min(n, first + 32);
        unsigned live_lanes = 0, shuffling = 0;
        for (unsigned t = first; t < last; ++t) {
            live_lanes += L.fibers[t].state != State::done;
            shuffling += L.fibers[t].state == State::at_shuffle;
        }
        if (!shuffling || shuffling != live_lanes) {
            continue;
        }
        for (unsigned t = first; t < last; ++t) {
            Fiber& f = L.fibers[t];
            if (f.state != State::at_shuffle) {
                continue;
            }
            const unsigned source = first + f.shuffle_source;
            if (source >= last || L.fibers[source].state != State::at_shuffle) {
                fail("warp shuffle in warp " + std::to_string(w) + ": lane " +
                     std::to_string(t - first) + " reads lane " +
                     std::to_string(f.shuffle_source) + ", which has exited or does not exist");
                f.shuffle_result = f.shuffle_value;
            } else {
                f.shuffle_result = L.fibers[source].shuffle_value;
            }
        }
        for (unsigned t = first; t < last; ++t) {
            if (L.fibers[t].state == State::at_shuffle) {
                L.fibers[t].state = State::runnable;
            }
        }
        released = true;
    }
    return released;
}

// Run one block whose threads synchronize: fibers, resumed round-robin until all are done.
inline void run_block_cooperative(unsigned n) {
    Launch& L = launch_state;
    constexpr size_t stack_bytes = 256 * 1024;
    if (L.fibers.size() < n) {
        L.fibers.resize(n);
    }
    for (unsigned t = 0; t < n; ++t) {
        Fiber& f = L.fibers[t];
        if (f.stack.size() != stack_bytes) {  // first use: a context to re-make every block
            f.stack.assign(stack_bytes, 0);
            getcontext(&f.context);
        }
        f.context.uc_stack.ss_sp = f.stack.data();
        f.context.uc_stack.ss_size = f.stack.size();
        f.context.uc_link = &L.scheduler;
        makecontext(&f.context, fiber_main, 0);
        f.state = State::runnable;
    }
    for (;;) {
        bool ran = false;
        for (unsigned t = 0; t < n; ++t) {
            if (L.fibers[t].state == State::runnable) {
                L.current = static_cast<int>(t);
                set_thread(t);
                swapcontext(&L.scheduler, &L.fibers[t].context);
                ran = true;
            }
        }
        L.current = -1;
        bool all_done = true;
        for (unsigned t = 0; t < n; ++t) {
            all_done = all_done && L.fibers[t].state == State::done;
        }
        if (all_done) {
            return;
        }
        if (!release_barriers(n) && !ran) {
            fail("deadlock in block (" + std::to_string(blockIdx.x) + ", " +
                 std::to_string(blockIdx.y) + ", " + std::to_string(blockIdx.z) +
                 "): threads wait at different barriers (a __syncthreads or shuffle that not "
                 "every live thread of the block or warp reaches)");
            return;  // the waiting fibers are abandoned; they own no resources
        }
    }
}

inline void run(dim3 grid, dim3 block, bool cooperative, const std::function<void()>& body) {
    Launch& L = launch_state;
    L.error.clear();
    L.body = &body;
    L.current = -1;
    gridDim = grid;
    blockDim = block;
    const unsigned n = block.x * block.y * block.z;
    for (unsigned z = 0; z < grid.z && L.error.empty(); ++z) {
        for (unsigned y = 0; y < grid.y && L.error.empty(); ++y) {
            for (unsigned x = 0; x < grid.x && L.error.empty(); ++x) {
                blockIdx = {x, y, z};
                if (cooperative) {
                    run_block_cooperative(n);
                    continue;
                }
                for (unsigned t = 0; t < n; ++t) {  // no barriers: each thread runs to the end
                    set_thread(t);
                    body();
                }
            }
        }
    }
}

template <typename T>
T shuffle(unsigned mask, T value, int source_lane) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a wide type");
    if (mask != 0xffffffffu) {
        fail("only full-warp masks (0xffffffff) are emulated for warp shuffles");
    }
    Fiber& me = launch_state.fibers.at(launch_state.current < 0 ? 0 : launch_state.current);
    me.shuffle_value = 0;
    std::memcpy(&me.shuffle_value, &value, sizeof(T));
    me.shuffle_source = source_lane;
    wait_as(State::at_shuffle);
    T out;
    std::memcpy(&out, &me.shuffle_result, sizeof(T));
    return out;
}

template <typename To, typename From>
To bit_cast(From v) {
    static_assert(sizeof(To) == sizeof(From), "bit cast between different sizes");
    To out;
    std::memcpy(&out, &v, sizeof(To));
    return out;
}

}  // namespace emu

inline void __syncthreads() { emu::wait_as(emu::State::at_block_barrier); }
inline void __syncwarp(unsigned = 0xffffffffu) {}  // lanes are not in lockstep anyway
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = 32) {
    if (width != 32) {
        emu::fail("__shfl_xor_sync: only width 32 is emulated");
    }
    return emu::shuffle(mask, value, static_cast<int>(emu::linear_thread() % 32) ^ lane_mask);
}

template <typename T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = 32) {
    if (width != 32) {
        emu::fail("__shfl_down_sync: only width 32 is emulated");
    }
    const int lane = static_cast<int>(emu::linear_thread() % 32);
    const int source = lane + static_cast<int>(delta);
    return emu::shuffle(mask, value, source < 32 ? source : lane);  // past the end: own value
}

template <typename T>
T __shfl_sync(unsigned mask, T value, int source_lane, int width = 32) {
    if (width != 32) {
        emu::fail("__shfl_sync: only width 32 is emulated");
    }
    return emu::shuffle(mask, value, source_lane & 31);
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
