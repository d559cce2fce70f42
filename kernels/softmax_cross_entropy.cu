// Softmax cross-entropy over the rows of row-major (rows, cols) logits with int64 targets.
//
//   forward:  m[r] = max_c logits[r, c],  s[r] = sum_c exp(logits[r, c] - m[r])
//             loss[r] = log(s[r]) - (logits[r, target[r]] - m[r])
//             lse[r]  = m[r] + log(s[r])                      (saved for backward)
//   backward: grad[r, c] = (exp(logits[r, c] - lse[r]) - (c == target[r])) * (grad_rows[r] / divisor)
//
// divisor is 1 for per-row losses; for their mean, grad_rows is the mean's one gradient value
// (element stride 0) and divisor the number of rows, so the mean's backward is no extra kernel.
//
// lse is kept in double for either logit type: at |logits| ~ 1e4 a float lse would be off by up
// to half a float ulp of 1e4 (5e-4), and exp(logits - lse) would carry that error; in double the
// difference is exact to ~1e-12 before it is rounded to the logit type.
//
// Each pass reads the logits once. The forward keeps an online (max, sum) pair per thread: when
// a larger value arrives the running sum is rescaled, so the max is never a separate pass. Pairs
// are merged across a warp with shuffles and, for wide rows, across warps through shared memory.
//
// Launch shape (chosen in gpugrad/backends/cuda/backend.py): blockDim.x threads share one row and
// blockDim.y rows share a block; blockDim.x is a multiple of 32 (one warp per row for up to 1024
// classes, more warps for wider rows, and then blockDim.y == 1); gridDim.x = ceil(rows / blockDim.y).
// A target outside [0, cols) gives a NaN loss row (checking it on the host would need a sync).
// Targets and grad_rows take an element stride, so broadcast views (stride 0) need no copy.

__device__ __forceinline__ float exp_of(float v) { return expf(v); }
__device__ __forceinline__ double exp_of(double v) { return exp(v); }

template <typename T> __device__ __forceinline__ T negative_infinity();
template <> __device__ __forceinline__ float negative_infinity<float>() {
    return __uint_as_float(0xff800000u);
}
template <> __device__ __forceinline__ double negative_infinity<double>() {
    return __longlong_as_double(-4503599627370496LL);  // bit pattern 0xfff0000000000000
}
template <typename T> __device__ __forceinline__ T quiet_nan();
template <> __device__ __forceinline__ float quiet_nan<float>() {
    return __uint_as_float(0x7fc00000u);
}
template <> __device__ __forceinline__ double quiet_nan<double>() {
    return __longlong_as_double(9221120237041090560LL);  // bit pattern 0x7ff8000000000000
}

// Merge the pair (m2, s2) into (m, s), where s = sum exp(x - m) over the values seen so far.
// m is never NaN (a NaN value never compares greater), so a NaN logit reaches s and the result.
template <typename T>
__device__ __forceinline__ void merge_max_sum(T& m, T& s, T m2, T s2) {
    if (m2 > m) {
        s = s * exp_of(m - m2) + s2;
        m = m2;
    } else if (m2 == m) {  // also two empty pairs (-inf, 0): exp(-inf - -inf) would be NaN
        s += s2;
    } else {
        s += s2 * exp_of(m2 - m);
    }
}

template <typename T>
__device__ __forceinline__ void warp_merge(T& m, T& s) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        const T m2 = __shfl_xor_sync(0xffffffffu, m, offset);
        const T s2 = __shfl_xor_sync(0xffffffffu, s, offset);
        merge_max_sum(m, s, m2, s2);
    }
}

template <typename T>
__device__ __forceinline__ void softmax_xent_forward(const T* logits, const long long* target,
                                                     long long target_stride, T* loss, double* lse,
                                                     long long rows, long long cols) {
    __shared__ T shared_m[32];
    __shared__ T shared_s[32];
    const long long row = (long long)blockIdx.x * blockDim.y + threadIdx.y;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;  // warp number within this row's group
    const int warps_per_row = blockDim.x >> 5;

    T m = negative_infinity<T>();
    T s = T(0);
    if (row < rows) {
        const T* x = logits + row * cols;
        for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
            merge_max_sum(m, s, x[c], T(1));
        }
    }
    warp_merge(m, s);  // every lane takes part, also those of rows past the end
    if (warps_per_row > 1) {  // uniform across the block; then blockDim.y == 1
        if (lane == 0) {
            shared_m[warp] = m;
            shared_s[warp] = s;
        }
        __syncthreads();
        if (warp == 0) {
            m = lane < warps_per_row ? shared_m[lane] : negative_infinity<T>();
            s = lane < warps_per_row ? shared_s[lane] : T(0);
            warp_merge(m, s);
        }
    }
    if (threadIdx.x == 0 && row < rows) {
        const double log_sum = log((double)s);
        lse[row] = (double)m + log_sum;
        const long long t = target[row * target_stride];
        // log(s) - (x[t] - m) stays exact where lse - x[t] would round (|x| ~ 1e4)
        loss[row] = (t >= 0 && t < cols)
                        ? (T)(log_sum - ((double)logits[row * cols + t] - (double)m))
                        : quiet_nan<T>();
    }
}

template <typename T>
__device__ __forceinline__ void softmax_xent_backward(const T* logits, const long long* target,
                                                      long long target_stride, const double* lse,
                                                      const T* grad_rows, long long grad_stride,
                                                      double divisor, T* grad, long long rows,
                                                      long long cols) {
    const long long row = (long long)blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) {
        return;
    }
    const double row_lse = lse[row];
    const T g = grad_rows[row * grad_stride] / T(divisor);  // as the NumPy reference rounds
    const long long t = target[row * target_stride];
    const T* x = logits + row * cols;
    T* out = grad + row * cols;
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
        T p = exp_of((T)((double)x[c] - row_lse));
        if (c == t) {
            p -= T(1);
        }
        out[c] = p * g;
    }
}

extern "C" {

__global__ void softmax_xent_forward_f32(const float* logits, const long long* target,
                                         long long target_stride, float* loss, double* lse,
                                         long long rows, long long cols) {
    softmax_xent_forward(logits, target, target_stride, loss, lse, rows, cols);
}

__global__ void softmax_xent_forward_f64(const double* logits, const long long* target,
                                         long long target_stride, double* loss, double* lse,
                                         long long rows, long long cols) {
    softmax_xent_forward(logits, target, target_stride, loss, lse, rows, cols);
}

__global__ void softmax_xent_backward_f32(const float* logits, const long long* target,
                                          long long target_stride, const double* lse,
                                          const float* grad_rows, long long grad_stride,
                                          double divisor, float* grad, long long rows,
                                          long long cols) {
    softmax_xent_backward(logits, target, target_stride, lse, grad_rows, grad_stride, divisor,
                          grad, rows, cols);
}

__global__ void softmax_xent_backward_f64(const double* logits, const long long* target,
                                          long long target_stride, const double* lse,
                                          const double* grad_rows, long long grad_stride,
                                          double divisor, double* grad, long long rows,
                                          long long cols) {
    softmax_xent_backward(logits, target, target_stride, lse, grad_rows, grad_stride, divisor,
                          grad, rows, cols);
}

}  // extern "C"
