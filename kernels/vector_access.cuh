// 16-byte vector access for the memory-bound kernels (bias_act.cu, optimizers.cu).
//
// A thread that moves 4 bytes per access keeps too few bytes in flight to saturate HBM (CuPy's
// float32 elementwise kernels reach about half of an H200's bandwidth, its float64 ones nearly
// all of it), so these kernels move 16 bytes (float4 / double2) per access and work on the lanes
// one by one. A 16-byte access needs a 16-byte aligned address: callers check with aligned16 (or
// the host does) and fall back to one element at a time.
//
// Included by the kernel sources: the cuda backend inlines it into the text it hands NVRTC
// (gpugrad/backends/cuda/backend.py, kernel_source), and nvcc (kernels/build.sh) finds it next to them.
#pragma once

template <typename T> struct Pack16;
template <> struct Pack16<float> {
    typedef float4 vector;
};
template <> struct Pack16<double> {
    typedef double2 vector;
};

// 16 bytes of T as one vector, its lanes addressable one by one.
template <typename T>
union Lanes {
    typename Pack16<T>::vector vec;
    T v[16 / sizeof(T)];
};

template <typename T>
__device__ __forceinline__ void load_lanes(Lanes<T>& dst, const T* src) {
    dst.vec = *reinterpret_cast<const typename Pack16<T>::vector*>(src);
}

template <typename T>
__device__ __forceinline__ void store_lanes(T* dst, const Lanes<T>& src) {
    *reinterpret_cast<typename Pack16<T>::vector*>(dst) = src.vec;
}

__device__ __forceinline__ bool aligned16(const void* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15ULL) == 0;
}
