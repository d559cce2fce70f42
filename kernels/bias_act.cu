// Fused bias + activation for a row-major (rows, cols) matrix and a (cols,) bias.
//
//   forward:  out[r, c] = act(x[r, c] + bias[c])
//   backward: grad_x[r, c] = grad_out[r, c] * act'(out[r, c])   (from the saved output)
//
// The activation codes follow gpugrad.backends.base.ACTIVATIONS:
// 0 identity, 1 relu, 2 tanh, 3 sigmoid. The formulas (sigmoid as 0.5 * (tanh(x / 2) + 1), relu
// keeping NaN) match the NumPy reference in gpugrad/backends/cpu.py operation for operation.
//
// Loaded at run time by gpugrad/backends/cuda.py with cupy.RawModule (NVRTC, no headers);
// kernels/build.sh compiles the same file with nvcc so CI catches mistakes without a GPU.

__device__ __forceinline__ float tanh_of(float v) { return tanhf(v); }
__device__ __forceinline__ double tanh_of(double v) { return tanh(v); }

template <typename T>
__device__ __forceinline__ T activate(T v, long long act) {
    switch (act) {
    case 1:
        return v < T(0) ? T(0) : v;  // NaN < 0 is false, so NaN passes through as in NumPy
    case 2:
        return tanh_of(v);
    case 3:
        return (tanh_of(v * T(0.5)) + T(1)) * T(0.5);
    default:
        return v;
    }
}

template <typename T>
__device__ __forceinline__ T activation_grad(T grad, T out, long long act) {
    switch (act) {
    case 1:
        return grad * (out > T(0) ? T(1) : T(0));
    case 2:
        return grad * (T(1) - out * out);
    case 3:
        return grad * (out * (T(1) - out));
    default:
        return grad;
    }
}

// A 2-D launch: threadIdx.x / blockIdx.x walk the columns (coalesced, and each thread keeps its
// bias value in a register), threadIdx.y / blockIdx.y walk the rows with a grid stride, so no
// thread divides an index by the row length.
template <typename T>
__device__ __forceinline__ void bias_act_forward(const T* x, const T* bias, T* out, long long rows,
                                                 long long cols, long long act) {
    const long long col = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= cols) {
        return;
    }
    const T b = bias[col];
    const long long row_step = (long long)gridDim.y * blockDim.y;
    for (long long row = (long long)blockIdx.y * blockDim.y + threadIdx.y; row < rows;
         row += row_step) {
        const long long i = row * cols + col;
        out[i] = activate(x[i] + b, act);
    }
}

// A 1-D grid-stride loop over all n elements.
template <typename T>
__device__ __forceinline__ void bias_act_backward(const T* grad_out, const T* out, T* grad_in,
                                                  long long n, long long act) {
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        grad_in[i] = activation_grad(grad_out[i], out[i], act);
    }
}

extern "C" {

__global__ void bias_act_forward_f32(const float* x, const float* bias, float* out,
                                     long long rows, long long cols, long long act) {
    bias_act_forward(x, bias, out, rows, cols, act);
}

__global__ void bias_act_forward_f64(const double* x, const double* bias, double* out,
                                     long long rows, long long cols, long long act) {
    bias_act_forward(x, bias, out, rows, cols, act);
}

__global__ void bias_act_backward_f32(const float* grad_out, const float* out, float* grad_in,
                                      long long n, long long act) {
    bias_act_backward(grad_out, out, grad_in, n, act);
}

__global__ void bias_act_backward_f64(const double* grad_out, const double* out, double* grad_in,
                                      long long n, long long act) {
    bias_act_backward(grad_out, out, grad_in, n, act);
}

}  // extern "C"
