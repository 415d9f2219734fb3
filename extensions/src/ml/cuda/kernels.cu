// Kernels of the CUDA backend, compiled at run time with NVRTC (the build never needs nvcc).
// Every kernel takes plain pointers and sizes; the Rust side checks shapes before launching.
// Row-major f32 tensors; CSR offsets and node indexes are u32 as in `Relation`.

typedef unsigned int u32;
typedef unsigned long long u64;

#define FULL_MASK 0xffffffffu

// How `gather_rows` scales each gathered row.
#define SCALE_NONE 0        // sum
#define SCALE_OWN_DEGREE 1  // mean over the row's own neighbours (forward mean)
#define SCALE_NEIGHBOUR 2   // each neighbour's row over that neighbour's degree (backward of mean)

__device__ __forceinline__ float neighbour_scale(int mode, const u32* degree_offsets, u32 n) {
    if (mode != SCALE_NEIGHBOUR) return 1.0f;
    u32 d = degree_offsets[n + 1] - degree_offsets[n];
    return d > 0 ? 1.0f / (float)d : 0.0f;
}

__device__ __forceinline__ void add4(float4& acc, float4 v, float s) {
    acc.x += v.x * s;
    acc.y += v.y * s;
    acc.z += v.z * s;
    acc.w += v.w * s;
}

// out[r, :] = scale * sum over j in offsets[r]..offsets[r+1] of x[index[j], :], one warp per row.
// The warp loads 32 neighbour indexes at a time and broadcasts them with shuffles; each lane owns
// float4 columns `lane` and `lane + 32` of a 256-column chunk, so every gathered row is read with
// coalesced 16-byte loads and no two warps write the same row (no atomics). Needs cols % 4 == 0.
extern "C" __global__ void gather_rows_vec4(const u32* __restrict__ offsets,
                                            const u32* __restrict__ index,
                                            const float* __restrict__ x,
                                            float* __restrict__ out, u32 rows, u32 cols,
                                            int mode, const u32* __restrict__ degree_offsets) {
    u32 warps_per_block = blockDim.x >> 5;
    u32 lane = threadIdx.x & 31;
    u32 quads = cols >> 2;
    for (u64 r = (u64)blockIdx.x * warps_per_block + (threadIdx.x >> 5); r < rows;
         r += (u64)gridDim.x * warps_per_block) {
        u32 start = offsets[r];
        u32 end = offsets[r + 1];
        float own = 1.0f;
        if (mode == SCALE_OWN_DEGREE && end > start) own = 1.0f / (float)(end - start);
        for (u32 chunk = 0; chunk < quads; chunk += 64) {
            u32 c0 = chunk + lane;
            u32 c1 = chunk + lane + 32;
            float4 a0 = make_float4(0.f, 0.f, 0.f, 0.f);
            float4 a1 = make_float4(0.f, 0.f, 0.f, 0.f);
            for (u32 base = start; base < end; base += 32) {
                u32 mine = base + lane < end ? index[base + lane] : 0;
                float my_scale = base + lane < end ? neighbour_scale(mode, degree_offsets, mine) : 0.f;
                u32 count = min(32u, end - base);
#pragma unroll 4
                for (u32 j = 0; j < count; ++j) {
                    u32 n = __shfl_sync(FULL_MASK, mine, j);
                    float s = __shfl_sync(FULL_MASK, my_scale, j);
                    const float4* row = reinterpret_cast<const float4*>(x + (u64)n * cols);
                    if (c0 < quads) add4(a0, __ldg(row + c0), s);
                    if (c1 < quads) add4(a1, __ldg(row + c1), s);
                }
            }
            float4* dst = reinterpret_cast<float4*>(out + r * cols);
            if (c0 < quads) dst[c0] = make_float4(a0.x * own, a0.y * own, a0.z * own, a0.w * own);
            if (c1 < quads) dst[c1] = make_float4(a1.x * own, a1.y * own, a1.z * own, a1.w * own);
        }
    }
}

// The same for any width: lane owns columns lane, lane+32, lane+64, lane+96 of a 128-wide chunk.
extern "C" __global__ void gather_rows_scalar(const u32* __restrict__ offsets,
                                              const u32* __restrict__ index,
                                              const float* __restrict__ x,
                                              float* __restrict__ out, u32 rows, u32 cols,
                                              int mode, const u32* __restrict__ degree_offsets) {
    u32 warps_per_block = blockDim.x >> 5;
    u32 lane = threadIdx.x & 31;
    for (u64 r = (u64)blockIdx.x * warps_per_block + (threadIdx.x >> 5); r < rows;
         r += (u64)gridDim.x * warps_per_block) {
        u32 start = offsets[r];
        u32 end = offsets[r + 1];
        float own = 1.0f;
        if (mode == SCALE_OWN_DEGREE && end > start) own = 1.0f / (float)(end - start);
        for (u32 chunk = 0; chunk < cols; chunk += 128) {
            float acc[4] = {0.f, 0.f, 0.f, 0.f};
            for (u32 base = start; base < end; base += 32) {
                u32 mine = base + lane < end ? index[base + lane] : 0;
                float my_scale = base + lane < end ? neighbour_scale(mode, degree_offsets, mine) : 0.f;
                u32 count = min(32u, end - base);
                for (u32 j = 0; j < count; ++j) {
                    u32 n = __shfl_sync(FULL_MASK, mine, j);
                    float s = __shfl_sync(FULL_MASK, my_scale, j);
                    const float* row = x + (u64)n * cols;
#pragma unroll
                    for (int k = 0; k < 4; ++k) {
                        u32 c = chunk + lane + 32 * k;
                        if (c < cols) acc[k] += __ldg(row + c) * s;
                    }
                }
            }
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                u32 c = chunk + lane + 32 * k;
                if (c < cols) out[r * cols + c] = acc[k] * own;
            }
        }
    }
}

extern "C" __global__ void add_assign(float* __restrict__ a, const float* __restrict__ b, u64 n) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        a[i] += b[i];
}

extern "C" __global__ void add_row(float* __restrict__ x, const float* __restrict__ bias, u64 n,
                                   u32 cols) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        x[i] += bias[i % cols];
}

// x = max(x + bias, 0) in place: bias and ReLU in one pass over the pre-activation.
extern "C" __global__ void bias_relu(float* __restrict__ x, const float* __restrict__ bias, u64 n,
                                     u32 cols) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        x[i] = fmaxf(x[i] + bias[i % cols], 0.0f);
}

extern "C" __global__ void relu(const float* __restrict__ x, float* __restrict__ y, u64 n) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        y[i] = fmaxf(x[i], 0.0f);
}

extern "C" __global__ void relu_backward(const float* __restrict__ dy, const float* __restrict__ y,
                                         float* __restrict__ dx, u64 n) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

extern "C" __global__ void mul(const float* __restrict__ a, const float* __restrict__ b,
                               float* __restrict__ out, u64 n) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        out[i] = a[i] * b[i];
}

extern "C" __global__ void scale(float* __restrict__ x, float factor, u64 n) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        x[i] *= factor;
}

// SplitMix64's finaliser, as `cpu::mix64`: the CPU and the GPU draw the same dropout masks.
__device__ __forceinline__ u64 mix64(u64 z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

__device__ __forceinline__ float keep_scale(u64 seed, u64 i, float p, float scale) {
    u64 r = mix64(seed ^ mix64(i));
    float u = (float)(r >> 40) / 16777216.0f;
    return u < p ? 0.0f : scale;
}

extern "C" __global__ void dropout_mask(float* __restrict__ mask, u64 n, float p, float scale,
                                        u64 seed) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        mask[i] = keep_scale(seed, i, p, scale);
}

// h += activation * mask, writing the mask for the backward pass: dropout and the residual add
// in one pass.
extern "C" __global__ void dropout_residual(float* __restrict__ h, const float* __restrict__ a,
                                            float* __restrict__ mask, u64 n, float p, float scale,
                                            u64 seed) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x) {
        float m = keep_scale(seed, i, p, scale);
        mask[i] = m;
        h[i] += a[i] * m;
    }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

// One warp per row: mean, variance (two passes over the row, the second from cache), then the
// normalised row and the scaled-and-shifted output.
extern "C" __global__ void layer_norm(const float* __restrict__ x, const float* __restrict__ gamma,
                                      const float* __restrict__ beta, float* __restrict__ normalized,
                                      float* __restrict__ out, float* __restrict__ inv_std,
                                      u32 rows, u32 cols, float eps) {
    u32 warps_per_block = blockDim.x >> 5;
    u32 lane = threadIdx.x & 31;
    for (u64 r = (u64)blockIdx.x * warps_per_block + (threadIdx.x >> 5); r < rows;
         r += (u64)gridDim.x * warps_per_block) {
        const float* row = x + r * cols;
        float sum = 0.f;
        for (u32 c = lane; c < cols; c += 32) sum += row[c];
        float mean = warp_sum(sum) / (float)cols;
        float sq = 0.f;
        for (u32 c = lane; c < cols; c += 32) {
            float d = row[c] - mean;
            sq += d * d;
        }
        float rstd = rsqrtf(warp_sum(sq) / (float)cols + eps);
        for (u32 c = lane; c < cols; c += 32) {
            float xhat = (row[c] - mean) * rstd;
            normalized[r * cols + c] = xhat;
            out[r * cols + c] = xhat * gamma[c] + beta[c];
        }
        if (lane == 0) inv_std[r] = rstd;
    }
}

extern "C" __global__ void layer_norm_backward(const float* __restrict__ dy,
                                               const float* __restrict__ normalized,
                                               const float* __restrict__ inv_std,
                                               const float* __restrict__ gamma,
                                               float* __restrict__ dx, u32 rows, u32 cols) {
    u32 warps_per_block = blockDim.x >> 5;
    u32 lane = threadIdx.x & 31;
    for (u64 r = (u64)blockIdx.x * warps_per_block + (threadIdx.x >> 5); r < rows;
         r += (u64)gridDim.x * warps_per_block) {
        const float* g = dy + r * cols;
        const float* xh = normalized + r * cols;
        float mg = 0.f, mgx = 0.f;
        for (u32 c = lane; c < cols; c += 32) {
            float v = g[c] * gamma[c];
            mg += v;
            mgx += v * xh[c];
        }
        mg = warp_sum(mg) / (float)cols;
        mgx = warp_sum(mgx) / (float)cols;
        float rstd = inv_std[r];
        for (u32 c = lane; c < cols; c += 32) {
            float v = g[c] * gamma[c];
            dx[r * cols + c] = rstd * (v - mg - xh[c] * mgx);
        }
    }
}

// First stage of column sums (of x, or of x * y when y is not null): block (32, 8) sums
// `chunk` rows starting at blockIdx.y * chunk for 32 columns into partial[blockIdx.y, :].
// Two deterministic stages instead of atomics: the same inputs give the same bits.
extern "C" __global__ void column_partial_sums(const float* __restrict__ x,
                                               const float* __restrict__ y,
                                               float* __restrict__ partial, u32 rows, u32 cols,
                                               u32 chunk) {
    __shared__ float tile[8][33];
    u32 c = blockIdx.x * 32 + threadIdx.x;
    u64 first = (u64)blockIdx.y * chunk;
    u64 last = min((u64)rows, first + chunk);
    float acc = 0.f;
    if (c < cols) {
        for (u64 r = first + threadIdx.y; r < last; r += 8) {
            float v = x[r * cols + c];
            if (y) v *= y[r * cols + c];
            acc += v;
        }
    }
    tile[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        float s = 0.f;
#pragma unroll
        for (int k = 0; k < 8; ++k) s += tile[k][threadIdx.x];
        partial[(u64)blockIdx.y * cols + c] = s;
    }
}

extern "C" __global__ void sum_partials(const float* __restrict__ partial, float* __restrict__ out,
                                        u32 parts, u32 cols) {
    u32 c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    float s = 0.f;
    for (u32 p = 0; p < parts; ++p) s += partial[(u64)p * cols + c];
    out[c] = s;
}

// Per element of weighted BCE on logits: terms[i] = (w·loss, w) for the two sums, and the
// unnormalised gradient w·(σ(z) − y); the host divides by Σw once the sums are known.
extern "C" __global__ void bce_terms(const float* __restrict__ z, const float* __restrict__ y,
                                     const float* __restrict__ w, float* __restrict__ terms,
                                     float* __restrict__ grad, u64 n) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x) {
        float zi = z[i], yi = y[i], wi = w[i];
        if (wi == 0.0f) {
            terms[2 * i] = 0.f;
            terms[2 * i + 1] = 0.f;
            grad[i] = 0.f;
            continue;
        }
        float l = fmaxf(zi, 0.f) - zi * yi + log1pf(expf(-fabsf(zi)));
        terms[2 * i] = wi * l;
        terms[2 * i + 1] = wi;
        float s = 1.0f / (1.0f + expf(-zi));
        grad[i] = wi * (s - yi);
    }
}

extern "C" __global__ void adamw(float* __restrict__ p, const float* __restrict__ g,
                                 float* __restrict__ m, float* __restrict__ v, u64 n, float lr,
                                 float beta1, float beta2, float eps, float weight_decay,
                                 float bias1, float bias2) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x) {
        float gi = g[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float update = (mi / bias1) / (sqrtf(vi / bias2) + eps);
        p[i] -= lr * (update + weight_decay * p[i]);
    }
}
