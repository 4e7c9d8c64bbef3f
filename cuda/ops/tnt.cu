// tnt on the GPU (linear memories; semantics: native/core/ops/tnt.cpp, spec:
// ref_tnt). Modules run as kernels in module order on the one stream, each
// writing (the first) or adding (the others) its outputs into an f32
// accumulator [B, T, H, Dv]:
//   tnt_global_kernel  grid (B*H, value slices): the global memory walks its
//                      chunks with the state slice X = [M^T ; S^T], the anchor
//                      and the update sums in shared memory; per chunk the
//                      frozen read [Q; K] V_n^T in sub-blocks of kSub rows and
//                      one update M = A M + Bv S - sum_i cl_i k_i g_i^T
//                      (coefficients: hd_tnt_seg_coeffs, one thread).
//   tnt_local_kernel   grid (B*H*pieces, value slices): every block owns one
//                      shard piece of one local memory (pieces are independent:
//                      the context-parallel unit) and walks its chunks with the
//                      Titans dual form (memory_hd.h coefficients), Q replaced
//                      by Pi q = Q Pi_start^T + tril(Q K^T diag(1/|k|^2)) K and
//                      Pi [dk, dk] carried in shared memory (recomputed by
//                      each value-slice block of a piece).
// Compiled for sm_80/sm_90, not run here (no GPU on the build machine); the
// parity cases run it where a GPU is present. Unsupported (E_UNSUPPORTED):
// MLP memories, the 'sequence' projection, simulated devices, and chunks or
// head dims whose tiles exceed the device's shared memory.
#include <algorithm>
#include <vector>

#include "engram/tnt_hd.h"
#include "engram/alloc.h"
#include "engram/tnt_params.h"
#include "memory.cuh"

namespace engram {
namespace cuda {

namespace {

constexpr int kTntThreads = 256;
constexpr int kSub = 32;  // rows per sub-block of a global chunk

struct CallArgs {
  SeqView q, k, v;
  float* acc;           // f32 [B, T, H, dv]
  const float* pin;     // carried packed state (null: fresh)
  float* pout;          // packed final state (null: not requested)
  int B, T, H, dk, dv, WS;
  long long pos0;
  int proj;             // TntProj
};

struct ModArgs {
  SeqView lr, al, et;
  StateView init;                           // [B|1, H, dv, dk] (p null: zeros)
  long long mem, anc, mom, pi;              // offsets of the packed parts (-1: none)
  int C;                                    // chunk
  long long S;                              // shard (global: 0)
  bool momentum, decay, add;                // add: accumulate into acc (else write)
};

__device__ __forceinline__ long long part_at(long long off, int b, int h, int H, long long per) {
  return off + ((long long)b * H + h) * per;
}

// Loads the state slice X [sw, WS] (columns j0..j0+w of M^T, S^T) and the anchor [dk, WS].
__device__ void load_linear(const CallArgs& a, const ModArgs& m, bool carried, int b, int h, int j0, int w, float* X,
                            float* Anc) {
  const int dk = a.dk, WS = a.WS, sw = m.momentum ? 2 * dk : dk;
  const long long per = (long long)a.dv * dk;
  for (int i = threadIdx.x; i < sw * WS; i += blockDim.x) {
    const int r = i / WS, j = i % WS, e = r % dk;
    float x = 0.0f;
    if (j < w) {
      if (carried) x = a.pin[part_at(r < dk ? m.mem : m.mom, b, h, a.H, per) + (long long)(j0 + j) * dk + e];
      else if (r < dk && m.init.p) x = *state_at(m.init, b, h, j0 + j, e);
    }
    X[i] = x;
  }
  for (int i = threadIdx.x; i < dk * WS; i += blockDim.x) {
    const int e = i / WS, j = i % WS;
    float x = 0.0f;
    if (j < w) {
      if (carried) x = a.pin[part_at(m.anc, b, h, a.H, per) + (long long)(j0 + j) * dk + e];
      else if (m.init.p) x = *state_at(m.init, b, h, j0 + j, e);
    }
    Anc[i] = x;
  }
}

__device__ void store_linear(const CallArgs& a, const ModArgs& m, int b, int h, int j0, int w, const float* X,
                             const float* Anc) {
  const int dk = a.dk, WS = a.WS;
  const long long per = (long long)a.dv * dk;
  for (int i = threadIdx.x; i < dk * WS; i += blockDim.x) {
    const int e = i / WS, j = i % WS;
    if (j >= w) continue;
    const long long o = (long long)(j0 + j) * dk + e;
    a.pout[part_at(m.mem, b, h, a.H, per) + o] = X[i];
    a.pout[part_at(m.anc, b, h, a.H, per) + o] = Anc[i];
    if (m.momentum) a.pout[part_at(m.mom, b, h, a.H, per) + o] = X[dk * WS + i];
  }
}

__device__ __forceinline__ void emit(const CallArgs& a, const ModArgs& m, int b, int t, int h, int j, float y) {
  float* o = a.acc + (((long long)b * a.T + t) * a.H + h) * a.dv + j;
  *o = m.add ? *o + y : y;
}

// ---- global memory -----------------------------------------------------------
struct GSmem {
  int X, Anc, dM, Q, K, V, G, sc, total;
  __host__ __device__ GSmem(int dk, int WS, bool mom) {
    int o = 0;
    X = o, o += (mom ? 2 : 1) * dk * WS;
    Anc = o, o += dk * WS;
    dM = o, o += (mom ? 2 : 1) * dk * WS;
    Q = o, o += kSub * dk;
    K = o, o += kSub * dk;
    V = o, o += kSub * WS;
    G = o, o += kSub * WS;
    sc = o, o += 4;
    total = o;
  }
};

__global__ void __launch_bounds__(kTntThreads) tnt_global_kernel(CallArgs a, ModArgs m, float* scratch) {
  extern __shared__ __align__(16) float sm[];
  const int bh = blockIdx.x, b = bh / a.H, h = bh % a.H;
  const int j0 = blockIdx.y * a.WS, w = min(a.WS, a.dv - j0);
  const int dk = a.dk, WS = a.WS, tid = threadIdx.x, nt = blockDim.x, C = m.C;
  const GSmem L(dk, WS, m.momentum);
  float *X = sm + L.X, *Anc = sm + L.Anc, *dM = sm + L.dM, *Q = sm + L.Q, *K = sm + L.K, *V = sm + L.V,
        *G = sm + L.G, *sc = sm + L.sc;
  float* cs = scratch + ((long long)blockIdx.x * gridDim.y + blockIdx.y) * 5 * (long long)C;
  float *th = cs, *al = cs + C, *et = cs + 2 * C, *cl = cs + 3 * C, *hl = cs + 4 * C;
  load_linear(a, m, a.pin != nullptr, b, h, j0, w, X, Anc);
  __syncthreads();
  for (int t = 0; t < a.T;) {
    const int phase = (int)((a.pos0 + t) % C), n = min(a.T - t, C - phase);
    if (phase == 0)
      for (int i = tid; i < dk * WS; i += nt) Anc[i] = X[i];  // V_n: read and gradient anchor
    for (int i = tid; i < n; i += nt) {
      th[i] = gate_at(m.lr, b, t + i, h);
      al[i] = m.decay ? gate_at(m.al, b, t + i, h) : 0.0f;
      et[i] = m.momentum ? gate_at(m.et, b, t + i, h) : 0.0f;
    }
    for (int i = tid; i < (m.momentum ? 2 : 1) * dk * WS; i += nt) dM[i] = 0.0f;
    __syncthreads();
    if (tid == 0)
      hd_tnt_seg_coeffs(n, th, m.decay ? al : nullptr, m.momentum ? et : nullptr, cl, hl, sc, sc + 1, sc + 2);
    __syncthreads();
    for (int u = 0; u < n; u += kSub) {
      const int nb = min(kSub, n - u);
      for (int i = tid; i < nb * dk; i += nt) {
        const int r = i / dk, e = i % dk;
        Q[i] = seq_at(a.q, b, t + u + r, h, e);
        K[i] = seq_at(a.k, b, t + u + r, h, e);
      }
      for (int i = tid; i < nb * WS; i += nt) {
        const int r = i / WS, j = i % WS;
        V[i] = j < w ? seq_at(a.v, b, t + u + r, h, j0 + j) : 0.0f;
      }
      __syncthreads();
      for (int i = tid; i < nb * WS; i += nt) {
        const int r = i / WS, j = i % WS;
        float yq = 0.0f, yk = 0.0f;
        for (int e = 0; e < dk; ++e) {
          yq += Q[r * dk + e] * Anc[e * WS + j];
          yk += K[r * dk + e] * Anc[e * WS + j];
        }
        G[i] = 2.0f * (yk - V[i]);
        if (j < w) emit(a, m, b, t + u + r, h, j0 + j, yq);  // frozen chunk-start read
      }
      __syncthreads();
      for (int i = tid; i < dk * WS; i += nt) {
        const int e = i / WS, j = i % WS;
        float gm = 0.0f, gs = 0.0f;
        for (int r = 0; r < nb; ++r) {
          const float kg = K[r * dk + e] * G[r * WS + j];
          gm += cl[u + r] * kg;
          gs += hl[u + r] * kg;
        }
        dM[i] += gm;
        if (m.momentum) dM[dk * WS + i] += gs;
      }
      __syncthreads();
    }
    const float A = sc[0], Bv = sc[1], Hc = sc[2];
    for (int i = tid; i < dk * WS; i += nt) {
      if (m.momentum) {
        const float s = X[dk * WS + i];
        X[i] = A * X[i] + Bv * s - dM[i];
        X[dk * WS + i] = Hc * s - dM[dk * WS + i];
      } else {
        X[i] = A * X[i] - dM[i];
      }
    }
    __syncthreads();
    t += n;
  }
  if (a.pout) store_linear(a, m, b, h, j0, w, X, Anc);
}

// ---- local memories -------------------------------------------------------------
struct LSmem {
  int X, Anc, Q, K, Qp, V, G, Cm, Pi, g3, vec, sv, Z, total;
  __host__ __device__ LSmem(int C, int dk, int WS, bool mom, bool pi) {
    int o = 0;
    X = o, o += (mom ? 2 : 1) * dk * WS;
    Anc = o, o += dk * WS;
    Q = o, o += C * dk;
    K = o, o += C * dk;
    Qp = o, o += pi ? C * dk : 0;
    V = o, o += C * WS;
    G = o, o += C * WS;
    Cm = o, o += C * C;
    Pi = o, o += pi ? dk * dk : 0;
    g3 = o, o += 3 * C;
    vec = o, o += 7 * C;
    sv = o, o += C;
    Z = o, o += 2 * C;
    total = o;
  }
};

__global__ void __launch_bounds__(kTntThreads) tnt_local_kernel(CallArgs a, ModArgs m, const int* pieces, int np) {
  extern __shared__ __align__(16) float sm[];
  const int bh = blockIdx.x / np, pc = blockIdx.x % np, b = bh / a.H, h = bh % a.H;
  const int t0 = pieces[2 * pc], t1 = pieces[2 * pc + 1];
  const int j0 = blockIdx.y * a.WS, w = min(a.WS, a.dv - j0);
  const int dk = a.dk, WS = a.WS, tid = threadIdx.x, nt = blockDim.x, C = m.C;
  const bool pi = a.proj != (int)TntProj::NONE, mom = m.momentum;
  const LSmem L(C, dk, WS, mom, pi);
  float *X = sm + L.X, *Anc = sm + L.Anc, *Q = sm + L.Q, *K = sm + L.K, *Qp = sm + L.Qp, *V = sm + L.V, *G = sm + L.G,
        *Cm = sm + L.Cm, *Pi = sm + L.Pi, *sv = sm + L.sv;
  float *th = sm + L.g3, *al = th + C, *et = al + C;
  float *A = sm + L.vec, *Bv = A + C, *Hc = Bv + C, *hl = Hc + C, *cl = hl + C, *La = cl + C, *Lh = La + C;
  int *Za = reinterpret_cast<int*>(sm + L.Z), *Zh = Za + C;
  // Start state: the carried one when the call resumes mid-shard (or runs no token), else W_init.
  const bool carried = a.pin && t0 == 0 && (a.T == 0 || a.pos0 % m.S != 0);
  load_linear(a, m, carried, b, h, j0, w, X, Anc);
  if (pi)
    for (int i = tid; i < dk * dk; i += nt) Pi[i] = carried ? a.pin[part_at(m.pi, b, h, a.H, (long long)dk * dk) + i] : 0.0f;
  __syncthreads();
  for (int t = t0; t < t1;) {
    const int phase = (int)((a.pos0 + t) % C), n = min(t1 - t, C - phase);
    // ---- load the chunk ----
    for (int i = tid; i < n * dk; i += nt) {
      const int r = i / dk, e = i % dk;
      Q[i] = seq_at(a.q, b, t + r, h, e);
      K[i] = seq_at(a.k, b, t + r, h, e);
    }
    for (int i = tid; i < n * WS; i += nt) {
      const int r = i / WS, j = i % WS;
      V[i] = j < w ? seq_at(a.v, b, t + r, h, j0 + j) : 0.0f;
    }
    for (int r = tid; r < n; r += nt) {
      th[r] = gate_at(m.lr, b, t + r, h);
      al[r] = m.decay ? gate_at(m.al, b, t + r, h) : 0.0f;
      et[r] = mom ? gate_at(m.et, b, t + r, h) : 0.0f;
    }
    if (phase == 0)
      for (int i = tid; i < dk * WS; i += nt) Anc[i] = X[i];  // chunk start: the gradient anchor is the state
    __syncthreads();
    // ---- Q-K projection: Q <- Q Pi^T + tril(Q K^T diag(sv)) K;  Pi += K^T diag(sv) K ----
    if (pi) {
      for (int r = tid; r < n; r += nt) {
        float kk = 0.0f;
        for (int e = 0; e < dk; ++e) kk += K[r * dk + e] * K[r * dk + e];
        sv[r] = hd_tnt_key_weight(kk);
      }
      if (a.proj == (int)TntProj::CHUNK && phase == 0)
        for (int i = tid; i < dk * dk; i += nt) Pi[i] = 0.0f;
      __syncthreads();
      for (int i = tid; i < n * n; i += nt) {
        const int r = i / n, s = i % n;
        float d = 0.0f;
        if (s <= r)
          for (int e = 0; e < dk; ++e) d += Q[r * dk + e] * K[s * dk + e];
        Cm[i] = s <= r ? d * sv[s] : 0.0f;
      }
      __syncthreads();
      for (int i = tid; i < n * dk; i += nt) {
        const int r = i / dk, c = i % dk;
        float y = 0.0f;
        for (int e = 0; e < dk; ++e) y += Pi[c * dk + e] * Q[r * dk + e];
        for (int s = 0; s <= r; ++s) y += Cm[r * n + s] * K[s * dk + c];
        Qp[i] = y;
      }
      __syncthreads();
      for (int i = tid; i < dk * dk; i += nt) {
        const int r = i / dk, c = i % dk;
        float d = 0.0f;
        for (int s = 0; s < n; ++s) d += K[s * dk + r] * sv[s] * K[s * dk + c];
        Pi[i] += d;
      }
      for (int i = tid; i < n * dk; i += nt) Q[i] = Qp[i];
      __syncthreads();
    }
    // ---- coefficients (memory_hd.h) ----
    if (tid == 0) {
      if (m.decay) hd_log_prefix(n, al, 1, true, La, Za);
      if (mom) hd_log_prefix(n, et, 1, false, Lh, Zh);
    }
    __syncthreads();
    for (int r = tid; r < n; r += nt) {
      A[r] = m.decay ? hd_segprod(La, Za, r, -1) : 1.0f;
      Hc[r] = mom ? hd_segprod(Lh, Zh, r, -1) : 0.0f;
    }
    if (!mom) {
      for (int i = tid; i < n * n; i += nt) Cm[i] = hd_titans_cm_nomom(i / n, i % n, m.decay ? La : nullptr, Za, th, 1);
    } else {
      for (int r = 0; r < n; ++r) {
        for (int i = tid; i < n; i += nt)
          Cm[r * n + i] = hd_titans_x(r, i, m.decay ? 1.0f - al[r] : 1.0f, Cm + (r ? r - 1 : 0) * n, Lh, Zh);
        __syncthreads();
      }
    }
    __syncthreads();
    if (tid == 0) {
      float bv = 0.0f;
      for (int r = 0; r < n; ++r) {
        bv = mom ? (m.decay ? 1.0f - al[r] : 1.0f) * bv + Hc[r] : 0.0f;
        Bv[r] = bv;
      }
    }
    for (int i = tid; i < n; i += nt) hl[i] = (mom ? hd_segprod(Lh, Zh, n - 1, i) : (i == n - 1 ? 1.0f : 0.0f)) * th[i];
    if (mom)
      for (int i = tid; i < n * n; i += nt) Cm[i] *= th[i % n];
    __syncthreads();
    for (int i = tid; i < n; i += nt) cl[i] = Cm[(n - 1) * n + i];
    __syncthreads();
    // ---- Wcp = Cm * (Q K^T);  G = 2 (K Anc - V) ----
    for (int i = tid; i < n * n; i += nt) {
      const int r = i / n, s = i % n;
      if (s <= r) {
        float d = 0.0f;
        for (int e = 0; e < dk; ++e) d += Q[r * dk + e] * K[s * dk + e];
        Cm[i] *= d;
      }
    }
    for (int i = tid; i < n * WS; i += nt) {
      const int r = i / WS, j = i % WS;
      float d = 0.0f;
      for (int e = 0; e < dk; ++e) d += K[r * dk + e] * Anc[e * WS + j];
      G[i] = 2.0f * (d - V[i]);
    }
    __syncthreads();
    // ---- outputs: Y = A Q M^T + Bv Q S^T - Wcp G (write-before-read) ----
    for (int i = tid; i < n * WS; i += nt) {
      const int r = i / WS, j = i % WS;
      if (j >= w) continue;
      float ym = 0.0f, ys = 0.0f;
      for (int e = 0; e < dk; ++e) {
        ym += Q[r * dk + e] * X[e * WS + j];
        if (mom) ys += Q[r * dk + e] * X[(dk + e) * WS + j];
      }
      float y = A[r] * ym + Bv[r] * ys;
      for (int s = 0; s <= r; ++s) y -= Cm[r * n + s] * G[s * WS + j];
      emit(a, m, b, t + r, h, j0 + j, y);
    }
    __syncthreads();
    // ---- state ----
    for (int i = tid; i < dk * WS; i += nt) {
      const int e = i / WS, j = i % WS;
      float gm = 0.0f, gs = 0.0f;
      for (int r = 0; r < n; ++r) {
        const float kg = K[r * dk + e] * G[r * WS + j];
        gm += cl[r] * kg;
        gs += hl[r] * kg;
      }
      const float x = X[i];
      if (mom) {
        const float s = X[dk * WS + i];
        X[i] = A[n - 1] * x + Bv[n - 1] * s - gm;
        X[dk * WS + i] = Hc[n - 1] * s - gs;
      } else {
        X[i] = A[n - 1] * x - gm;
      }
    }
    __syncthreads();
    t += n;
  }
  if (a.pout && (t1 == a.T)) {
    store_linear(a, m, b, h, j0, w, X, Anc);
    if (pi && blockIdx.y == 0)
      for (int i = tid; i < dk * dk; i += nt) a.pout[part_at(m.pi, b, h, a.H, (long long)dk * dk) + i] = Pi[i];
  }
}

__global__ void tnt_cast_kernel(const float* acc, void* o, DType dt, long long n) {
  for (long long i = global_thread(); i < n; i += grid_threads()) store_f32(o, i, dt, acc[i]);
}

int slice_width(int dv) { return dv <= 32 ? dv : 32; }

size_t local_bytes(const TntParams& p, const TntModule& md, int dk, int WS) {
  return (size_t)LSmem((int)md.chunk, dk, WS, md.momentum, p.proj != TntProj::NONE).total * sizeof(float);
}
size_t global_bytes(const TntModule& md, int dk, int WS) {
  return (size_t)GSmem(dk, WS, md.momentum).total * sizeof(float);
}

}  // namespace

bool tnt_cuda_ok(const OpCall& c) {
  const TntParams& p = c.p<TntParams>();
  if (p.devices > 0 || p.proj == TntProj::SEQUENCE) return false;
  const int dk = (int)c.in[0].size(3), WS = slice_width((int)c.in[2].size(3));
  if (dk > 1024 || c.in[0].size(1) > ((int64_t)1 << 30)) return false;
  for (const TntModule& md : p.mods) {
    if (md.mlp()) return false;
    if (md.global) {
      if (!smem_fits((const void*)tnt_global_kernel, global_bytes(md, dk, WS))) return false;
    } else {
      if (md.chunk > 1024 || !smem_fits((const void*)tnt_local_kernel, local_bytes(p, md, dk, WS))) return false;
    }
  }
  return true;
}

void tnt_cuda(OpCall& c) {
  const TntParams& p = c.p<TntParams>();
  CallArgs a;
  a.q = seq_view(c.in[0]);
  a.k = seq_view(c.in[1]);
  a.v = seq_view(c.in[2]);
  a.B = (int)c.in[0].size(0);
  a.T = (int)c.in[0].size(1);
  a.H = (int)c.in[0].size(2);
  a.dk = (int)c.in[0].size(3);
  a.dv = (int)c.in[2].size(3);
  a.WS = slice_width(a.dv);
  a.proj = (int)p.proj;
  const TntLayout L = tnt_layout(p, a.B, a.H, a.dk, a.dv);
  // The carried state's header decides fresh vs carried and the position.
  Tensor st;
  a.pin = nullptr;
  a.pos0 = 0;
  if (c.has_input(kTntStateInput)) {
    st = contiguous(c.in[kTntStateInput]);
    Tensor head = to_device(st.slice(0, 0, TntLayout::kHeader), DeviceType::CPU);
    if (head.data<float>()[0] == 1.0f) {
      a.pin = st.data<float>();
      a.pos0 = tnt_header_position(head.data<float>());
    }
  }
  a.pout = c.out[1].numel() ? c.out[1].data<float>() : nullptr;
  const bool direct = c.out[0].dtype() == DType::F32;
  Tensor acc = direct ? c.out[0] : Tensor::empty(c.out[0].shape(), DType::F32, DeviceType::CUDA);
  a.acc = acc.data<float>();
  const unsigned slices = (unsigned)((a.dv + a.WS - 1) / a.WS);
  const int64_t BH = (int64_t)a.B * a.H;
  for (int mi = 0; mi < (int)p.mods.size(); ++mi) {
    const TntModule& md = p.mods[(size_t)mi];
    const TntModLayout& ml = L.mods[(size_t)mi];
    const int s = p.slot(mi);
    ModArgs m;
    m.lr = gate_view(c.input(tnt_input(s, TNT_LR)));
    m.al = gate_view(c.input(tnt_input(s, TNT_ALPHA)));
    m.et = gate_view(c.input(tnt_input(s, TNT_ETA)));
    m.init = state_view(c.input(tnt_input(s, TNT_INIT1)));
    m.mem = ml.mem[0].off;
    m.anc = ml.anc[0].off;
    m.mom = md.momentum ? ml.mom[0].off : -1;
    m.pi = ml.pi.per ? ml.pi.off : -1;
    m.C = (int)md.chunk;
    m.S = md.shard;
    m.momentum = md.momentum;
    m.decay = md.decay;
    m.add = mi > 0;
    if (md.global) {
      const size_t bytes = global_bytes(md, a.dk, a.WS);
      ENGRAM_CHECK(smem_fits((const void*)tnt_global_kernel, bytes), UNSUPPORTED,
                   "tnt: the global memory tiles do not fit in shared memory on this GPU");
      Tensor scratch = Tensor::empty(Dims{(int64_t)BH * slices * 5 * md.chunk}, DType::F32, DeviceType::CUDA);
      dim3 grid((unsigned)BH, slices);
      tnt_global_kernel<<<grid, kTntThreads, bytes, stream()>>>(a, m, scratch.data<float>());
      ENGRAM_CUDA_LAUNCHED("tnt_global_kernel");
      ENGRAM_CUDA_CHECK(cudaStreamSynchronize(stream()));  // scratch is freed at scope end
    } else {
      // Shard pieces of the call (absolute multiples of S); one zero-token piece when T == 0.
      std::vector<int> pcs;
      for (int64_t t = 0; t < a.T;) {
        const int64_t e = std::min<int64_t>(a.T, t + (md.shard - (a.pos0 + t) % md.shard));
        pcs.push_back((int)t);
        pcs.push_back((int)e);
        t = e;
      }
      if (pcs.empty()) pcs = {0, 0};
      const int np = (int)pcs.size() / 2;
      Tensor dev = Tensor::empty(Dims{(int64_t)pcs.size()}, DType::I32, DeviceType::CUDA);
      copy_bytes(dev.raw(), DeviceType::CUDA, pcs.data(), DeviceType::CPU, pcs.size() * sizeof(int));
      const size_t bytes = local_bytes(p, md, a.dk, a.WS);
      ENGRAM_CHECK(smem_fits((const void*)tnt_local_kernel, bytes), UNSUPPORTED,
                   "tnt: a local chunk does not fit in shared memory on this GPU");
      dim3 grid((unsigned)(BH * np), slices);
      tnt_local_kernel<<<grid, kTntThreads, bytes, stream()>>>(a, m, dev.data<int>(), np);
      ENGRAM_CUDA_LAUNCHED("tnt_local_kernel");
      ENGRAM_CUDA_CHECK(cudaStreamSynchronize(stream()));
    }
  }
  if (!direct && c.out[0].numel()) {
    const long long n = (long long)c.out[0].numel();
    tnt_cast_kernel<<<grid_for(n, 256), 256, 0, stream()>>>(a.acc, c.out[0].raw(), c.out[0].dtype(), n);
    ENGRAM_CUDA_LAUNCHED("tnt_cast_kernel");
  }
  if (a.pout) write_tnt_header(a.pout, a.pos0 + a.T, (int64_t)p.mods.size(), L.total);
  ENGRAM_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

}  // namespace cuda
}  // namespace engram
