// Optimizer updates over ALL parameters in one launch: SGD (momentum, dampening, Nesterov,
// weight decay, maximize) and Adam / AdamW, with the semantics of torch.optim and of the NumPy
// reference in gpugrad/backends/cpu.py (hyperparameters are rounded to the parameter dtype before
// use, as NumPy does with Python numbers).
//
// The host passes one int64 table (built and cached by gpugrad/backends/cuda.py):
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

template <typename T>
__device__ __forceinline__ void sgd_update(const long long* table, long long n, long long chunk,
                                           double lr, double momentum, double dampening,
                                           double weight_decay, long long use_momentum,
                                           long long use_weight_decay, long long nesterov,
                                           long long maximize) {
    const long long lists = 3;
    const TensorChunk c = find_chunk(table, n, lists, chunk);
    T* param = table_array<T>(table, n, 0, c.tensor);
    const T* grad = table_array<T>(table, n, 1, c.tensor);
    T* buf = table_array<T>(table, n, 2, c.tensor);
    const bool start_buffer = (table[(lists + 1) * n + c.tensor] & 1) != 0;
    const T lr_t = T(lr);
    const T momentum_t = T(momentum);
    const T keep_t = T(1.0 - dampening);
    const T weight_decay_t = T(weight_decay);
    for (long long i = c.begin + threadIdx.x; i < c.end; i += blockDim.x) {
        const T p = param[i];
        T d = maximize ? -grad[i] : grad[i];
        if (use_weight_decay) {
            d = d + weight_decay_t * p;
        }
        if (use_momentum) {
            const T b = start_buffer ? d : buf[i] * momentum_t + keep_t * d;
            buf[i] = b;
            d = nesterov ? d + momentum_t * b : b;
        }
        param[i] = p - lr_t * d;
    }
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
    T* param = table_array<T>(table, n, 0, c.tensor);
    const T* grad = table_array<T>(table, n, 1, c.tensor);
    T* exp_avg = table_array<T>(table, n, 2, c.tensor);
    T* exp_avg_sq = table_array<T>(table, n, 3, c.tensor);
    const T beta1_t = T(beta1);
    const T one_minus_beta1 = T(1.0 - beta1);
    const T beta2_t = T(beta2);
    const T one_minus_beta2 = T(1.0 - beta2);
    const T eps_t = T(eps);
    const T weight_decay_t = T(weight_decay);
    const T decay_t = T(decay_factor);
    const T step_size_t = T(step_size);
    const T bc2_sqrt_t = T(bias_correction2_sqrt);
    for (long long i = c.begin + threadIdx.x; i < c.end; i += blockDim.x) {
        T p = param[i];
        T g = maximize ? -grad[i] : grad[i];
        if (use_weight_decay) {
            if (decoupled) {
                p = p * decay_t;  // AdamW: p *= 1 - lr * weight_decay
            } else {
                g = g + weight_decay_t * p;  // Adam: L2 penalty folded into the gradient
            }
        }
        const T m = exp_avg[i] * beta1_t + one_minus_beta1 * g;
        const T v = exp_avg_sq[i] * beta2_t + one_minus_beta2 * (g * g);
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        const T denom = sqrt_of(v) / bc2_sqrt_t + eps_t;
        param[i] = p - step_size_t * (m / denom);
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
