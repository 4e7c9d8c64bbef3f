// trellis on the GPU: one block per (batch, head) walking the tokens in
// order; the token loop of native/cpu/ops/trellis.cpp (ref_trellis) in f32,
// which computes the same function as the chunk form for every chunk size
// (the anchors are refreshed at chunk starts). Per token, O(m (dk + dv)) work
// spread over the block: row dot products one warp per slot, the row maths of
// phi and f (engram/trellis_hd.h, the CPU's functions) on one thread per pass,
// the rank-1 memory updates one thread per element. The memories live in a
// global workspace (L2-resident at the usual sizes); token vectors and row
// vectors in shared memory. Both modes ('chunk', 'recurrent') run this kernel.
// Compiled for sm_80/sm_90; not run on a GPU here.
#include "engram/trellis_hd.h"
#include "memory.cuh"

namespace engram {
namespace cuda {

namespace {

constexpr int kTrThreads = 256;

struct TrArgs {
  SeqView q, k, v, alpha, beta, gamma, eta;
  bool slot, decay, mom, has_gamma;
  StateView MK0, MV0, SK0, SV0, AK0, AV0;
  StateView MKf, MVf, SKf, SVf, AKf, AVf;
  float* ws;  // per block: MK, MV, AK, AV, SK, SV
  void* o;
  DType odt;
  int B, T, H, dk, dv, m, C, offset;
  TrellisPhi phi;
  TrellisF f;
  TrellisWrite write;
  float scale, lr, eps;
};

__device__ void load_state_block(const StateView& s, const StateView& fallback, int b, int h, int rows, int cols,
                                 float* dst) {
  for (int i = threadIdx.x; i < rows * cols; i += blockDim.x) {
    const int r = i / cols, e = i % cols;
    const StateView& v = s.p ? s : fallback;
    dst[i] = v.p ? *state_at(v, b, h, r, e) : 0.0f;
  }
}
__device__ void store_state_block(const StateView& s, int b, int h, int rows, int cols, const float* src) {
  if (!s.p) return;
  for (int i = threadIdx.x; i < rows * cols; i += blockDim.x) *state_at(s, b, h, i / cols, i % cols) = src[i];
}

// out[r] = M[r, :] . x for r < m (M row-major [m, w]); one warp per row.
__device__ void rows_dot(const float* M, const float* x, int m, int w, float* out) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nw = blockDim.x / 32;
  for (int r = warp; r < m; r += nw) {
    float acc = 0.0f;
    for (int e = lane; e < w; e += 32) acc += M[(int64_t)r * w + e] * x[e];
    acc = warp_reduce(acc, AddOp{});
    if (lane == 0) out[r] = acc;
  }
}

// M = be * M - gam u x^T (momentum: S = eta S - gam u x^T; M = be * M + S).
__device__ void rank1_update(float* M, float* S, const float* u, const float* x, const float* be, int m, int w,
                             float gam, float eta, bool mom) {
  for (int i = threadIdx.x; i < m * w; i += blockDim.x) {
    const int r = i / w, e = i % w;
    const float step = gam * u[r] * x[e];
    if (mom) {
      S[i] = eta * S[i] - step;
      M[i] = be[r] * M[i] + S[i];
    } else {
      M[i] = be[r] * M[i] - step;
    }
  }
}

__global__ void __launch_bounds__(kTrThreads) trellis_kernel(TrArgs a) {
  extern __shared__ __align__(16) float sm[];
  const int bh = blockIdx.x, b = bh / a.H, h = bh % a.H, tid = threadIdx.x, nt = blockDim.x;
  const int m = a.m, dk = a.dk, dv = a.dv;
  float *qs = sm, *ks = qs + dk, *vs = ks + dk, *al = vs + dv, *be = al + m, *z = be + m, *z2 = z + m, *u = z2 + m,
        *u2 = u + m, *s = u2 + m, *sc = s + m;  // sc: gamma, eta
  const int64_t pk = (int64_t)m * dk, pv = (int64_t)m * dv;
  float* MK = a.ws + (int64_t)bh * (a.mom ? 3 : 2) * (pk + pv);
  float *MV = MK + pk, *AK = MV + pv, *AV = AK + pk, *SK = AV + pv, *SV = SK + pk;
  load_state_block(a.MK0, a.MK0, b, h, m, dk, MK);
  load_state_block(a.MV0, a.MV0, b, h, m, dv, MV);
  load_state_block(a.AK0, a.MK0, b, h, m, dk, AK);
  load_state_block(a.AV0, a.MV0, b, h, m, dv, AV);
  if (a.mom) {
    load_state_block(a.SK0, a.SK0, b, h, m, dk, SK);
    load_state_block(a.SV0, a.SV0, b, h, m, dv, SV);
  }
  __syncthreads();
  for (int t = 0; t < a.T; ++t) {
    if ((a.offset + t) % a.C == 0) {  // a new chunk: anchors = memories now
      for (int64_t i = tid; i < pk; i += nt) AK[i] = MK[i];
      for (int64_t i = tid; i < pv; i += nt) AV[i] = MV[i];
    }
    for (int i = tid; i < dk; i += nt) {
      qs[i] = seq_at(a.q, b, t, h, i);
      ks[i] = seq_at(a.k, b, t, h, i);
    }
    for (int i = tid; i < dv; i += nt) vs[i] = seq_at(a.v, b, t, h, i);
    for (int r = tid; r < m; r += nt) {
      al[r] = seq_at(a.alpha, b, t, h, r);
      be[r] = a.slot ? seq_at(a.beta, b, t, h, r) : a.decay ? gate_at(a.beta, b, t, h) : 1.0f;
    }
    if (tid == 0) {
      sc[0] = a.has_gamma ? gate_at(a.gamma, b, t, h) : a.lr;
      sc[1] = a.mom ? gate_at(a.eta, b, t, h) : 0.0f;
    }
    __syncthreads();
    rows_dot(AK, ks, m, dk, z);
    rows_dot(AV, vs, m, dv, z2);
    __syncthreads();
    if (tid == 0 || tid == 32) {  // the row maths of the two passes, one thread each
      const float* zz = tid == 0 ? z : z2;
      float* uu = tid == 0 ? u : u2;
      if (a.write == TrellisWrite::ADDITIVE)
        for (int r = 0; r < m; ++r) uu[r] = -al[r];
      else
        tr_phi_grad_row<float>(a.phi, m, zz, al, a.eps, uu);
    }
    __syncthreads();
    rank1_update(MK, SK, u, ks, be, m, dk, sc[0], sc[1], a.mom);
    rank1_update(MV, SV, u2, vs, be, m, dv, sc[0], sc[1], a.mom);
    __syncthreads();
    rows_dot(MK, qs, m, dk, s);
    __syncthreads();
    if (tid == 0) tr_f_row<float>(a.f, m, s, a.scale, a.eps, s);
    __syncthreads();
    for (int j = tid; j < dv; j += nt) {
      float y = 0.0f;
      for (int r = 0; r < m; ++r) y += s[r] * MV[(int64_t)r * dv + j];
      store_f32(a.o, (((int64_t)b * a.T + t) * a.H + h) * dv + j, a.odt, y);
    }
    __syncthreads();
  }
  store_state_block(a.MKf, b, h, m, dk, MK);
  store_state_block(a.MVf, b, h, m, dv, MV);
  store_state_block(a.AKf, b, h, m, dk, AK);
  store_state_block(a.AVf, b, h, m, dv, AV);
  if (a.mom) {
    store_state_block(a.SKf, b, h, m, dk, SK);
    store_state_block(a.SVf, b, h, m, dv, SV);
  }
}

size_t smem_bytes(int dk, int dv, int m) { return (size_t)(2 * dk + dv + 7 * m + 2) * sizeof(float); }

}  // namespace

bool trellis_cuda_ok(const OpCall& c) {
  const int64_t dk = c.in[trellis_in::Q].size(3), dv = c.in[trellis_in::V].size(3);
  const int64_t m = c.in[trellis_in::ALPHA].size(3);
  if (dk > 65536 || dv > 65536 || m > 65536) return false;
  return smem_fits((const void*)trellis_kernel, smem_bytes((int)dk, (int)dv, (int)m));
}

void trellis_cuda(OpCall& c) {
  namespace I = trellis_in;
  namespace O = trellis_out;
  const TrellisParams& p = c.p<TrellisParams>();
  TrArgs a;
  a.q = seq_view(c.in[I::Q]);
  a.k = seq_view(c.in[I::K]);
  a.v = seq_view(c.in[I::V]);
  a.alpha = seq_view(c.in[I::ALPHA]);
  a.slot = c.has_input(I::BETA) && c.in[I::BETA].ndim() == 4;
  a.decay = c.has_input(I::BETA) && !a.slot;
  a.beta = gate_view(c.input(I::BETA));
  a.has_gamma = c.has_input(I::GAMMA);
  a.gamma = gate_view(c.input(I::GAMMA));
  a.mom = c.has_input(I::ETA);
  a.eta = gate_view(c.input(I::ETA));
  a.MK0 = state_view(c.input(I::MK));
  a.MV0 = state_view(c.input(I::MV));
  a.SK0 = state_view(c.input(I::SK));
  a.SV0 = state_view(c.input(I::SV));
  a.AK0 = state_view(c.input(I::AK));
  a.AV0 = state_view(c.input(I::AV));
  a.MKf = state_view(c.out[O::MK]);
  a.MVf = state_view(c.out[O::MV]);
  a.SKf = state_view(c.out[O::SK]);
  a.SVf = state_view(c.out[O::SV]);
  a.AKf = state_view(c.out[O::AK]);
  a.AVf = state_view(c.out[O::AV]);
  a.o = c.out[O::O].raw();
  a.odt = c.out[O::O].dtype();
  a.B = (int)c.in[I::Q].size(0);
  a.T = (int)c.in[I::Q].size(1);
  a.H = (int)c.in[I::Q].size(2);
  a.dk = (int)c.in[I::Q].size(3);
  a.dv = (int)c.in[I::V].size(3);
  a.m = (int)c.in[I::ALPHA].size(3);
  a.C = (int)p.chunk;
  a.phi = p.phi;
  a.f = p.f;
  a.write = p.write;
  a.scale = p.scale;
  a.lr = p.lr;
  a.eps = p.eps;
  a.offset = 0;
  if (c.has_input(I::OFFSET)) {
    int32_t off = 0;
    ENGRAM_CUDA_CHECK(cudaMemcpyAsync(&off, c.in[I::OFFSET].raw(), sizeof off, cudaMemcpyDeviceToHost, stream()));
    ENGRAM_CUDA_CHECK(cudaStreamSynchronize(stream()));
    a.offset = off;
  }
  if (c.out[O::OFFSET].numel()) {
    const int32_t next = (int32_t)((a.offset + (int64_t)a.T) % a.C);
    ENGRAM_CUDA_CHECK(cudaMemcpyAsync(c.out[O::OFFSET].raw(), &next, sizeof next, cudaMemcpyHostToDevice, stream()));
    ENGRAM_CUDA_CHECK(cudaStreamSynchronize(stream()));  // `next` lives on this stack frame
  }
  const int BH = a.B * a.H;
  if (BH == 0) return;
  const int64_t per = (int64_t)(a.mom ? 3 : 2) * a.m * (a.dk + a.dv);
  Tensor ws = Tensor::empty(Dims{(int64_t)BH * per}, DType::F32, DeviceType::CUDA);
  a.ws = ws.data<float>();
  const size_t bytes = smem_bytes(a.dk, a.dv, a.m);
  ENGRAM_CHECK(smem_fits((const void*)trellis_kernel, bytes), UNSUPPORTED,
               "trellis: the row vectors do not fit in shared memory on this GPU");
  trellis_kernel<<<BH, kTrThreads, bytes, stream()>>>(a);
  ENGRAM_CUDA_LAUNCHED("trellis_kernel");
}

}  // namespace cuda
}  // namespace engram
