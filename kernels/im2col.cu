// Sliding windows for convolution and pooling: im2col and its adjoint col2im, and max pooling
// in one pass (max_pool2d) with its gradient (max_pool2d_backward).
//
//   im2col: cols[(c*kh + i)*kw + j, (b*oh + y)*ow + x]
//               = in[b, c, y*sh - top + i*dh, x*sw - left + j*dw]
//           (pad_value where that position is outside the input: 0 for a convolution, -inf for
//           max pooling), for an (n, c, h, w) input and (c*kh*kw, n*oh*ow) columns;
//   col2im: img[b, c, iy, ix] = the sum of the column entries im2col took from (iy, ix).
//
// The convolution is then one cuBLAS GEMM of the (O, c*kh*kw) weight with the columns
// (gpugrad/ops/conv.py). col2im gathers instead of scattering: one thread per image element
// adds the entries that cover it, taps in (i, j) order, so there are no atomics and every run
// (and the NumPy reference, gpugrad/backends/cpu/windows.py, which adds the taps in the same
// order) gives the same bits. Both are 1-D grid-stride loops over their outputs: consecutive
// threads write consecutive elements (coalesced); im2col's reads of one row are strided by sw.
//
//   max_pool2d: per window (b, c, y, x) of the same geometry (padding reads as -inf), the
//           largest tap and its flat index iy*w + ix in the (h, w) plane: taps in (i, j) order,
//           a tap replacing the best when larger or NaN (PyTorch's rule: the first of tied maxima,
//           the last NaN), the index starting at the window's first tap inside the input;
//   max_pool2d_backward: gin[b, c, iy, ix] = the sum of grad over the windows covering (iy, ix)
//           whose index chose it, gathered per input element in (i, j) order as col2im does.
//
// Loaded at run time by gpugrad/backends/cuda/windows.py with cupy.RawModule (NVRTC, no headers).

template <typename T>
__device__ __forceinline__ void im2col(const T* __restrict__ in, T* __restrict__ cols,
                                       long long n, long long c, long long h, long long w,
                                       long long kh, long long kw, long long sh, long long sw,
                                       long long top, long long left, long long dh, long long dw,
                                       long long oh, long long ow, double pad_value) {
    const long long positions = n * oh * ow;
    const long long total = c * kh * kw * positions;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += step) {
        const long long col = idx % positions;
        const long long row = idx / positions;
        const long long x = col % ow;
        const long long y = (col / ow) % oh;
        const long long b = col / (ow * oh);
        const long long j = row % kw;
        const long long i = (row / kw) % kh;
        const long long ch = row / (kw * kh);
        const long long iy = y * sh - top + i * dh;
        const long long ix = x * sw - left + j * dw;
        cols[idx] = (iy >= 0 && iy < h && ix >= 0 && ix < w)
                        ? in[((b * c + ch) * h + iy) * w + ix]
                        : T(pad_value);
    }
}

template <typename T>
__device__ __forceinline__ void col2im(const T* __restrict__ cols, T* __restrict__ img,
                                       long long n, long long c, long long h, long long w,
                                       long long kh, long long kw, long long sh, long long sw,
                                       long long top, long long left, long long dh, long long dw,
                                       long long oh, long long ow) {
    const long long positions = n * oh * ow;
    const long long total = n * c * h * w;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += step) {
        const long long ix = idx % w;
        const long long iy = (idx / w) % h;
        const long long ch = (idx / (w * h)) % c;
        const long long b = idx / (w * h * c);
        T sum = T(0);
        for (long long i = 0; i < kh; ++i) {
            const long long ynum = iy + top - i * dh;  // y * sh for the window that reads iy
            if (ynum < 0 || ynum % sh != 0 || ynum / sh >= oh) {
                continue;
            }
            const long long y = ynum / sh;
            for (long long j = 0; j < kw; ++j) {
                const long long xnum = ix + left - j * dw;
                if (xnum < 0 || xnum % sw != 0 || xnum / sw >= ow) {
                    continue;
                }
                const long long x = xnum / sw;
                sum += cols[((ch * kh + i) * kw + j) * positions + (b * oh + y) * ow + x];
            }
        }
        img[idx] = sum;
    }
}

template <typename T>
__device__ __forceinline__ void max_pool2d(const T* __restrict__ in, T* __restrict__ out,
                                           long long* __restrict__ index, long long n,
                                           long long c, long long h, long long w, long long kh,
                                           long long kw, long long sh, long long sw,
                                           long long top, long long left, long long dh,
                                           long long dw, long long oh, long long ow) {
    const long long total = n * c * oh * ow;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += step) {
        const long long x = idx % ow;
        const long long y = (idx / ow) % oh;
        const long long plane = idx / (ow * oh);
        const T* src = in + plane * h * w;
        const long long y0 = y * sh - top;
        const long long x0 = x * sw - left;
        // the first tap inside the input (padding is at most half the window)
        const long long iy0 = y0 < 0 ? y0 + ((-y0 + dh - 1) / dh) * dh : y0;
        const long long ix0 = x0 < 0 ? x0 + ((-x0 + dw - 1) / dw) * dw : x0;
        long long best_at = iy0 * w + ix0;
        T best = src[best_at];  // as -inf would: the taps compare with it from the first on
        for (long long i = 0; i < kh; ++i) {
            const long long iy = y0 + i * dh;
            if (iy < 0 || iy >= h) {
                continue;
            }
            for (long long j = 0; j < kw; ++j) {
                const long long ix = x0 + j * dw;
                if (ix < 0 || ix >= w) {
                    continue;
                }
                const T v = src[iy * w + ix];
                if (v > best || v != v) {
                    best = v;
                    best_at = iy * w + ix;
                }
            }
        }
        out[idx] = best;
        index[idx] = best_at;
    }
}

template <typename T>
__device__ __forceinline__ void max_pool2d_backward(const T* __restrict__ grad,
                                                    const long long* __restrict__ index,
                                                    T* __restrict__ gin, long long n,
                                                    long long c, long long h, long long w,
                                                    long long kh, long long kw, long long sh,
                                                    long long sw, long long top, long long left,
                                                    long long dh, long long dw, long long oh,
                                                    long long ow) {
    const long long total = n * c * h * w;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += step) {
        const long long ix = idx % w;
        const long long iy = (idx / w) % h;
        const long long plane = idx / (w * h);
        const long long here = iy * w + ix;
        T sum = T(0);
        for (long long i = 0; i < kh; ++i) {
            const long long ynum = iy + top - i * dh;
            if (ynum < 0 || ynum % sh != 0 || ynum / sh >= oh) {
                continue;
            }
            for (long long j = 0; j < kw; ++j) {
                const long long xnum = ix + left - j * dw;
                if (xnum < 0 || xnum % sw != 0 || xnum / sw >= ow) {
                    continue;
                }
                const long long at = (plane * oh + ynum / sh) * ow + xnum / sw;
                if (index[at] == here) {
                    sum += grad[at];
                }
            }
        }
        gin[idx] = sum;
    }
}

extern "C" {

__global__ void im2col_f32(const float* in, float* cols, long long n, long long c, long long h,
                           long long w, long long kh, long long kw, long long sh, long long sw,
                           long long top, long long left, long long dh, long long dw,
                           long long oh, long long ow, double pad_value) {
    im2col(in, cols, n, c, h, w, kh, kw, sh, sw, top, left, dh, dw, oh, ow, pad_value);
}

__global__ void im2col_f64(const double* in, double* cols, long long n, long long c, long long h,
                           long long w, long long kh, long long kw, long long sh, long long sw,
                           long long top, long long left, long long dh, long long dw,
                           long long oh, long long ow, double pad_value) {
    im2col(in, cols, n, c, h, w, kh, kw, sh, sw, top, left, dh, dw, oh, ow, pad_value);
}

__global__ void col2im_f32(const float* cols, float* img, long long n, long long c, long long h,
                           long long w, long long kh, long long kw, long long sh, long long sw,
                           long long top, long long left, long long dh, long long dw,
                           long long oh, long long ow) {
    col2im(cols, img, n, c, h, w, kh, kw, sh, sw, top, left, dh, dw, oh, ow);
}

__global__ void col2im_f64(const double* cols, double* img, long long n, long long c, long long h,
                           long long w, long long kh, long long kw, long long sh, long long sw,
                           long long top, long long left, long long dh, long long dw,
                           long long oh, long long ow) {
    col2im(cols, img, n, c, h, w, kh, kw, sh, sw, top, left, dh, dw, oh, ow);
}

__global__ void max_pool2d_f32(const float* in, float* out, long long* index, long long n,
                               long long c, long long h, long long w, long long kh, long long kw,
                               long long sh, long long sw, long long top, long long left,
                               long long dh, long long dw, long long oh, long long ow) {
    max_pool2d(in, out, index, n, c, h, w, kh, kw, sh, sw, top, left, dh, dw, oh, ow);
}

__global__ void max_pool2d_f64(const double* in, double* out, long long* index, long long n,
                               long long c, long long h, long long w, long long kh, long long kw,
                               long long sh, long long sw, long long top, long long left,
                               long long dh, long long dw, long long oh, long long ow) {
    max_pool2d(in, out, index, n, c, h, w, kh, kw, sh, sw, top, left, dh, dw, oh, ow);
}

__global__ void max_pool2d_backward_f32(const float* grad, const long long* index, float* gin,
                                        long long n, long long c, long long h, long long w,
                                        long long kh, long long kw, long long sh, long long sw,
                                        long long top, long long left, long long dh,
                                        long long dw, long long oh, long long ow) {
    max_pool2d_backward(grad, index, gin, n, c, h, w, kh, kw, sh, sw, top, left, dh, dw, oh,
                        ow);
}

__global__ void max_pool2d_backward_f64(const double* grad, const long long* index, double* gin,
                                        long long n, long long c, long long h, long long w,
                                        long long kh, long long kw, long long sh, long long sw,
                                        long long top, long long left, long long dh,
                                        long long dw, long long oh, long long ow) {
    max_pool2d_backward(grad, index, gin, n, c, h, w, kh, kw, sh, sw, top, left, dh, dw, oh,
                        ow);
}

}  // extern "C"
