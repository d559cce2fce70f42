// Softmax cross-entropy over the rows of row-major (rows, cols) logits with int64 targets.
//
//   forward:  m[r] = max_c logits[r, c],  s[r] = sum_c exp(logits[r, c] - m[r])
//             out[0, r] = log(s[r]) - (logits[r, target[r]] - m[r])   (the row's loss)
//             out[1, r] = 1                                          (the row is counted)
//             lse[r]    = m[r] + log(s[r])                           (saved for backward)
//   backward: grad[r, c] = (exp(logits[r, c] - lse[r]) - (c == target[r])) * (grad_rows[r] / d)
//
// A row whose target is ignore_index (PyTorch's padding label, -100 by default) is not read: its
// loss and flag are 0 (its lse is -inf) and its gradient row is 0. The flags sit after the losses
// in one (2, rows) array, so one reduction over its rows gives a mean's sum and count.
//
// d is the divisor: `divisor` for per-row losses or a sum (1), or, for a mean, count[0] read on
// the device (the count of rows not ignored, which the host never waits for); grad_rows is then
// the mean's one gradient value (element stride 0), so the mean's backward is no extra kernel.
//
// lse is kept in double for either logit type: at |logits| ~ 1e4 a float lse would be off by up
// to half a float ulp of 1e4 (5e-4), and exp(logits - lse) would carry that error; in double the
// difference is exact to ~1e-12 before it is rounded to the logit type.
//
// Each pass reads the logits once. The forward keeps an online (max, sum) pair per thread: when
// a larger value arrives the running sum is rescaled, so the max is never a separate pass. Pairs
// are merged across a warp with shuffles and, for wide rows, across warps through shared memory.
//
// Launch shape (chosen in gpugrad/backends/cuda/fused.py): blockDim.x threads share one row and
// blockDim.y rows share a block; blockDim.x is a multiple of 32 (one warp per row for up to 1024
// classes, more warps for wider rows, and then blockDim.y == 1); gridDim.x = ceil(rows / blockDim.y).
// A target outside [0, cols) other than ignore_index gives a NaN loss row, counted, and a NaN
// gradient row (a kernel cannot raise, and checking on the host would need a sync).
// Targets and grad_rows take an element stride, so broadcast views (stride 0) need no copy.
//
// float16 and bfloat16 logits (low_precision.cuh) are read in their precision and computed in
// float; the losses and gradients are rounded once, when stored.

#include "low_precision.cuh"

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
                                                     long long target_stride,
                                                     long long ignore_index, T* out, double* lse,
                                                     long long rows, long long cols) {
    typedef Compute<T> K;
    typedef typename K::type C;
    __shared__ C shared_m[32];
    __shared__ C shared_s[32];
    const long long row = (long long)blockIdx.x * blockDim.y + threadIdx.y;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;  // warp number within this row's group
    const int warps_per_row = blockDim.x >> 5;

    C m = negative_infinity<C>();
    C s = C(0);
    const long long t = row < rows ? target[row * target_stride] : ignore_index;
    if (t != ignore_index) {  // an ignored row's logits are not read
        const T* x = logits + row * cols;
        for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
            merge_max_sum(m, s, K::widen(x[c]), C(1));
        }
    }
    warp_merge(m, s);  // every lane takes part, also those of rows past the end or ignored
    if (warps_per_row > 1) {  // uniform across the block; then blockDim.y == 1
        if (lane == 0) {
            shared_m[warp] = m;
            shared_s[warp] = s;
        }
        __syncthreads();
        if (warp == 0) {
            m = lane < warps_per_row ? shared_m[lane] : negative_infinity<C>();
            s = lane < warps_per_row ? shared_s[lane] : C(0);
            warp_merge(m, s);
        }
    }
    if (threadIdx.x == 0 && row < rows) {
        const double log_sum = log((double)s);
        lse[row] = (double)m + log_sum;
        C loss = C(0);
        if (t != ignore_index) {
            // log(s) - (x[t] - m) stays exact where lse - x[t] would round (|x| ~ 1e4)
            loss = (t >= 0 && t < cols)
                       ? (C)(log_sum - ((double)K::widen(logits[row * cols + t]) - (double)m))
                       : quiet_nan<C>();
        }
        out[row] = K::narrow(loss);
        out[rows + row] = K::narrow(t != ignore_index ? C(1) : C(0));
    }
}

template <typename T>
__device__ __forceinline__ void softmax_xent_backward(const T* logits, const long long* target,
                                                      long long target_stride,
                                                      long long ignore_index, const double* lse,
                                                      const T* grad_rows, long long grad_stride,
                                                      const T* count, bool use_count,
                                                      double divisor, T* grad, long long rows,
                                                      long long cols) {
    typedef Compute<T> K;
    typedef typename K::type C;
    const long long row = (long long)blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) {
        return;
    }
    const long long t = target[row * target_stride];
    T* out = grad + row * cols;
    if (t == ignore_index) {
        for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
            out[c] = K::narrow(C(0));
        }
        return;
    }
    const double row_lse = lse[row];
    // as the NumPy reference rounds: the gradient value over the divisor, in T
    const C g =
        K::widen(grad_rows[row * grad_stride]) / (use_count ? K::widen(count[0]) : C(divisor));
    const bool valid = t >= 0 && t < cols;
    const T* x = logits + row * cols;
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
        C p = exp_of((C)((double)K::widen(x[c]) - row_lse));
        if (c == t) {
            p -= C(1);
        }
        out[c] = K::narrow(valid ? p * g : quiet_nan<C>());
    }
}

extern "C" {

__global__ void softmax_xent_forward_f32(const float* logits, const long long* target,
                                         long long target_stride, long long ignore_index,
                                         float* out, double* lse, long long rows,
                                         long long cols) {
    softmax_xent_forward(logits, target, target_stride, ignore_index, out, lse, rows, cols);
}

__global__ void softmax_xent_forward_f64(const double* logits, const long long* target,
                                         long long target_stride, long long ignore_index,
                                         double* out, double* lse, long long rows,
                                         long long cols) {
    softmax_xent_forward(logits, target, target_stride, ignore_index, out, lse, rows, cols);
}

__global__ void softmax_xent_backward_f32(const float* logits, const long long* target,
                                          long long target_stride, long long ignore_index,
                                          const double* lse, const float* grad_rows,
                                          long long grad_stride, const float* count,
                                          bool use_count, double divisor, float* grad,
                                          long long rows, long long cols) {
    softmax_xent_backward(logits, target, target_stride, ignore_index, lse, grad_rows,
                          grad_stride, count, use_count, divisor, grad, rows, cols);
}

__global__ void softmax_xent_backward_f64(const double* logits, const long long* target,
                                          long long target_stride, long long ignore_index,
                                          const double* lse, const double* grad_rows,
                                          long long grad_stride, const double* count,
                                          bool use_count, double divisor, double* grad,
                                          long long rows, long long cols) {
    softmax_xent_backward(logits, target, target_stride, ignore_index, lse, grad_rows,
                          grad_stride, count, use_count, divisor, grad, rows, cols);
}

__global__ void softmax_xent_forward_f16(const half_bits* logits, const long long* target,
                                         long long target_stride, long long ignore_index,
                                         half_bits* out, double* lse, long long rows,
                                         long long cols) {
    softmax_xent_forward(logits, target, target_stride, ignore_index, out, lse, rows, cols);
}

__global__ void softmax_xent_forward_bf16(const bf16_bits* logits, const long long* target,
                                          long long target_stride, long long ignore_index,
                                          bf16_bits* out, double* lse, long long rows,
                                          long long cols) {
    softmax_xent_forward(logits, target, target_stride, ignore_index, out, lse, rows, cols);
}

__global__ void softmax_xent_backward_f16(const half_bits* logits, const long long* target,
                                          long long target_stride, long long ignore_index,
                                          const double* lse, const half_bits* grad_rows,
                                          long long grad_stride, const half_bits* count,
                                          bool use_count, double divisor, half_bits* grad,
                                          long long rows, long long cols) {
    softmax_xent_backward(logits, target, target_stride, ignore_index, lse, grad_rows,
                          grad_stride, count, use_count, divisor, grad, rows, cols);
}

__global__ void softmax_xent_backward_bf16(const bf16_bits* logits, const long long* target,
                                           long long target_stride, long long ignore_index,
                                           const double* lse, const bf16_bits* grad_rows,
                                           long long grad_stride, const bf16_bits* count,
                                           bool use_count, double divisor, bf16_bits* grad,
                                           long long rows, long long cols) {
    softmax_xent_backward(logits, target, target_stride, ignore_index, lse, grad_rows,
                          grad_stride, count, use_count, divisor, grad, rows, cols);
}

}  // extern "C"
