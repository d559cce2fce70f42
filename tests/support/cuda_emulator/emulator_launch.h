// emulator_launch.h: the kernel library's side of a launch, for loader.py, which includes it after
// the kernel source (cuda_shim.h before it) and then defines the kernel table and the extern "C"
// entry points. Per kernel, templates deduce the parameter types from the function (a type code
// each, for Python's checks) and unpack a cuLaunchKernel-style `void** params` for every thread.
// The launch itself, checked like CUDA's, is the runtime's (emulator_runtime.cpp, emu::launch).
#pragma once

#include <cstddef>
#include <utility>

#include "cuda_shim.h"

namespace emu {

using Body = void (*)(void** params);  // runs the kernel for the current thread

// The runtime's launch: 0, or an error code with emu_last_error() saying why.
int launch(const char* name, dim3 grid, dim3 block, bool cooperative, Body body, void** params);

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
    const char* signature;  // one type_code per parameter
    bool cooperative;       // its threads may synchronize: run them as fibers (loader.py says)
    Body body;
};

template <typename F>
struct Kernel;

template <typename... A>
struct Kernel<void (*)(A...)> {
    static constexpr char signature[] = {type_code<std::decay_t<A>>()..., '\0'};
    using Indices = std::index_sequence_for<A...>;

    // cuLaunchKernel semantics: params[i] points at the value of parameter i
    template <std::size_t... I>
    static void call(void (*kernel)(A...), [[maybe_unused]] void** params,
                     std::index_sequence<I...>) {
        kernel(*static_cast<std::decay_t<A>*>(params[I])...);
    }
};

template <auto K>
void body(void** params) {
    using Traits = Kernel<decltype(K)>;
    Traits::call(K, params, typename Traits::Indices{});
}

template <auto K>
constexpr KernelEntry entry(const char* name, bool cooperative) {
    return KernelEntry{name, Kernel<decltype(K)>::signature, cooperative, &body<K>};
}

inline const KernelEntry* find(const KernelEntry* table, std::size_t count, const char* name) {
    for (std::size_t i = 0; i < count; ++i) {
        if (std::strcmp(table[i].name, name) == 0) return &table[i];
    }
    return nullptr;
}

inline int launch_by_name(const KernelEntry* table, std::size_t count, const char* name,
                          dim3 grid, dim3 block, void** params) {
    const KernelEntry* found = find(table, count, name);
    return found ? launch(found->name, grid, block, found->cooperative, found->body, params)
                 : launch(name, grid, block, false, nullptr, params);  // says it is not here
}

}  // namespace emu
