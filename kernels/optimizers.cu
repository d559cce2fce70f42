// Optimizer updates over ALL parameters in one launch: SGD (momentum, dampening, Nesterov,
// weight decay, maximize) and Adam / AdamW, with the semantics of torch.optim and of the NumPy
// reference in gpugrad/backends/cpu/backend.py (hyperparameters are rounded to the parameter dtype before
// use, as NumPy does with Python numbers).
//
// The host passes one int64 table (built and cached by gpugrad/backends/cuda/backend.py):
//
//   table[k * n + t]            pointer to array k of tensor t, for k < lists
//                               SGD lists: param, grad, momentum_buffer
//                               Adam lists: param, grad, exp_avg, exp_avg_sq
//   table[lists * n + t]        number of elements of tensor t
//   table[(lists + 1) * n + t]  flags of tensor t (bit 0: SGD momentum buffer starts now)
//   table[(lists + 2) * n + t]  first block of tensor t (n + 1 entries, the last = gridDim.x)
//
// Block b updates elements [(b - first_block[t]) * chunk, ... + chunk) of the tensor t that owns
// it, found by a binary search over first_block; tensors never share a block, so a block's
// elements are contiguous and every access is coalesced.
//
// Memory traffic, not arithmetic, bounds these kernels: each thread moves 16 bytes per array
// per access (vector_access.cuh says why) and issues UNROLL such accesses before using any of
// them. The 16-byte path needs every array of the tensor 16-byte aligned (CuPy's pool aligns its
// blocks to 512 bytes; a view into the middle of an array may not be) and a chunk that is a
// multiple of the lanes; elements past the last whole vector, and unaligned tensors, take the
// one-element loop. Both paths apply the same per-element function, so they give the same bits.

#define UNROLL 4

#include "vector_access.cuh"

struct TensorChunk {
    long long tensor;
    long long begin;
    long long end;
};

__device__ __forceinline__ TensorChunk find_chunk(const long long* table, long long n,
                                                  long long lists, long long chunk) {
    const long long* sizes = table + lists * n;
    const long long* first_block = table + (lists + 2) * n;
    const long long block = blockIdx.x;
    // The last tensor whose first block is <= this block; empty tensors own no block, and the
    // search always lands on the non-empty tensor that follows them.
    long long lo = 0;
    long long hi = n - 1;
    while (lo < hi) {
        const long long mid = (lo + hi + 1) >> 1;
        if (first_block[mid] <= block) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    TensorChunk c;
    c.tensor = lo;
    c.begin = (block - first_block[lo]) * chunk;
    const long long stop = c.begin + chunk;
    c.end = stop < sizes[lo] ? stop : sizes[lo];
    return c;
}

template <typename T>
__device__ __forceinline__ T* table_array(const long long* table, long long n, long long list,
                                          long long tensor) {
    return reinterpret_cast<T*>(table[list * n + tensor]);
}

__device__ __forceinline__ float sqrt_of(float v) { return sqrtf(v); }
__device__ __forceinline__ double sqrt_of(double v) { return sqrt(v); }

// ---- SGD -------------------------------------------------------------------------------------
template <typename T>
struct SgdHyper {
    T lr;
    T momentum;
    T keep;  // 1 - dampening
    T weight_decay;
    bool use_momentum;
    bool use_weight_decay;
    bool nesterov;
    bool maximize;
    bool start_buffer;  // the momentum buffer starts now: it holds garbage, never read it
};

// One element: p and b are updated in place; b is untouched without momentum.
template <typename T>
__device__ __forceinline__ void sgd_element(T& p, T grad, T& b, const SgdHyper<T>& h) {
    T d = h.maximize ? -grad : grad;
    if (h.use_weight_decay) {
        d = d + h.weight_decay * p;
    }
    if (h.use_momentum) {
        b = h.start_buffer ? d : b * h.momentum + h.keep * d;
        d = h.nesterov ? d + h.momentum * b : b;
    }
    p = p - h.lr * d;
}

template <typename T>
__device__ __forceinline__ void sgd_update(const long long* table, long long n, long long chunk,
                                           double lr, double momentum, double dampening,
                                           double weight_decay, long long use_momentum,
                                           long long use_weight_decay, long long nesterov,
                                           long long maximize) {
    const long long lists = 3;
    const TensorChunk c = find_chunk(table, n, lists, chunk);
    T* __restrict__ param = table_array<T>(table, n, 0, c.tensor);
    const T* __restrict__ grad = table_array<T>(table, n, 1, c.tensor);
    T* __restrict__ buf = table_array<T>(table, n, 2, c.tensor);
    SgdHyper<T> h;
    h.lr = T(lr);
    h.momentum = T(momentum);
    h.keep = T(1.0 - dampening);
    h.weight_decay = T(weight_decay);
    h.use_momentum = use_momentum != 0;
    h.use_weight_decay = use_weight_decay != 0;
    h.nesterov = nesterov != 0;
    h.maximize = maximize != 0;
    h.start_buffer = (table[(lists + 1) * n + c.tensor] & 1) != 0;
    const bool read_buf = h.use_momentum && !h.start_buffer;
    const long long lanes = 16 / sizeof(T);
    long long tail = c.begin;
    if (aligned16(param) && aligned16(grad) && (!h.use_momentum || aligned16(buf)) &&
        c.begin % lanes == 0) {
        const long long vec_end = c.begin + (c.end - c.begin) / lanes * lanes;
        const long long stride = (long long)blockDim.x * lanes;
        for (long long base = c.begin + threadIdx.x * lanes; base < vec_end;
             base += stride * UNROLL) {
            Lanes<T> p[UNROLL], g[UNROLL], b[UNROLL];
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {  // every load first: UNROLL accesses in flight
                const long long i = base + u * stride;
                if (i < vec_end) {
                    load_lanes(p[u], param + i);
                    load_lanes(g[u], grad + i);
                    if (read_buf) {
                        load_lanes(b[u], buf + i);
                    }
                }
            }
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const long long i = base + u * stride;
                if (i < vec_end) {
#pragma unroll
                    for (int k = 0; k < 16 / (int)sizeof(T); ++k) {
                        sgd_element(p[u].v[k], g[u].v[k], b[u].v[k], h);
                    }
                    store_lanes(param + i, p[u]);
                    if (h.use_momentum) {
                        store_lanes(buf + i, b[u]);
                    }
                }
            }
        }
        tail = vec_end;
    }
    for (long long i = tail + threadIdx.x; i < c.end; i += blockDim.x) {
        T p = param[i];
        T b = read_buf ? buf[i] : T(0);
        sgd_element(p, grad[i], b, h);
        param[i] = p;
        if (h.use_momentum) {
            buf[i] = b;
        }
    }
}

// ---- Adam / AdamW -----------------------------------------------------------------------------
template <typename T>
struct AdamHyper {
    T beta1;
    T one_minus_beta1;
    T beta2;
    T one_minus_beta2;
    T eps;
    T weight_decay;
    T decay;  // AdamW: p *= 1 - lr * weight_decay
    T step_size;  // lr / (1 - beta1 ** step)
    T bias_correction2_sqrt;
    bool use_weight_decay;
    bool decoupled;
    bool maximize;
};

template <typename T>
__device__ __forceinline__ void adam_element(T& p, T grad, T& m, T& v, const AdamHyper<T>& h) {
    T g = h.maximize ? -grad : grad;
    if (h.use_weight_decay) {
        if (h.decoupled) {
            p = p * h.decay;
        } else {
            g = g + h.weight_decay * p;  // Adam: L2 penalty folded into the gradient
        }
    }
    m = m * h.beta1 + h.one_minus_beta1 * g;
    v = v * h.beta2 + h.one_minus_beta2 * (g * g);
    const T denom = sqrt_of(v) / h.bias_correction2_sqrt + h.eps;
    p = p - h.step_size * (m / denom);
}

template <typename T>
__device__ __forceinline__ void adam_update(const long long* table, long long n, long long chunk,
                                            double beta1, double beta2, double eps,
                                            double weight_decay, double decay_factor,
                                            double step_size, double bias_correction2_sqrt,
                                            long long use_weight_decay, long long decoupled,
                                            long long maximize) {
    const long long lists = 4;
    const TensorChunk c = find_chunk(table, n, lists, chunk);
    T* __restrict__ param = table_array<T>(table, n, 0, c.tensor);
    const T* __restrict__ grad = table_array<T>(table, n, 1, c.tensor);
    T* __restrict__ exp_avg = table_array<T>(table, n, 2, c.tensor);
    T* __restrict__ exp_avg_sq = table_array<T>(table, n, 3, c.tensor);
    AdamHyper<T> h;
    h.beta1 = T(beta1);
    h.one_minus_beta1 = T(1.0 - beta1);
    h.beta2 = T(beta2);
    h.one_minus_beta2 = T(1.0 - beta2);
    h.eps = T(eps);
    h.weight_decay = T(weight_decay);
    h.decay = T(decay_factor);
    h.step_size = T(step_size);
    h.bias_correction2_sqrt = T(bias_correction2_sqrt);
    h.use_weight_decay = use_weight_decay != 0;
    h.decoupled = decoupled != 0;
    h.maximize = maximize != 0;
    const long long lanes = 16 / sizeof(T);
    long long tail = c.begin;
    if (aligned16(param) && aligned16(grad) && aligned16(exp_avg) && aligned16(exp_avg_sq) &&
        c.begin % lanes == 0) {
        const long long vec_end = c.begin + (c.end - c.begin) / lanes * lanes;
        const long long stride = (long long)blockDim.x * lanes;
        // 4 arrays of 16 bytes per access: UNROLL / 2 accesses in flight keeps registers low
        for (long long base = c.begin + threadIdx.x * lanes; base < vec_end;
             base += stride * (UNROLL / 2)) {
            Lanes<T> p[UNROLL / 2], g[UNROLL / 2], m[UNROLL / 2], v[UNROLL / 2];
#pragma unroll
            for (int u = 0; u < UNROLL / 2; ++u) {
                const long long i = base + u * stride;
                if (i < vec_end) {
                    load_lanes(p[u], param + i);
                    load_lanes(g[u], grad + i);
                    load_lanes(m[u], exp_avg + i);
                    load_lanes(v[u], exp_avg_sq + i);
                }
            }
#pragma unroll
            for (int u = 0; u < UNROLL / 2; ++u) {
                const long long i = base + u * stride;
                if (i < vec_end) {
#pragma unroll
                    for (int k = 0; k < 16 / (int)sizeof(T); ++k) {
                        adam_element(p[u].v[k], g[u].v[k], m[u].v[k], v[u].v[k], h);
                    }
                    store_lanes(param + i, p[u]);
                    store_lanes(exp_avg + i, m[u]);
                    store_lanes(exp_avg_sq + i, v[u]);
                }
            }
        }
        tail = vec_end;
    }
    for (long long i = tail + threadIdx.x; i < c.end; i += blockDim.x) {
        T p = param[i];
        T m = exp_avg[i];
        T v = exp_avg_sq[i];
        adam_element(p, grad[i], m, v, h);
        param[i] = p;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
    }
}

extern "C" {

__global__ void sgd_step_f32(const long long* table, long long n, long long chunk, double lr,
                             double momentum, double dampening, double weight_decay,
                             long long use_momentum, long long use_weight_decay,
                             long long nesterov, long long maximize) {
    sgd_update<float>(table, n, chunk, lr, momentum, dampening, weight_decay, use_momentum,
                      use_weight_decay, nesterov, maximize);
}

__global__ void sgd_step_f64(const long long* table, long long n, long long chunk, double lr,
                             double momentum, double dampening, double weight_decay,
                             long long use_momentum, long long use_weight_decay,
                             long long nesterov, long long maximize) {
    sgd_update<double>(table, n, chunk, lr, momentum, dampening, weight_decay, use_momentum,
                       use_weight_decay, nesterov, maximize);
}

__global__ void adam_step_f32(const long long* table, long long n, long long chunk, double beta1,
                              double beta2, double eps, double weight_decay, double decay_factor,
                              double step_size, double bias_correction2_sqrt,
                              long long use_weight_decay, long long decoupled,
                              long long maximize) {
    adam_update<float>(table, n, chunk, beta1, beta2, eps, weight_decay, decay_factor, step_size,
                       bias_correction2_sqrt, use_weight_decay, decoupled, maximize);
}

__global__ void adam_step_f64(const long long* table, long long n, long long chunk, double beta1,
                              double beta2, double eps, double weight_decay, double decay_factor,
                              double step_size, double bias_correction2_sqrt,
                              long long use_weight_decay, long long decoupled,
                              long long maximize) {
    adam_update<double>(table, n, chunk, beta1, beta2, eps, weight_decay, decay_factor, step_size,
                        bias_correction2_sqrt, use_weight_decay, decoupled, maximize);
}

}  // extern "C"
