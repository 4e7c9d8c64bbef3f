// tttLinear on the GPU: one fused kernel per (batch x head) walking the
// mini-batches in order with the whole state W [dk, dv] (+ b) in shared
// memory (LayerNorm couples the channels of a row, so no column slices).
// Per mini-batch (algorithms.md §9(c), the CPU's chunk_ttt.h):
//   Z = K W + b;  G = dloss/dZ (hd_ln_l2_grad_row, one row per thread)
//   Zb = Q W + b - (Cm * (Q K^T [+ 1])) G;  o = [Q +] [LN](Zb)
//   W -= K^T diag(Cm[n-1]) G;  b -= Cm[n-1] G
// SIMT f32 out of shared memory; limits from shared memory (dk = dv = 128
// with C = 16, or 64 with C = 64). tttMlp: cuda/ops/ttt_mlp.cu.
#include "memory.cuh"

namespace engram {
namespace cuda {

namespace {

constexpr int kMemThreads = 256;

struct TttArgs {
  SeqView q, k, v, eta;
  const void *lnw, *lnb;  // [H, dv] (any float dtype; null = 1 / 0)
  DType lnw_dt, lnb_dt;
  int64_t lnw_s0, lnw_s1, lnb_s0, lnb_s1;
  StateView W0, b0, Wf, bf;
  void* o;
  DType odt;
  int B, T, H, dk, dv, C;
  bool ln, residual, bias, token_idx;
  float eps;
};

struct Smem {
  int Q, K, Tg, Z, Zb, W, bb, Cm, vec, total;
  __host__ __device__ Smem(int C, int dk, int dv) {
    int o = 0;
    Q = o, o += C * dk;
    K = o, o += C * dk;
    Tg = o, o += C * dv;
    Z = o, o += C * dv;
    Zb = o, o += C * dv;
    W = o, o += dk * dv;
    bb = o, o += dv;
    Cm = o, o += 2 * C * C;  // Cm and Wcp
    vec = o, o += 2 * dv + C;  // gamma, beta, eta
    total = o;
  }
};

__global__ void __launch_bounds__(kMemThreads) ttt_linear_kernel(TttArgs a) {
  extern __shared__ __align__(16) float sm[];
  const int bh = blockIdx.x, b = bh / a.H, h = bh % a.H;
  const int dk = a.dk, dv = a.dv, C = a.C, tid = threadIdx.x, nt = blockDim.x;
  const Smem L(C, dk, dv);
  float *Q = sm + L.Q, *K = sm + L.K, *Tg = sm + L.Tg, *Z = sm + L.Z, *Zb = sm + L.Zb, *W = sm + L.W;
  float *bb = sm + L.bb, *Cm = sm + L.Cm, *Wcp = Cm + C * C, *gam = sm + L.vec, *bet = gam + dv, *eta = bet + dv;

  for (int i = tid; i < dk * dv; i += nt) W[i] = a.W0.p ? *state_at(a.W0, b, h, i / dv, i % dv) : 0.0f;
  for (int j = tid; j < dv; j += nt) {
    bb[j] = (a.bias && a.b0.p) ? *state_at(a.b0, b, h, j, 0) : 0.0f;
    gam[j] = a.lnw ? load_f32(a.lnw, h * a.lnw_s0 + j * a.lnw_s1, a.lnw_dt) : 1.0f;
    bet[j] = a.lnb ? load_f32(a.lnb, h * a.lnb_s0 + j * a.lnb_s1, a.lnb_dt) : 0.0f;
  }
  __syncthreads();
  for (int t0 = 0; t0 < a.T; t0 += C) {
    const int n = min(C, a.T - t0);
    for (int i = tid; i < n * dk; i += nt) {
      const int t = i / dk, e = i % dk;
      Q[i] = seq_at(a.q, b, t0 + t, h, e);
      K[i] = seq_at(a.k, b, t0 + t, h, e);
    }
    for (int t = tid; t < n; t += nt) eta[t] = gate_at(a.eta, b, t0 + t, h);
    __syncthreads();
    for (int i = tid; i < n * dv; i += nt) {  // target: v - k with the residual
      const int t = i / dv, j = i % dv;
      Tg[i] = seq_at(a.v, b, t0 + t, h, j) - (a.residual ? K[t * dk + j] : 0.0f);
    }
    if (tid == 0) hd_ttt_coeffs(n, eta, 1, a.token_idx, Cm, n);
    __syncthreads();
    // Wcp = Cm * (Q K^T [+ 1]);  Z = K W + b;  Zb = Q W + b
    for (int i = tid; i < n * n; i += nt) {
      const int t = i / n, s = i % n;
      float d = a.bias ? 1.0f : 0.0f;
      if (s <= t)
        for (int e = 0; e < dk; ++e) d += Q[t * dk + e] * K[s * dk + e];
      Wcp[i] = s <= t ? Cm[i] * d : 0.0f;
    }
    for (int i = tid; i < n * dv; i += nt) {
      const int t = i / dv, j = i % dv;
      float z = bb[j], zb = bb[j];
      for (int e = 0; e < dk; ++e) {
        z += K[t * dk + e] * W[e * dv + j];
        zb += Q[t * dk + e] * W[e * dv + j];
      }
      Z[i] = z;
      Zb[i] = zb;
    }
    __syncthreads();
    // G = dloss/dZ, one row per thread (in place)
    for (int t = tid; t < n; t += nt) {
      float* z = Z + t * dv;
      if (a.ln) {
        hd_ln_l2_grad_row(z, Tg + t * dv, dv, gam, bet, a.eps, z);
      } else {
        for (int j = 0; j < dv; ++j) z[j] = 2.0f * (z[j] - Tg[t * dv + j]);
      }
    }
    __syncthreads();
    for (int i = tid; i < n * dv; i += nt) {
      const int t = i / dv, j = i % dv;
      float s = 0.0f;
      for (int u = 0; u <= t; ++u) s += Wcp[t * n + u] * Z[u * dv + j];
      Zb[i] -= s;
    }
    __syncthreads();
    // o = [Q +] [LN](Zb), one row per thread
    for (int t = tid; t < n; t += nt) {
      float* zb = Zb + t * dv;
      if (a.ln) hd_ln_fwd_row(zb, dv, gam, bet, a.eps, zb);
      for (int j = 0; j < dv; ++j)
        store_f32(a.o, (((int64_t)b * a.T + t0 + t) * a.H + h) * dv + j, a.odt,
                  zb[j] + (a.residual ? Q[t * dk + j] : 0.0f));
    }
    // W -= K^T diag(cl) G;  b -= cl^T G   (cl = Cm[n-1, :])
    const float* cl = Cm + (n - 1) * n;
    for (int i = tid; i < dk * dv; i += nt) {
      const int e = i / dv, j = i % dv;
      float s = 0.0f;
      for (int t = 0; t < n; ++t) s += cl[t] * K[t * dk + e] * Z[t * dv + j];
      W[i] -= s;
    }
    if (a.bias)
      for (int j = tid; j < dv; j += nt) {
        float s = 0.0f;
        for (int t = 0; t < n; ++t) s += cl[t] * Z[t * dv + j];
        bb[j] -= s;
      }
    __syncthreads();
  }
  if (a.Wf.p)
    for (int i = tid; i < dk * dv; i += nt) *state_at(a.Wf, b, h, i / dv, i % dv) = W[i];
  if (a.bf.p)
    for (int j = tid; j < dv; j += nt) *state_at(a.bf, b, h, j, 0) = bb[j];
}

}  // namespace

bool ttt_linear_cuda_ok(const OpCall& c) {
  const TttParams& p = c.p<TttParams>();
  const int64_t dk = c.in[0].size(3), dv = c.in[2].size(3);
  if (p.chunk > 1024 || dk > 1024 || dv > 1024) return false;
  const Smem L((int)p.chunk, (int)dk, (int)dv);
  return smem_fits((const void*)ttt_linear_kernel, (size_t)L.total * sizeof(float));
}

void ttt_linear_cuda(OpCall& c) {
  const TttParams& p = c.p<TttParams>();
  TttArgs a;
  a.q = seq_view(c.in[0]);
  a.k = seq_view(c.in[1]);
  a.v = seq_view(c.in[2]);
  a.eta = gate_view(c.in[3]);
  const Tensor &lw = c.input(4), &lb = c.input(5);
  a.lnw = lw.defined() ? lw.raw() : nullptr;
  a.lnb = lb.defined() ? lb.raw() : nullptr;
  a.lnw_dt = lw.defined() ? lw.dtype() : DType::F32;
  a.lnb_dt = lb.defined() ? lb.dtype() : DType::F32;
  a.lnw_s0 = lw.defined() ? lw.stride(0) : 0;
  a.lnw_s1 = lw.defined() ? lw.stride(1) : 0;
  a.lnb_s0 = lb.defined() ? lb.stride(0) : 0;
  a.lnb_s1 = lb.defined() ? lb.stride(1) : 0;
  a.W0 = state_view(c.input(6));
  a.b0 = state_view(c.input(7));
  a.Wf = state_view(c.out[1]);
  a.bf = state_view(c.out[2]);
  a.o = c.out[0].raw();
  a.odt = c.out[0].dtype();
  a.B = (int)c.in[0].size(0);
  a.T = (int)c.in[0].size(1);
  a.H = (int)c.in[0].size(2);
  a.dk = (int)c.in[0].size(3);
  a.dv = (int)c.in[2].size(3);
  a.C = (int)p.chunk;
  a.ln = p.layer_norm;
  a.residual = p.residual;
  a.bias = p.bias;
  a.token_idx = p.token_idx;
  a.eps = p.eps;
  const Smem L(a.C, a.dk, a.dv);
  const size_t bytes = (size_t)L.total * sizeof(float);
  ENGRAM_CHECK(smem_fits((const void*)ttt_linear_kernel, bytes), UNSUPPORTED,
               "tttLinear: the mini-batch does not fit in shared memory on this GPU");
  ttt_linear_kernel<<<(unsigned)(a.B * a.H), kMemThreads, bytes, stream()>>>(a);
  ENGRAM_CUDA_LAUNCHED("ttt_linear_kernel");
}

}  // namespace cuda
}  // namespace engram
