// TTT mini-batch dual form (see chunk_ttt.h).
#include "chunk_ttt.h"

#include <algorithm>

#include "../gemm.h"
#include "engram/memory_hd.h"
#include "engram/threadpool.h"
#include "mem_io.h"

namespace engram {
namespace cpu {
namespace mem {

size_t TttChunk::floats(int64_t C, int64_t dk, int64_t dv) {
  return (size_t)(2 * C * dk + 2 * C * dv + C + 2 * C * C + C * dk);
}

void TttChunk::bind(float* buf, int64_t C, int64_t n_, int64_t dk_, int64_t dv_) {
  n = n_, dk = dk_, dv = dv_;
  float* p = buf;
  Q = p, p += C * dk;
  K = p, p += C * dk;
  V = p, p += C * dv;
  eta = p, p += C;
  Tg = p, p += C * dv;
  Cm = p, p += C * C;
  Wcp = p, p += C * C;
  KC = p;
}

namespace {
template <class F>
void rows(int64_t n, int64_t width, const F& f) {
  parallel_for(n, std::max<int64_t>(1, 8192 / std::max<int64_t>(width, 1)), [&](int64_t a, int64_t e) {
    for (int64_t t = a; t < e; ++t) f(t);
  });
}
void g(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t rsb,
       int64_t csb, float* C, int64_t rsc, float alpha, float beta) {
  GemmArgs a;
  a.M = M, a.N = N, a.K = K;
  a.A = A, a.rsa = rsa, a.csa = csa;
  a.B = B, a.rsb = rsb, a.csb = csb;
  a.C = C, a.rsc = rsc;
  a.alpha = alpha, a.beta = beta;
  gemm(a);
}
// dloss/dZ for rows of Z [n, dv] against the target (in place into G).
void loss_grad(const TttChunk& c, const TttParams& p, TttLn ln, const float* Z, float* G) {
  const int64_t dv = c.dv;
  rows(c.n, dv, [&](int64_t t) {
    if (p.layer_norm) {
      hd_ln_l2_grad_row(Z + t * dv, c.Tg + t * dv, (int)dv, ln.gamma, ln.beta, p.eps, G + t * dv);
    } else {
      for (int64_t j = 0; j < dv; ++j) G[t * dv + j] = 2.0f * (Z[t * dv + j] - c.Tg[t * dv + j]);
    }
  });
}
// o = [Q +] [LN](Zb), in place in Zb -> Y.
void finish_out(const TttChunk& c, const TttParams& p, TttLn ln, float* Zb, float* Y) {
  const int64_t dv = c.dv;
  rows(c.n, dv, [&](int64_t t) {
    float* z = Zb + t * dv;
    if (p.layer_norm) hd_ln_fwd_row(z, (int)dv, ln.gamma, ln.beta, p.eps, z);
    for (int64_t j = 0; j < dv; ++j) Y[t * dv + j] = z[j] + (p.residual ? c.Q[t * c.dk + j] : 0.0f);
  });
}
void add_bias(int64_t n, int64_t w, const float* b, float* X) {
  if (!b) return;
  for (int64_t t = 0; t < n; ++t) vaxpy(w, 1.0f, b, X + t * w);
}
// b -= sum_i Cm[n-1, i] G_i
void bias_update(const TttChunk& c, int64_t w, const float* G, float* b) {
  if (!b) return;
  const float* cl = c.cl();
  for (int64_t i = 0; i < c.n; ++i) vaxpy(w, -cl[i], G + i * w, b);
}
}  // namespace

void ttt_prep(TttChunk& c, const TttParams& p) {
  const int64_t n = c.n, dk = c.dk, dv = c.dv;
  hd_ttt_coeffs((int)n, c.eta, 1, p.token_idx, c.Cm, (int)n);
  sgemm(false, true, n, n, dk, 1.0f, c.Q, dk, c.K, dk, 0.0f, c.Wcp, n);
  const float one = p.bias ? 1.0f : 0.0f;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < n; ++i) c.Wcp[t * n + i] = i <= t ? c.Cm[t * n + i] * (c.Wcp[t * n + i] + one) : 0.0f;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < dv; ++j) c.Tg[t * dv + j] = c.V[t * dv + j] - (p.residual ? c.K[t * dk + j] : 0.0f);
  const float* cl = c.cl();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < dk; ++j) c.KC[i * dk + j] = -cl[i] * c.K[i * dk + j];
}

void ttt_linear_step(const TttChunk& c, const TttParams& p, TttLn ln, float* W, float* b, float* Y, TttScratch& s) {
  const int64_t n = c.n, dk = c.dk, dv = c.dv;
  s.Z.resize((size_t)(n * dv));
  s.Zb.resize((size_t)(n * dv));
  float *Z = s.Z.data(), *Zb = s.Zb.data();
  // Z = K W + b;  G = dloss/dZ (in Z)
  g(n, dv, dk, c.K, dk, 1, W, dv, 1, Z, dv, 1.0f, 0.0f);
  add_bias(n, dv, b, Z);
  loss_grad(c, p, ln, Z, Z);
  // Zb = Q W + b - Wcp G
  g(n, dv, dk, c.Q, dk, 1, W, dv, 1, Zb, dv, 1.0f, 0.0f);
  add_bias(n, dv, b, Zb);
  g(n, dv, n, c.Wcp, n, 1, Z, dv, 1, Zb, dv, -1.0f, 1.0f);
  finish_out(c, p, ln, Zb, Y);
  // W += (-diag(cl) K)^T G;  b -= cl^T G
  g(dk, dv, n, c.KC, 1, dk, Z, dv, 1, W, dv, 1.0f, 1.0f);
  bias_update(c, dv, Z, b);
}

void ttt_mlp_step(const TttChunk& c, const TttParams& p, TttLn ln, int64_t dh, float* W1, float* b1, float* W2,
                  float* b2, float* Y, TttScratch& s) {
  const int64_t n = c.n, dk = c.dk, dv = c.dv;
  s.X2.resize((size_t)(n * dh));
  s.Sp.resize((size_t)(n * dh));
  s.Z.resize((size_t)(n * dv));
  s.G1.resize((size_t)(n * dh));
  s.Xb.resize((size_t)(n * dh));
  s.P2.resize((size_t)(n * n));
  s.Zb.resize((size_t)(n * dv));
  s.XC.resize((size_t)(n * dh));
  float *X2 = s.X2.data(), *Sp = s.Sp.data(), *G2 = s.Z.data(), *G1 = s.G1.data(), *Xb = s.Xb.data();
  float *P2 = s.P2.data(), *Zb = s.Zb.data(), *XC = s.XC.data();
  // Z1 = K W1 + b1; X2 = act(Z1), Sp = act'(Z1)
  g(n, dh, dk, c.K, dk, 1, W1, dh, 1, X2, dh, 1.0f, 0.0f);
  add_bias(n, dh, b1, X2);
  rows(n, dh, [&](int64_t t) { vact(dh, p.act, X2 + t * dh, X2 + t * dh, Sp + t * dh); });
  // Z2 = X2 W2 + b2;  G2 = dloss/dZ2
  g(n, dv, dh, X2, dh, 1, W2, dv, 1, G2, dv, 1.0f, 0.0f);
  add_bias(n, dv, b2, G2);
  loss_grad(c, p, ln, G2, G2);
  // G1 = (G2 W2^T) * act'(Z1)
  g(n, dh, dv, G2, dv, 1, W2, 1, dv, G1, dh, 1.0f, 0.0f);
  rows(n, dh, [&](int64_t t) { vmul(dh, Sp + t * dh, G1 + t * dh); });
  // Zb1 = Q W1 + b1 - Wcp G1;  Xb2 = act(Zb1)
  g(n, dh, dk, c.Q, dk, 1, W1, dh, 1, Xb, dh, 1.0f, 0.0f);
  add_bias(n, dh, b1, Xb);
  g(n, dh, n, c.Wcp, n, 1, G1, dh, 1, Xb, dh, -1.0f, 1.0f);
  rows(n, dh, [&](int64_t t) { vact(dh, p.act, Xb + t * dh, Xb + t * dh, nullptr); });
  // Zb2 = Xb2 W2 + b2 - (Cm * (Xb2 X2^T [+ 1])) G2
  g(n, n, dh, Xb, dh, 1, X2, 1, dh, P2, n, 1.0f, 0.0f);
  const float one = p.bias ? 1.0f : 0.0f;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < n; ++i) P2[t * n + i] = i <= t ? c.Cm[t * n + i] * (P2[t * n + i] + one) : 0.0f;
  g(n, dv, dh, Xb, dh, 1, W2, dv, 1, Zb, dv, 1.0f, 0.0f);
  add_bias(n, dv, b2, Zb);
  g(n, dv, n, P2, n, 1, G2, dv, 1, Zb, dv, -1.0f, 1.0f);
  finish_out(c, p, ln, Zb, Y);
  // W1 += (-diag(cl) K)^T G1;  W2 += (-diag(cl) X2)^T G2;  biases
  const float* cl = c.cl();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < dh; ++j) XC[i * dh + j] = -cl[i] * X2[i * dh + j];
  g(dk, dh, n, c.KC, 1, dk, G1, dh, 1, W1, dh, 1.0f, 1.0f);
  g(dh, dv, n, XC, 1, dh, G2, dv, 1, W2, dv, 1.0f, 1.0f);
  bias_update(c, dh, G1, b1);
  bias_update(c, dv, G2, b2);
}

}  // namespace mem
}  // namespace cpu
}  // namespace engram
