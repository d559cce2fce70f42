// emulator_launch.h: launching the kernels of one source by name, for loader.py, which includes
// it after the kernel source (cuda_shim.h before it) and then defines the kernel table and the
// extern "C" entry points. Per kernel, templates deduce the parameter types from the function
// (a type code each, for Python's checks) and unpack a cuLaunchKernel-style `void** params`.
// A launch is checked like CUDA's (block and grid limits); an exception, a UBSan report or a
// fault (SIGSEGV & co) in the kernel ends it with an error message instead of the process.
#pragma once

#include <setjmp.h>
#include <signal.h>

#include <cstdio>
#include <tuple>
#include <utility>

#include "cuda_shim.h"

namespace emu {

template <typename T>
constexpr char type_code() {
    if constexpr (std::is_pointer_v<T>) return 'P';
    else if constexpr (std::is_same_v<T, bool>) return '?';
    else if constexpr (std::is_same_v<T, int>) return 'i';
    else if constexpr (std::is_same_v<T, unsigned>) return 'I';
    else if constexpr (std::is_same_v<T, long long> || std::is_same_v<T, long>) return 'q';
    else if constexpr (std::is_same_v<T, unsigned long long> ||
                       std::is_same_v<T, unsigned long>) return 'Q';
    else if constexpr (std::is_same_v<T, float>) return 'f';
    else if constexpr (std::is_same_v<T, double>) return 'd';
    else return 'x';  // anything else: the loader refuses to pass it
}

struct KernelEntry {
    const char* name;
    std::string signature;  // one type_code per parameter
    std::function<void(dim3, dim3, bool, void**)> launch;
};

template <typename... A, std::size_t... I>
void launch_with(void (*kernel)(A...), dim3 grid, dim3 block, bool cooperative, void** params,
                 std::index_sequence<I...>) {
    // cuLaunchKernel semantics: params[i] points at the value of parameter i
    std::tuple<std::decay_t<A>...> args{*static_cast<std::decay_t<A>*>(params[I])...};
    const std::function<void()> body = [&] { std::apply(kernel, args); };
    run(grid, block, cooperative, body);
}

template <typename... A>
KernelEntry entry(const char* name, void (*kernel)(A...)) {
    return KernelEntry{
        name, std::string{type_code<std::decay_t<A>>()...},
        [kernel](dim3 grid, dim3 block, bool cooperative, void** params) {
            launch_with(kernel, grid, block, cooperative, params, std::index_sequence_for<A...>{});
        }};
}

}  // namespace emu

namespace emu {

inline std::string last_error;

// Faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL) during a launch jump back to launch_by_name, on an
// alternate stack (a fiber's stack may be what overflowed); the process's own handlers (Python's
// faulthandler) are restored afterwards. A fault inside the C library (say, in malloc) could leave
// a lock held: the process may hang later, but it says why first.
inline sigjmp_buf fault_jump;
inline int fault_signal = 0;
inline void* fault_address = nullptr;

inline void on_fault(int signal, siginfo_t* info, void*) {
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

inline std::string check_config(dim3 g, dim3 b) {
    const unsigned long long threads = 1ull * b.x * b.y * b.z;
    if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z) return "a grid or block dimension is 0";
    if (b.x > 1024 || b.y > 1024 || b.z > 64 || threads > 1024)
        return "more than 1024 threads per block (or block.x/y > 1024, block.z > 64)";
    if (g.x > 2147483647u || g.y > 65535 || g.z > 65535)
        return "grid.x > 2^31 - 1 or grid.y/z > 65535";
    return "";
}

inline int launch_by_name(const KernelEntry* table, size_t count, bool cooperative,
                          const char* name, dim3 grid, dim3 block, void** params) {
    last_error.clear();
    const KernelEntry* found = nullptr;
    for (size_t i = 0; i < count; ++i) {
        if (std::strcmp(table[i].name, name) == 0) found = &table[i];
    }
    if (!found) {
        last_error = std::string("no __global__ function named '") + name + "' in this module";
        return 1;
    }
    const std::string bad = check_config(grid, block);
    if (!bad.empty()) {
        last_error = std::string("invalid configuration argument launching ") + name + ": " + bad;
        return 2;
    }
    FaultGuard guard;  // a fault in the kernel comes back here instead of ending the process
    if (sigsetjmp(fault_jump, 1) == 0) {
        try {
            found->launch(grid, block, cooperative, params);
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
        launch_state.current = -1;  // the faulting fiber and its block are abandoned
    }
    if (!launch_state.error.empty()) {
        last_error = std::string("kernel ") + name + ": " + launch_state.error;
        return 3;
    }
    return 0;
}

}  // namespace emu

#ifndef EMU_NO_UBSAN
extern "C" void __ubsan_get_current_report_data(const char**, const char**, const char**,
                                                unsigned*, unsigned*, char**);

// UBSan calls this for each report it prints (loader.py builds with -fsanitize-recover).
extern "C" void __ubsan_on_report() {
    const char *kind = "", *message = "", *file = "";
    unsigned line = 0, column = 0;
    char* address = nullptr;
    __ubsan_get_current_report_data(&kind, &message, &file, &line, &column, &address);
    emu::fail(std::string(kind) + ": " + message + " (" + file + ":" + std::to_string(line) + ")");
}

#endif

extern "C" const char* emu_last_error() { return emu::last_error.c_str(); }
