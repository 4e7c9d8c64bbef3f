// gatedDeltaRule on the GPU: one fused kernel per (batch x head, value-column
// slice) walking the chunks in order with its slice of S [dk, WS] in shared
// memory; the WY/UT chunk form of algorithms.md §10(c) (the CPU's
// chunk_gdn.h), exact for every chunk size:
//   A = tril(diag(beta)(Gamma * K K^T), -1); T = (I + A)^{-1} diag(beta) (row by
//   row with hd_ut_elem); W = T (e^G K); U = T V; Vn = U - W S;
//   O = scale e^G Q S + tril(scale Gamma * Q K^T) Vn;  S = e^{G_n} S + (e^{G_n - G} K)^T Vn
// SIMT f32 out of shared memory; chunk and head dims limited by shared memory
// (C = 64 with dk = 128 fits an A100). The recurrent mode and larger shapes: memory_token.cu.
#include "memory.cuh"

namespace engram {
namespace cuda {

namespace {

constexpr int kMemThreads = 256;

struct GdnArgs {
  SeqView q, k, v, g, beta;
  StateView S0, Sf;
  void* o;
  DType odt;
  int B, T, H, dk, dv, C, WS;
  float scale;
};

struct Smem {
  int Q, K, W, M1, Aqk, U, V, S, vec, total;
  __host__ __device__ Smem(int C, int dk, int WS) {
    int o = 0;
    Q = o, o += C * dk;
    K = o, o += C * dk;
    W = o, o += C * dk;
    M1 = o, o += C * C;
    Aqk = o, o += C * C;
    U = o, o += C * WS;
    V = o, o += C * WS;
    S = o, o += dk * WS;
    vec = o, o += 3 * C;  // G, beta, row scratch
    total = o;
  }
};

__global__ void __launch_bounds__(kMemThreads) gdn_kernel(GdnArgs a) {
  extern __shared__ __align__(16) float sm[];
  const int bh = blockIdx.x, b = bh / a.H, h = bh % a.H;
  const int j0 = blockIdx.y * a.WS, w = min(a.WS, a.dv - j0);
  const int dk = a.dk, C = a.C, WS = a.WS, tid = threadIdx.x, nt = blockDim.x;
  const Smem L(C, dk, WS);
  float *Q = sm + L.Q, *K = sm + L.K, *W = sm + L.W, *M1 = sm + L.M1, *Aq = sm + L.Aqk;
  float *U = sm + L.U, *V = sm + L.V, *S = sm + L.S, *G = sm + L.vec, *be = G + C, *row = be + C;

  for (int i = tid; i < dk * WS; i += nt) {
    const int e = i / WS, j = i % WS;
    S[i] = (j < w && a.S0.p) ? *state_at(a.S0, b, h, e, j0 + j) : 0.0f;
  }
  __syncthreads();
  for (int t0 = 0; t0 < a.T; t0 += C) {
    const int n = min(C, a.T - t0);
    for (int i = tid; i < n * dk; i += nt) {
      const int t = i / dk, e = i % dk;
      Q[i] = seq_at(a.q, b, t0 + t, h, e);
      K[i] = seq_at(a.k, b, t0 + t, h, e);
    }
    for (int i = tid; i < n * WS; i += nt) {
      const int t = i / WS, j = i % WS;
      V[i] = j < w ? seq_at(a.v, b, t0 + t, h, j0 + j) : 0.0f;
    }
    for (int t = tid; t < n; t += nt) {
      G[t] = gate_at(a.g, b, t0 + t, h);
      be[t] = gate_at(a.beta, b, t0 + t, h);
    }
    __syncthreads();
    if (tid == 0)
      for (int t = 1; t < n; ++t) G[t] += G[t - 1];  // chunk-local cumsum of log decays
    __syncthreads();
    // A (strictly lower) and Aqk (lower incl. diagonal), Gamma = exp(G_i - G_j)
    for (int i = tid; i < n * n; i += nt) {
      const int r = i / n, s = i % n;
      float kk = 0.0f, qk = 0.0f;
      if (s <= r) {
        for (int e = 0; e < dk; ++e) {
          kk += K[r * dk + e] * K[s * dk + e];
          qk += Q[r * dk + e] * K[s * dk + e];
        }
      }
      const float gm = s <= r ? expf(G[r] - G[s]) : 0.0f;
      M1[i] = s < r ? be[r] * gm * kk : 0.0f;
      Aq[i] = s <= r ? a.scale * gm * qk : 0.0f;
    }
    __syncthreads();
    // (I + A)^{-1} row by row, overwriting A (row i of A is read while row i is computed)
    for (int r = 0; r < n; ++r) {
      for (int j = tid; j < n; j += nt) row[j] = hd_ut_elem(r, j, M1, n, M1, n);
      __syncthreads();
      for (int j = tid; j < n; j += nt) M1[r * n + j] = row[j];
      __syncthreads();
    }
    for (int i = tid; i < n * n; i += nt) M1[i] *= be[i % n];  // T = (I + A)^{-1} diag(beta)
    __syncthreads();
    // W = T (e^G K), U = T V
    for (int i = tid; i < n * dk; i += nt) {
      const int t = i / dk, e = i % dk;
      float s = 0.0f;
      for (int u = 0; u <= t; ++u) s += M1[t * n + u] * expf(G[u]) * K[u * dk + e];
      W[i] = s;
    }
    for (int i = tid; i < n * WS; i += nt) {
      const int t = i / WS, j = i % WS;
      float s = 0.0f;
      for (int u = 0; u <= t; ++u) s += M1[t * n + u] * V[u * WS + j];
      U[i] = s;
    }
    __syncthreads();
    // Vn = U - W S (into V)
    for (int i = tid; i < n * WS; i += nt) {
      const int t = i / WS, j = i % WS;
      float s = U[i];
      for (int e = 0; e < dk; ++e) s -= W[t * dk + e] * S[e * WS + j];
      V[i] = s;
    }
    __syncthreads();
    // O = scale e^G Q S + Aqk Vn
    for (int i = tid; i < n * WS; i += nt) {
      const int t = i / WS, j = i % WS;
      if (j >= w) continue;
      float qs = 0.0f;
      for (int e = 0; e < dk; ++e) qs += Q[t * dk + e] * S[e * WS + j];
      float o = a.scale * expf(G[t]) * qs;
      for (int u = 0; u <= t; ++u) o += Aq[t * n + u] * V[u * WS + j];
      store_f32(a.o, (((int64_t)b * a.T + t0 + t) * a.H + h) * a.dv + j0 + j, a.odt, o);
    }
    __syncthreads();
    // S = e^{G_n} S + (e^{G_n - G} K)^T Vn
    const float Gn = G[n - 1];
    for (int i = tid; i < dk * WS; i += nt) {
      const int e = i / WS, j = i % WS;
      float s = expf(Gn) * S[i];
      for (int t = 0; t < n; ++t) s += expf(Gn - G[t]) * K[t * dk + e] * V[t * WS + j];
      S[i] = s;
    }
    __syncthreads();
  }
  if (a.Sf.p)
    for (int i = tid; i < dk * WS; i += nt) {
      const int e = i / WS, j = i % WS;
      if (j < w) *state_at(a.Sf, b, h, e, j0 + j) = S[i];
    }
}

int slice_width(int dv) { return dv <= 32 ? dv : 32; }

}  // namespace

bool gated_delta_rule_cuda_ok(const OpCall& c) {
  const GdnParams& p = c.p<GdnParams>();
  const int64_t dk = c.in[0].size(3), dv = c.in[2].size(3);
  if (p.recurrent || p.chunk > 1024 || dk > 1024) return false;
  const Smem L((int)p.chunk, (int)dk, slice_width((int)dv));
  return smem_fits((const void*)gdn_kernel, (size_t)L.total * sizeof(float));
}

void gated_delta_rule_cuda(OpCall& c) {
  const GdnParams& p = c.p<GdnParams>();
  GdnArgs a;
  a.q = seq_view(c.in[0]);
  a.k = seq_view(c.in[1]);
  a.v = seq_view(c.in[2]);
  a.g = gate_view(c.in[3]);
  a.beta = gate_view(c.in[4]);
  a.S0 = state_view(c.input(5));
  a.Sf = state_view(c.out[1]);
  a.o = c.out[0].raw();
  a.odt = c.out[0].dtype();
  a.B = (int)c.in[0].size(0);
  a.T = (int)c.in[0].size(1);
  a.H = (int)c.in[0].size(2);
  a.dk = (int)c.in[0].size(3);
  a.dv = (int)c.in[2].size(3);
  a.C = (int)p.chunk;
  a.WS = slice_width(a.dv);
  a.scale = p.scale > 0 ? p.scale : 1.0f / sqrtf((float)a.dk);
  const Smem L(a.C, a.dk, a.WS);
  const size_t bytes = (size_t)L.total * sizeof(float);
  ENGRAM_CHECK(smem_fits((const void*)gdn_kernel, bytes), UNSUPPORTED,
               "gatedDeltaRule: the chunk does not fit in shared memory on this GPU");
  dim3 grid((unsigned)(a.B * a.H), (unsigned)((a.dv + a.WS - 1) / a.WS));
  gdn_kernel<<<grid, kMemThreads, bytes, stream()>>>(a);
  ENGRAM_CUDA_LAUNCHED("gdn_kernel");
}

}  // namespace cuda
}  // namespace engram
