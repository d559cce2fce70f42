// emulator_runtime.cpp: the launch of the CUDA-on-CPU emulator, shared by every kernel library.
// loader.py compiles it once into a shared library that it loads (RTLD_GLOBAL) before any kernel
// library, whose references to emu::launch, emu::barrier, emu::shuffle, emu::fail and the
// built-in variables resolve here. One launch runs at a time (loader.py holds a lock), so the
// launch state is plain globals. What it models: cuda_shim.h.
//
// A launch is checked like CUDA's (block and grid limits); an exception, a UBSan report or a fault
// (SIGSEGV & co) in the kernel ends it with an error message instead of ending the process.
#include <setjmp.h>
#include <signal.h>
#include <ucontext.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "emulator_launch.h"

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace emu {

enum class State { runnable, at_block_barrier, at_shuffle, done };

struct Fiber {
    jmp_buf context;              // where the fiber resumes, once started
    ucontext_t boot;              // its first start: fiber_loop on its own stack
    std::unique_ptr<char[]> stack;
    bool started = false;         // false: (re)start it from the top of fiber_loop
    State state = State::done;
    uint64_t shuffle_value = 0;   // what this lane offers
    int shuffle_source = 0;       // the lane it reads
    uint64_t shuffle_result = 0;
};

constexpr unsigned max_block_threads = 1024;

struct Launch {
    // one per thread of the block, reused across blocks and launches; sized once, never moved
    // (a suspended fiber's stack refers into it)
    std::vector<Fiber> fibers;
    jmp_buf scheduler;
    int current = -1;             // the fiber running now; -1 outside cooperative mode
    Body body = nullptr;
    void** params = nullptr;
    std::string error;            // the first error of this launch
};

Launch launch_state;
std::string last_error;

void fail(const char* message) {
    if (launch_state.error.empty()) {
        launch_state.error = message;
    }
}

void fail(const std::string& message) { fail(message.c_str()); }

void require_cooperative() {
    if (launch_state.current < 0) {
        throw std::logic_error("a sync primitive ran in a kernel launched without fibers "
                               "(loader.cooperative_kernels found no __syncthreads/__shfl in "
                               "what it calls): extend cooperative_kernels");
    }
}

// Suspend the running fiber in `state` and resume the scheduler; returns when the scheduler
// resumes this fiber.
void suspend(Fiber& me, State state) {
    me.state = state;
    if (_setjmp(me.context) == 0) {
        _longjmp(launch_state.scheduler, 1);
    }
}

// Give control back to the scheduler; returns once this fiber's barrier has completed.
void wait_as(State state) {
    require_cooperative();
    suspend(launch_state.fibers[launch_state.current], state);
}

void barrier() { wait_as(State::at_block_barrier); }

unsigned long long shuffle(unsigned mask, unsigned long long value, int source_lane) {
    if (mask != 0xffffffffu) {
        fail("only full-warp masks (0xffffffff) are emulated for warp shuffles");
    }
    require_cooperative();
    Fiber& me = launch_state.fibers[launch_state.current];
    me.shuffle_value = value;
    me.shuffle_source = source_lane;
    wait_as(State::at_shuffle);
    return me.shuffle_result;
}

// Every fiber runs this forever: the kernel body for the thread it is given, then it waits to be
// given a thread of the next block.
void fiber_loop() {
    Launch& L = launch_state;
    for (;;) {
        try {
            L.body(L.params);
        } catch (const std::exception& e) {
            fail(std::string("exception in kernel: ") + e.what());
        } catch (...) {
            fail("unknown exception in kernel");
        }
        suspend(L.fibers[L.current], State::done);
    }
}

// Run fiber `f` (the thread set_thread chose) until it suspends or finishes.
void resume(Fiber& f) {
    constexpr size_t stack_bytes = 256 * 1024;
    if (_setjmp(launch_state.scheduler) != 0) {
        return;  // the fiber suspended
    }
    if (f.started) {
        _longjmp(f.context, 1);
    }
    if (!f.stack) {
        f.stack.reset(new char[stack_bytes]);  // not touched: the pages come as they are used
    }
    getcontext(&f.boot);
    f.boot.uc_stack.ss_sp = f.stack.get();
    f.boot.uc_stack.ss_size = stack_bytes;
    f.boot.uc_link = nullptr;  // fiber_loop never returns
    makecontext(&f.boot, fiber_loop, 0);
    f.started = true;
    setcontext(&f.boot);
}

// Forget every fiber's place (after a fault or deadlock abandoned a block mid-way): each starts
// from the top of fiber_loop next time, on the same stack.
void abandon_fibers() {
    for (Fiber& f : launch_state.fibers) {
        f.started = false;
        f.state = State::done;
    }
    launch_state.current = -1;
}

void set_thread(unsigned t) {
    threadIdx.x = t % blockDim.x;
    threadIdx.y = (t / blockDim.x) % blockDim.y;
    threadIdx.z = t / (blockDim.x * blockDim.y);
}

// Complete the barriers that every live participant has reached; false when none could.
bool release_barriers(unsigned n) {
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
void run_block_cooperative(unsigned n) {
    Launch& L = launch_state;
    if (L.fibers.size() < max_block_threads) {  // once, before any fiber runs
        L.fibers.resize(max_block_threads);
    }
    for (unsigned t = 0; t < n; ++t) {
        L.fibers[t].state = State::runnable;
    }
    for (;;) {
        bool ran = false;
        for (unsigned t = 0; t < n; ++t) {
            if (L.fibers[t].state == State::runnable) {
                L.current = static_cast<int>(t);
                set_thread(t);
                resume(L.fibers[t]);
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
            abandon_fibers();  // the waiting ones own no resources
            return;
        }
    }
}

void run(dim3 grid, dim3 block, bool cooperative) {
    Launch& L = launch_state;
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
                    L.body(L.params);
                }
            }
        }
    }
}

// Faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL) during a launch jump back to launch, on an alternate
// stack (a fiber's stack may be what overflowed); the process's own handlers (Python's
// faulthandler) are restored afterwards. A fault inside the C library (say, in malloc) could leave
// a lock held: the process may hang later, but it says why first.
sigjmp_buf fault_jump;
int fault_signal = 0;
void* fault_address = nullptr;

void on_fault(int signal, siginfo_t* info, void*) {
    fault_signal = signal;
    fault_address = info->si_addr;
    siglongjmp(fault_jump, 1);
}

struct FaultGuard {
    static constexpr int signals[4] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    struct sigaction previous[4];
    stack_t previous_stack;
    std::vector<char> stack = std::vector<char>(1 << 16);

    FaultGuard() {
        stack_t alternate{};
        alternate.ss_sp = stack.data();
        alternate.ss_size = stack.size();
        sigaltstack(&alternate, &previous_stack);
        struct sigaction action{};
        action.sa_sigaction = on_fault;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        for (int i = 0; i < 4; ++i) sigaction(signals[i], &action, &previous[i]);
    }
    ~FaultGuard() {
        for (int i = 0; i < 4; ++i) sigaction(signals[i], &previous[i], nullptr);
        sigaltstack(&previous_stack, nullptr);
    }
};

std::string check_config(dim3 g, dim3 b) {
    const unsigned long long threads = 1ull * b.x * b.y * b.z;
    if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z) return "a grid or block dimension is 0";
    if (b.x > 1024 || b.y > 1024 || b.z > 64 || threads > 1024)
        return "more than 1024 threads per block (or block.x/y > 1024, block.z > 64)";
    if (g.x > 2147483647u || g.y > 65535 || g.z > 65535)
        return "grid.x > 2^31 - 1 or grid.y/z > 65535";
    return "";
}

int launch(const char* name, dim3 grid, dim3 block, bool cooperative, Body body, void** params) {
    last_error.clear();
    if (body == nullptr) {
        last_error = std::string("no __global__ function named '") + name + "' in this module";
        return 1;
    }
    const std::string bad = check_config(grid, block);
    if (!bad.empty()) {
        last_error = std::string("invalid configuration argument launching ") + name + ": " + bad;
        return 2;
    }
    Launch& L = launch_state;
    L.error.clear();
    L.body = body;
    L.params = params;
    FaultGuard guard;  // a fault in the kernel comes back here instead of ending the process
    if (sigsetjmp(fault_jump, 1) == 0) {
        try {
            run(grid, block, cooperative);
        } catch (const std::exception& e) {
            fail(std::string("exception: ") + e.what());
        }
    } else {
        char where[64];
        std::snprintf(where, sizeof where, "%p", fault_address);
        fail(std::string(strsignal(fault_signal)) + " at address " + where + " (thread (" +
             std::to_string(threadIdx.x) + ", " + std::to_string(threadIdx.y) + ", " +
             std::to_string(threadIdx.z) + ") of block (" + std::to_string(blockIdx.x) + ", " +
             std::to_string(blockIdx.y) + ", " + std::to_string(blockIdx.z) +
             "): an access out of bounds or, for a vector type, off its alignment)");
        abandon_fibers();  // the faulting fiber and its block are abandoned
    }
    L.body = nullptr;
    if (!L.error.empty()) {
        last_error = std::string("kernel ") + name + ": " + L.error;
        return 3;
    }
    return 0;
}

}  // namespace emu

#ifndef EMU_NO_UBSAN
extern "C" void __ubsan_get_current_report_data(const char**, const char**, const char**,
                                                unsigned*, unsigned*, char**);

// UBSan calls this for each report it prints (loader.py builds with -fsanitize-recover). The
// runtime is loaded first and globally, so every kernel library's reports come here.
extern "C" void __ubsan_on_report() {
    const char *kind = "", *message = "", *file = "";
    unsigned line = 0, column = 0;
    char* address = nullptr;
    __ubsan_get_current_report_data(&kind, &message, &file, &line, &column, &address);
    emu::fail(std::string(kind) + ": " + message + " (" + file + ":" + std::to_string(line) + ")");
}
#endif

extern "C" const char* emu_last_error() { return emu::last_error.c_str(); }
