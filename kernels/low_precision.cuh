// float16 and bfloat16 storage for the fused kernels (bias_act.cu, softmax_cross_entropy.cu):
// values are loaded in the low precision, computed in float, and rounded once when stored
// (round to nearest even), as PyTorch's CUDA kernels for these dtypes do.
//
// NVRTC, which compiles these sources at run time, has no system headers (no cuda_fp16.h), so
// the two types are plain 16-bit patterns here. On the GPU the conversions are the hardware's
// cvt instructions (cvt.rn.bf16.f32 needs sm_80; older GPUs round bfloat16 in integer code).
// Elsewhere (the CPU emulator of the tests) they are the same IEEE rounding written out, which
// the tests check bit for bit against NumPy's and ml_dtypes' conversions.
#pragma once

#include "vector_access.cuh"

struct half_bits {  // IEEE binary16: 1 sign, 5 exponent, 10 mantissa bits
    unsigned short bits;
};
struct bf16_bits {  // bfloat16: the top half of a float
    unsigned short bits;
};

template <> struct Pack16<half_bits> {
    typedef int4 vector;  // 8 values
};
template <> struct Pack16<bf16_bits> {
    typedef int4 vector;
};

__device__ __forceinline__ float half_to_float(unsigned short h) {
#ifdef __CUDA_ARCH__
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
#else
    const unsigned sign = (unsigned)(h & 0x8000u) << 16;
    const unsigned exponent = (h >> 10) & 0x1fu;
    const unsigned mantissa = h & 0x3ffu;
    if (exponent == 0x1fu) {  // infinity or NaN
        return __uint_as_float(sign | 0x7f800000u | (mantissa << 13));
    }
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
        const float magnitude = (float)mantissa * 5.9604644775390625e-8f;
        return sign ? -magnitude : magnitude;
    }
    return __uint_as_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
#endif
}

__device__ __forceinline__ unsigned short float_to_half(float f) {
#ifdef __CUDA_ARCH__
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
#else
    const unsigned u = __float_as_uint(f);
    const unsigned sign = (u >> 16) & 0x8000u;
    const unsigned a = u & 0x7fffffffu;
    if (a > 0x7f800000u) {  // NaN stays a (quiet) NaN
        return (unsigned short)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    }
    if (a >= 0x477ff000u) {  // 65520 and up (and inf) round to inf
        return (unsigned short)(sign | 0x7c00u);
    }
    if (a < 0x38800000u) {  // below 2^-14: a subnormal half or zero
        if (a <= 0x33000000u) {  // 2^-25 and below round to zero (2^-25 is a tie: to even)
            return (unsigned short)sign;
        }
        const unsigned shift = 126u - (a >> 23);  // 14..24
        const unsigned mantissa = (a & 0x7fffffu) | 0x800000u;
        unsigned h = mantissa >> shift;
        const unsigned rest = mantissa & ((1u << shift) - 1u);
        const unsigned tie = 1u << (shift - 1u);
        h += (rest > tie || (rest == tie && (h & 1u))) ? 1u : 0u;
        return (unsigned short)(sign | h);
    }
    unsigned h = (a - 0x38000000u) >> 13;  // exponent rebiased from 127 to 15
    const unsigned rest = a & 0x1fffu;
    h += (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ? 1u : 0u;  // a carry is right too
    return (unsigned short)(sign | h);
#endif
}

__device__ __forceinline__ float bf16_to_float(unsigned short b) {
    return __uint_as_float((unsigned)b << 16);  // exact: bfloat16 is a truncated float
}

__device__ __forceinline__ unsigned short float_to_bf16(float f) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned short b;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(b) : "f"(f));
    return b;
#else
    const unsigned u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {  // NaN stays a (quiet) NaN
        return (unsigned short)((u >> 16) | 0x40u);
    }
    return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);  // nearest, ties to even
#endif
}

// How a kernel computes on storage type T: in Compute<T>::type, converting with widen and narrow
// (the identity for float and double, so their kernels keep their exact arithmetic).
template <typename T> struct Compute {
    typedef T type;
    static __device__ __forceinline__ T widen(T v) { return v; }
    static __device__ __forceinline__ T narrow(T v) { return v; }
};
template <> struct Compute<half_bits> {
    typedef float type;
    static __device__ __forceinline__ float widen(half_bits v) { return half_to_float(v.bits); }
    static __device__ __forceinline__ half_bits narrow(float v) {
        half_bits h;
        h.bits = float_to_half(v);
        return h;
    }
};
template <> struct Compute<bf16_bits> {
    typedef float type;
    static __device__ __forceinline__ float widen(bf16_bits v) { return bf16_to_float(v.bits); }
    static __device__ __forceinline__ bf16_bits narrow(float v) {
        bf16_bits b;
        b.bits = float_to_bf16(v);
        return b;
    }
};
