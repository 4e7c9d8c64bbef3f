// titansLinear on the GPU: one fused kernel per (batch x head, value-column
// slice) that walks the chunks in order with its slice of the state
// X = [M^T ; S^T] ([sw, WS], sw = 2 dk with momentum) in shared memory.
// Per chunk (algorithms.md §2.2-2.3, the CPU's chunk_linear.h):
//   coefficients  Cm, A, Bv, Hc, hlast from log-space segment products
//                 (memory_hd.h element forms; the Cm recurrence row by row)
//   Wcp = Cm * Q K^T;  G = 2 (K M0^T - V);  Y = A Q M0^T + Bv Q S0^T - Wcp G
//   M' = A_n M0 + Bv_n S0 - G^T diag(Cm[n-1]) K,  S' = Hc_n S0 - G^T diag(hlast) K
// A call may continue a chunk a previous call started (state offset and
// anchor, native/core/ops/titans.cpp): the first segment has C - offset
// tokens and takes its gradients at the anchor slice (Anc in shared memory);
// the anchor of the chunk in progress at the end is written as the final
// anchor. SIMT f32 FMAs out of shared memory (q/k/v of any float dtype are converted
// on load); compiled for sm_80/sm_90, exercised by the parity cases where a
// GPU is present. Limits: the chunk, Q/K and the slice must fit in shared
// memory (C = 64 with dk = 128, C = 128 with dk = 64 on an H100). The
// recurrent mode and larger shapes run the token loop (memory_token.cu); titansMlp: titans_mlp.cu.
#include "memory.cuh"
#include "../../native/core/ops/memory_common.h"  // mem::read_offset

namespace engram {
namespace cuda {

namespace {

constexpr int kMemThreads = 256;

struct TitansArgs {
  SeqView q, k, v, theta, alpha, eta;
  StateView M0, S0, Mf, Sf;  // initial [B|1, H, dv, dk]; final [B, H, dv, dk] (p null: not requested)
  StateView A0, Af;          // anchor: initial (p null: the initial memory), final
  void* o;
  DType odt;
  int B, T, H, dk, dv, C, WS, off, end_off;
  bool mom, decay;
};

// Shared-memory layout (floats) for chunk C, key dim dk, slice width WS.
struct Smem {
  int Q, K, V, X, Cm, G, g3, vec, Z, Anc, total;
  __host__ __device__ Smem(int C, int dk, int WS, bool mom, bool anc) {
    const int sw = mom ? 2 * dk : dk;
    int o = 0;
    Q = o, o += C * dk;
    K = o, o += C * dk;
    V = o, o += C * WS;
    X = o, o += sw * WS;
    Cm = o, o += C * C;
    G = o, o += C * WS;
    g3 = o, o += 3 * C;   // theta, alpha, eta
    vec = o, o += 7 * C;  // A, Bv, Hc, hlast, cl, La, Lh
    Z = o, o += 2 * C;    // Za, Zh (ints)
    Anc = o, o += anc ? dk * WS : 0;  // anchor slice (transposed like X) for a started chunk
    total = o;
  }
};

__global__ void __launch_bounds__(kMemThreads) titans_linear_kernel(TitansArgs a) {
  extern __shared__ __align__(16) float sm[];
  const int bh = blockIdx.x, b = bh / a.H, h = bh % a.H;
  const int j0 = blockIdx.y * a.WS, w = min(a.WS, a.dv - j0);
  const int dk = a.dk, C = a.C, WS = a.WS, tid = threadIdx.x, nt = blockDim.x;
  const int sw = a.mom ? 2 * dk : dk;
  const bool anc_in = a.off > 0;
  const Smem L(C, dk, WS, a.mom, anc_in);
  float *Q = sm + L.Q, *K = sm + L.K, *V = sm + L.V, *X = sm + L.X, *Cm = sm + L.Cm, *G = sm + L.G;
  float* Anc = sm + L.Anc;
  float *th = sm + L.g3, *al = th + C, *et = al + C;
  float *A = sm + L.vec, *Bv = A + C, *Hc = Bv + C, *hl = Hc + C, *cl = hl + C, *La = cl + C, *Lh = La + C;
  int *Za = reinterpret_cast<int*>(sm + L.Z), *Zh = Za + C;

  // State slice: X[e][j] = M0[j0 + j][e], X[dk + e][j] = S0[j0 + j][e]
  for (int i = tid; i < sw * WS; i += nt) {
    const int r = i / WS, j = i % WS;
    float x = 0.0f;
    if (j < w) {
      const StateView& s = r < dk ? a.M0 : a.S0;
      if (s.p) x = *state_at(s, b, h, j0 + j, r % dk);
    }
    X[i] = x;
  }
  if (anc_in)  // Anc[e][j] = A0[j0 + j][e] (absent: the initial memory)
    for (int i = tid; i < dk * WS; i += nt) {
      const int e = i / WS, j = i % WS;
      const StateView& s = a.A0.p ? a.A0 : a.M0;
      Anc[i] = j < w && s.p ? *state_at(s, b, h, j0 + j, e) : 0.0f;
    }
  __syncthreads();

  for (int t0 = 0, n = 0; t0 < a.T; t0 += n) {
    n = t0 == 0 ? min(C - a.off, a.T) : min(C, a.T - t0);
    const bool first_anc = t0 == 0 && anc_in;  // gradients at the anchor a previous call left
    const float* M0 = first_anc ? Anc : X;
    if (t0 + n >= a.T && a.end_off && a.Af.p)  // ending inside this chunk: its start memory is the final anchor
      for (int i = tid; i < dk * WS; i += nt) {
        const int e = i / WS, j = i % WS;
        if (j < w) *state_at(a.Af, b, h, j0 + j, e) = M0[i];
      }
    // ---- load the chunk ----
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
      th[t] = gate_at(a.theta, b, t0 + t, h);
      al[t] = a.decay ? gate_at(a.alpha, b, t0 + t, h) : 0.0f;
      et[t] = a.mom ? gate_at(a.eta, b, t0 + t, h) : 0.0f;
    }
    __syncthreads();
    // ---- coefficients ----
    if (tid == 0) {
      if (a.decay) hd_log_prefix(n, al, 1, true, La, Za);
      if (a.mom) hd_log_prefix(n, et, 1, false, Lh, Zh);
    }
    __syncthreads();
    for (int t = tid; t < n; t += nt) {
      A[t] = a.decay ? hd_segprod(La, Za, t, -1) : 1.0f;
      Hc[t] = a.mom ? hd_segprod(Lh, Zh, t, -1) : 0.0f;
    }
    if (!a.mom) {
      for (int i = tid; i < n * n; i += nt)
        Cm[i] = hd_titans_cm_nomom(i / n, i % n, a.decay ? La : nullptr, Za, th, 1);
    } else {
      for (int t = 0; t < n; ++t) {  // X = GA @ GH row by row (unscaled)
        for (int i = tid; i < n; i += nt)
          Cm[t * n + i] = hd_titans_x(t, i, a.decay ? 1.0f - al[t] : 1.0f, Cm + (t ? t - 1 : 0) * n, Lh, Zh);
        __syncthreads();
      }
    }
    __syncthreads();
    if (tid == 0) {
      float bv = 0.0f;
      for (int t = 0; t < n; ++t) {
        bv = a.mom ? (a.decay ? 1.0f - al[t] : 1.0f) * bv + Hc[t] : 0.0f;
        Bv[t] = bv;
      }
    }
    for (int i = tid; i < n; i += nt)
      hl[i] = (a.mom ? hd_segprod(Lh, Zh, n - 1, i) : (i == n - 1 ? 1.0f : 0.0f)) * th[i];
    if (a.mom)
      for (int i = tid; i < n * n; i += nt) Cm[i] *= th[i % n];
    __syncthreads();
    for (int i = tid; i < n; i += nt) cl[i] = Cm[(n - 1) * n + i];
    __syncthreads();
    // ---- Wcp = Cm * (Q K^T) in place; G = 2 (K M0^T - V) ----
    for (int i = tid; i < n * n; i += nt) {
      const int t = i / n, s = i % n;
      if (s <= t) {
        float d = 0.0f;
        for (int e = 0; e < dk; ++e) d += Q[t * dk + e] * K[s * dk + e];
        Cm[i] *= d;
      }
    }
    for (int i = tid; i < n * WS; i += nt) {
      const int t = i / WS, j = i % WS;
      float d = 0.0f;
      for (int e = 0; e < dk; ++e) d += K[t * dk + e] * M0[e * WS + j];
      G[i] = 2.0f * (d - V[i]);
    }
    __syncthreads();
    // ---- outputs: Y = A Q M0^T + Bv Q S0^T - Wcp G ----
    for (int i = tid; i < n * WS; i += nt) {
      const int t = i / WS, j = i % WS;
      if (j >= w) continue;
      float ym = 0.0f, ys = 0.0f;
      for (int e = 0; e < dk; ++e) {
        ym += Q[t * dk + e] * X[e * WS + j];
        if (a.mom) ys += Q[t * dk + e] * X[(dk + e) * WS + j];
      }
      float y = A[t] * ym + Bv[t] * ys;
      for (int s = 0; s <= t; ++s) y -= Cm[t * n + s] * G[s * WS + j];
      store_f32(a.o, (((int64_t)b * a.T + t0 + t) * a.H + h) * a.dv + j0 + j, a.odt, y);
    }
    __syncthreads();
    // ---- state: M' = A_n M + Bv_n S - sum cl k G,  S' = Hc_n S - sum hl k G ----
    const bool last = t0 + n >= a.T;
    for (int i = tid; i < dk * WS; i += nt) {
      const int e = i / WS, j = i % WS;
      float gm = 0.0f, gs = 0.0f;
      for (int t = 0; t < n; ++t) {
        const float kg = K[t * dk + e] * G[t * WS + j];
        gm += cl[t] * kg;
        gs += hl[t] * kg;
      }
      const float m = X[e * WS + j];
      if (a.mom) {
        const float s = X[(dk + e) * WS + j];
        X[e * WS + j] = A[n - 1] * m + Bv[n - 1] * s - gm;
        X[(dk + e) * WS + j] = Hc[n - 1] * s - gs;
      } else {
        X[e * WS + j] = A[n - 1] * m - gm;
        if (last && a.Sf.p && j < w) *state_at(a.Sf, b, h, j0 + j, e) = -gs;  // -theta_{n-1} u_{n-1}
      }
    }
    __syncthreads();
  }
  // ---- final state (transposed back to [dv, dk]) ----
  if (a.Mf.p) {
    for (int i = tid; i < dk * WS; i += nt) {
      const int e = i / WS, j = i % WS;
      if (j >= w) continue;
      *state_at(a.Mf, b, h, j0 + j, e) = X[e * WS + j];
      if (a.mom) *state_at(a.Sf, b, h, j0 + j, e) = X[(dk + e) * WS + j];
      else if (a.T == 0) *state_at(a.Sf, b, h, j0 + j, e) = a.S0.p ? *state_at(a.S0, b, h, j0 + j, e) : 0.0f;
      if (!a.end_off) *state_at(a.Af, b, h, j0 + j, e) = X[e * WS + j];  // on a boundary: the final memory
      else if (a.T == 0) *state_at(a.Af, b, h, j0 + j, e) = Anc[e * WS + j];
    }
  }
}


int slice_width(int dv) { return dv <= 32 ? dv : 32; }

}  // namespace

bool titans_linear_cuda_ok(const OpCall& c) {
  const TitansParams& p = c.p<TitansParams>();
  const int64_t dk = c.in[0].size(3), dv = c.in[2].size(3);
  if (p.recurrent || p.chunk > 1024 || dk > 1024) return false;
  const Smem L((int)p.chunk, (int)dk, slice_width((int)dv), p.momentum, c.has_input(9));
  return smem_fits((const void*)titans_linear_kernel, (size_t)L.total * sizeof(float));
}

void titans_linear_cuda(OpCall& c) {
  const TitansParams& p = c.p<TitansParams>();
  TitansArgs a;
  a.q = seq_view(c.in[0]);
  a.k = seq_view(c.in[1]);
  a.v = seq_view(c.in[2]);
  a.theta = gate_view(c.in[3]);
  a.alpha = gate_view(c.input(4));
  a.eta = gate_view(c.input(5));
  a.M0 = state_view(c.input(6));
  a.S0 = state_view(c.input(7));
  a.Mf = state_view(c.out[1]);
  a.Sf = state_view(c.out[2]);
  a.A0 = state_view(c.input(8));
  a.Af = state_view(c.out[3]);
  a.o = c.out[0].raw();
  a.odt = c.out[0].dtype();
  a.B = (int)c.in[0].size(0);
  a.T = (int)c.in[0].size(1);
  a.H = (int)c.in[0].size(2);
  a.dk = (int)c.in[0].size(3);
  a.dv = (int)c.in[2].size(3);
  a.C = (int)p.chunk;
  a.WS = slice_width(a.dv);
  a.mom = p.momentum;
  a.decay = p.decay;
  a.off = (int)mem::read_offset("titansLinear", c.input(9), p.chunk);
  a.end_off = (int)((a.off + (int64_t)a.T) % p.chunk);
  const Smem L(a.C, a.dk, a.WS, a.mom, a.off > 0);
  const size_t bytes = (size_t)L.total * sizeof(float);
  ENGRAM_CHECK(smem_fits((const void*)titans_linear_kernel, bytes), UNSUPPORTED,
               "titansLinear: the chunk does not fit in shared memory on this GPU");
  dim3 grid((unsigned)(a.B * a.H), (unsigned)((a.dv + a.WS - 1) / a.WS));
  titans_linear_kernel<<<grid, kMemThreads, bytes, stream()>>>(a);
  ENGRAM_CUDA_LAUNCHED("titans_linear_kernel");
  write_offset(c.out[4], a.end_off);
}

}  // namespace cuda
}  // namespace engram
