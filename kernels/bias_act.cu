// Fused bias + activation for a row-major (rows, cols) matrix and a (cols,) bias.
//
//   forward:  out[r, c] = act(x[r, c] + bias[c])
//   backward: grad_x[r, c] = grad_out[r, c] * act'(out[r, c])   (from the saved output)
//   grads:    grad_x as the backward, and grad_bias[c] = sum_r grad_x[r, c] from the same read
//
// The activation codes follow gpugrad.backends.base.ACTIVATIONS:
// 0 identity, 1 relu, 2 tanh, 3 sigmoid. The formulas (sigmoid as PyTorch's 1 / (1 + exp(-x)),
// which keeps tiny results and gives 0 where exp overflows, relu keeping NaN) match the NumPy
// reference in gpugrad/backends/cpu/numpy_ops.py operation for operation.
//
// float16 and bfloat16 (low_precision.cuh) load and store in their precision and compute in
// float; the bias gradient's sums stay float until the one rounding of the result.
//
// Both kernels are bound by memory traffic. Where the host finds the arrays 16-byte aligned (and,
// for the forward, the row length a multiple of the lanes) it passes packed = 1 and each thread
// moves 16 bytes per access (vector_access.cuh); otherwise one element at a time. Both paths apply
// the same per-element functions.
//
// Loaded at run time by gpugrad/backends/cuda/backend.py with cupy.RawModule (NVRTC, no headers);
// kernels/build.sh compiles the same file with nvcc so CI catches mistakes without a GPU.

#include "low_precision.cuh"
#include "vector_access.cuh"

__device__ __forceinline__ float tanh_of(float v) { return tanhf(v); }
__device__ __forceinline__ double tanh_of(double v) { return tanh(v); }
__device__ __forceinline__ float sigmoid_of(float v) { return 1.0f / (1.0f + expf(-v)); }
__device__ __forceinline__ double sigmoid_of(double v) { return 1.0 / (1.0 + exp(-v)); }

template <typename T>
__device__ __forceinline__ T activate(T v, long long act) {
    switch (act) {
    case 1:
        return v < T(0) ? T(0) : v;  // NaN < 0 is false, so NaN passes through as in NumPy
    case 2:
        return tanh_of(v);
    case 3:
        return sigmoid_of(v);
    default:
        return v;
    }
}

template <typename T>
__device__ __forceinline__ T activation_grad(T grad, T out, long long act) {
    switch (act) {
    case 1:
        return out <= T(0) ? T(0) : grad;  // NaN passes, and 0 stays 0 (PyTorch's threshold_backward)
    case 2:
        return grad * (T(1) - out * out);
    case 3:
        return grad * (out * (T(1) - out));
    default:
        return grad;
    }
}

// A 2-D launch: threadIdx.x / blockIdx.x walk the columns (coalesced, and each thread keeps its
// bias values in registers), threadIdx.y / blockIdx.y walk the rows with a grid stride, so no
// thread divides an index by the row length. Packed, a "column" is 16 bytes: 16 / sizeof(T)
// adjacent columns (the host checked that cols is a multiple of that and the arrays aligned).
template <typename T>
__device__ __forceinline__ void bias_act_forward(const T* __restrict__ x,
                                                 const T* __restrict__ bias, T* __restrict__ out,
                                                 long long rows, long long cols, long long act,
                                                 long long packed) {
    const long long lanes = packed ? 16 / sizeof(T) : 1;
    const long long col = ((long long)blockIdx.x * blockDim.x + threadIdx.x) * lanes;
    if (col >= cols) {
        return;
    }
    typedef Compute<T> K;
    const long long row_step = (long long)gridDim.y * blockDim.y;
    const long long first_row = (long long)blockIdx.y * blockDim.y + threadIdx.y;
    if (packed) {
        Lanes<T> b;
        load_lanes(b, bias + col);
        for (long long row = first_row; row < rows; row += row_step) {
            const long long i = row * cols + col;
            Lanes<T> v;
            load_lanes(v, x + i);
#pragma unroll
            for (int k = 0; k < 16 / (int)sizeof(T); ++k) {
                v.v[k] = K::narrow(activate(K::widen(v.v[k]) + K::widen(b.v[k]), act));
            }
            store_lanes(out + i, v);
        }
        return;
    }
    const typename K::type b = K::widen(bias[col]);
    for (long long row = first_row; row < rows; row += row_step) {
        const long long i = row * cols + col;
        out[i] = K::narrow(activate(K::widen(x[i]) + b, act));
    }
}

// A 1-D grid-stride loop over all n elements; packed, over the whole 16-byte vectors first and
// then over the few elements past the last one.
template <typename T>
__device__ __forceinline__ void bias_act_backward(const T* __restrict__ grad_out,
                                                  const T* __restrict__ out,
                                                  T* __restrict__ grad_in, long long n,
                                                  long long act, long long packed) {
    typedef Compute<T> K;
    const long long step = (long long)gridDim.x * blockDim.x;
    const long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long tail = 0;
    if (packed) {
        const long long lanes = 16 / sizeof(T);
        const long long vectors = n / lanes;
        for (long long j = first; j < vectors; j += step) {
            Lanes<T> g, o;
            load_lanes(g, grad_out + j * lanes);
            load_lanes(o, out + j * lanes);
#pragma unroll
            for (int k = 0; k < 16 / (int)sizeof(T); ++k) {
                g.v[k] = K::narrow(activation_grad(K::widen(g.v[k]), K::widen(o.v[k]), act));
            }
            store_lanes(grad_in + j * lanes, g);
        }
        tail = vectors * lanes;
    }
    for (long long i = tail + first; i < n; i += step) {
        grad_in[i] = K::narrow(activation_grad(K::widen(grad_out[i]), K::widen(out[i]), act));
    }
}

// Both gradients in one read of grad_out and out: grad_x as bias_act_backward writes it, and the
// bias gradient, grad_x's column sums, without reading grad_x back (a separate column reduction
// would read it all again). Launch: blockDim (32, GRAD_ROW_LANES); threadIdx.x / blockIdx.x walk
// the (packed) columns; blockIdx.y picks a slab of rows_per_slab rows, whose rows threadIdx.y
// walks with stride GRAD_ROW_LANES. A thread sums its lanes over its rows; a block adds the
// GRAD_ROW_LANES sums of each column in threadIdx.y order through shared memory and writes row
// blockIdx.y of partial (slabs, cols); bias_grad_sum then adds the slabs in order. Every sum has
// a fixed order, so the result is the same on every run. With one slab the block writes
// grad_bias itself (and partial is not used). Sums are kept in the compute type (float for the
// 16-bit types) until grad_bias is stored.
#define GRAD_ROW_LANES 8

template <typename T, int LANES>
__device__ __forceinline__ void bias_act_grads_body(
    const T* __restrict__ grad_out, const T* __restrict__ out, T* __restrict__ grad_in,
    typename Compute<T>::type* __restrict__ partial, T* __restrict__ grad_bias,
    typename Compute<T>::type* sums, long long rows, long long cols, long long act,
    long long rows_per_slab) {
    typedef Compute<T> K;
    typedef typename K::type C;
    const long long col = ((long long)blockIdx.x * blockDim.x + threadIdx.x) * LANES;
    const bool active = col < cols;
    const long long begin = (long long)blockIdx.y * rows_per_slab;
    const long long end = begin + rows_per_slab < rows ? begin + rows_per_slab : rows;
    C acc[LANES];
#pragma unroll
    for (int k = 0; k < LANES; ++k) {
        acc[k] = C(0);
    }
    if (active) {
        for (long long row = begin + threadIdx.y; row < end; row += blockDim.y) {
            const long long i = row * cols + col;
            if (LANES > 1) {
                Lanes<T> g, o;
                load_lanes(g, grad_out + i);
                load_lanes(o, out + i);
#pragma unroll
                for (int k = 0; k < LANES; ++k) {
                    g.v[k] = K::narrow(activation_grad(K::widen(g.v[k]), K::widen(o.v[k]), act));
                    acc[k] += K::widen(g.v[k]);  // the sums of grad_x as stored
                }
                store_lanes(grad_in + i, g);
            } else {
                const T g = K::narrow(activation_grad(K::widen(grad_out[i]), K::widen(out[i]),
                                                      act));
                grad_in[i] = g;
                acc[0] += K::widen(g);
            }
        }
    }
#pragma unroll
    for (int k = 0; k < LANES; ++k) {  // every thread, active or not, reaches the barrier
        sums[threadIdx.y * (32 * LANES) + threadIdx.x * LANES + k] = acc[k];
    }
    __syncthreads();
    if (threadIdx.y == 0 && active) {
#pragma unroll
        for (int k = 0; k < LANES; ++k) {
            C total = C(0);
            for (int y = 0; y < (int)blockDim.y; ++y) {
                total += sums[y * (32 * LANES) + threadIdx.x * LANES + k];
            }
            if (gridDim.y == 1) {
                grad_bias[col + k] = K::narrow(total);
            } else {
                partial[(long long)blockIdx.y * cols + col + k] = total;
            }
        }
    }
}

template <typename T>
__device__ __forceinline__ void bias_act_grads(const T* grad_out, const T* out, T* grad_in,
                                               typename Compute<T>::type* partial, T* grad_bias,
                                               long long rows, long long cols, long long act,
                                               long long packed, long long rows_per_slab) {
    __shared__ typename Compute<T>::type sums[GRAD_ROW_LANES * 32 * (16 / sizeof(T))];
    if (packed) {
        bias_act_grads_body<T, 16 / sizeof(T)>(grad_out, out, grad_in, partial, grad_bias, sums,
                                               rows, cols, act, rows_per_slab);
    } else {
        bias_act_grads_body<T, 1>(grad_out, out, grad_in, partial, grad_bias, sums, rows, cols,
                                  act, rows_per_slab);
    }
}

// grad_bias[c] = sum over slabs s, in order, of partial[s, c]; one thread per column.
template <typename T>
__device__ __forceinline__ void bias_grad_sum(const typename Compute<T>::type* __restrict__ partial,
                                              T* __restrict__ grad_bias, long long slabs,
                                              long long cols) {
    typedef Compute<T> K;
    const long long col = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= cols) {
        return;
    }
    typename K::type total = 0;
    for (long long s = 0; s < slabs; ++s) {
        total += partial[s * cols + col];
    }
    grad_bias[col] = K::narrow(total);
}

extern "C" {  // f16 and bf16: the 16-bit patterns of low_precision.cuh

__global__ void bias_act_forward_f32(const float* x, const float* bias, float* out, long long rows,
                                     long long cols, long long act, long long packed) {
    bias_act_forward(x, bias, out, rows, cols, act, packed);
}

__global__ void bias_act_forward_f64(const double* x, const double* bias, double* out,
                                     long long rows, long long cols, long long act,
                                     long long packed) {
    bias_act_forward(x, bias, out, rows, cols, act, packed);
}

__global__ void bias_act_forward_f16(const half_bits* x, const half_bits* bias, half_bits* out,
                                     long long rows, long long cols, long long act,
                                     long long packed) {
    bias_act_forward(x, bias, out, rows, cols, act, packed);
}

__global__ void bias_act_forward_bf16(const bf16_bits* x, const bf16_bits* bias, bf16_bits* out,
                                      long long rows, long long cols, long long act,
                                      long long packed) {
    bias_act_forward(x, bias, out, rows, cols, act, packed);
}

__global__ void bias_act_backward_f32(const float* grad_out, const float* out, float* grad_in,
                                      long long n, long long act, long long packed) {
    bias_act_backward(grad_out, out, grad_in, n, act, packed);
}

__global__ void bias_act_backward_f64(const double* grad_out, const double* out, double* grad_in,
                                      long long n, long long act, long long packed) {
    bias_act_backward(grad_out, out, grad_in, n, act, packed);
}

__global__ void bias_act_backward_f16(const half_bits* grad_out, const half_bits* out,
                                      half_bits* grad_in, long long n, long long act,
                                      long long packed) {
    bias_act_backward(grad_out, out, grad_in, n, act, packed);
}

__global__ void bias_act_backward_bf16(const bf16_bits* grad_out, const bf16_bits* out,
                                       bf16_bits* grad_in, long long n, long long act,
                                       long long packed) {
    bias_act_backward(grad_out, out, grad_in, n, act, packed);
}

__global__ void bias_act_grads_f32(const float* grad_out, const float* out, float* grad_in,
                                   float* partial, float* grad_bias, long long rows, long long cols,
                                   long long act, long long packed, long long rows_per_slab) {
    bias_act_grads(grad_out, out, grad_in, partial, grad_bias, rows, cols, act, packed,
                   rows_per_slab);
}

__global__ void bias_act_grads_f64(const double* grad_out, const double* out, double* grad_in,
                                   double* partial, double* grad_bias, long long rows,
                                   long long cols, long long act, long long packed,
                                   long long rows_per_slab) {
    bias_act_grads(grad_out, out, grad_in, partial, grad_bias, rows, cols, act, packed,
                   rows_per_slab);
}

__global__ void bias_act_grads_f16(const half_bits* grad_out, const half_bits* out,
                                   half_bits* grad_in, float* partial, half_bits* grad_bias,
                                   long long rows, long long cols, long long act, long long packed,
                                   long long rows_per_slab) {
    bias_act_grads(grad_out, out, grad_in, partial, grad_bias, rows, cols, act, packed,
                   rows_per_slab);
}

__global__ void bias_act_grads_bf16(const bf16_bits* grad_out, const bf16_bits* out,
                                    bf16_bits* grad_in, float* partial, bf16_bits* grad_bias,
                                    long long rows, long long cols, long long act, long long packed,
                                    long long rows_per_slab) {
    bias_act_grads(grad_out, out, grad_in, partial, grad_bias, rows, cols, act, packed,
                   rows_per_slab);
}

__global__ void bias_grad_sum_f32(const float* partial, float* grad_bias, long long slabs,
                                  long long cols) {
    bias_grad_sum(partial, grad_bias, slabs, cols);
}

__global__ void bias_grad_sum_f64(const double* partial, double* grad_bias, long long slabs,
                                  long long cols) {
    bias_grad_sum(partial, grad_bias, slabs, cols);
}

__global__ void bias_grad_sum_f16(const float* partial, half_bits* grad_bias, long long slabs,
                                  long long cols) {
    bias_grad_sum(partial, grad_bias, slabs, cols);
}

__global__ void bias_grad_sum_bf16(const float* partial, bf16_bits* grad_bias, long long slabs,
                                   long long cols) {
    bias_grad_sum(partial, grad_bias, slabs, cols);
}

}  // extern "C"
