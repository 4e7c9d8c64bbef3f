// TurboQuant (arXiv 2504.19874, algorithms.md §11.1): per channel group,
// u = x_g / ||x_g||, y = Π_g u, idx = Lloyd-Max cell of each y_i (Algorithm 1);
// the prod variant uses b-1 bits for idx and adds z = sign(S_g r) for the
// residual r = u - Π_gᵀ c[idx] with γ = ||r|| (Algorithm 2), so that
//   x̃_g = ||x_g|| (Π_gᵀ c[idx] + κ/m γ S_gᵀ z)
// is unbiased for inner products (κ = √(π/2) for a Gaussian S; the exact
// constant 1/(√d E|u_1|) for a block-orthogonal S scaled by √d).
//
// Record (docs/quant.md): idx streams of the groups, sign streams, then per
// group ||x_g|| (and γ_g for prod) as f16 (or f32).
#include <cmath>
#include <cstring>
#include <vector>

#include "../cpu/cpu_features.h"
#include "../cpu/gemm.h"
#include "codebook.h"
#include "engram/error.h"
#include "engram/threadpool.h"
#include "kernels.h"
#include "quant_impl.h"
#include "rotation.h"

namespace engram {
namespace quant {

namespace {

constexpr int64_t kChunk = 64;  // rows encoded together (GEMM M)

}  // namespace

void pack_cells_ref(float* y, int n, const float* thr_pad, int b, const float* lut, uint8_t* out) {
  uint32_t acc = 0;
  int nbits = 0;
  for (int k = 0; k < n; ++k) {
    const float v = y[k];
    uint32_t c = 0;
    for (int step = 1 << (b - 1); step; step >>= 1) c += v > thr_pad[c + step - 1] ? (uint32_t)step : 0u;
    if (lut) y[k] = lut[c];
    acc |= c << nbits;
    nbits += b;
    while (nbits >= 8) {
      *out++ = (uint8_t)acc;
      acc >>= 8;
      nbits -= 8;
    }
  }
  if (nbits) *out = (uint8_t)acc;
}

void pack_cells(float* y, int n, const float* thr_pad, int b, const float* lut, uint8_t* out) {
  if (cpu::isa() >= cpu::Isa::AVX2 && !force_reference()) {
    const int n8 = n / 8 * 8;
    avx2::pack_cells(y, n8, thr_pad, b, lut, out);
    if (n8 < n) pack_cells_ref(y + n8, n - n8, thr_pad, b, lut, out + n8 / 8 * b);
    return;
  }
  pack_cells_ref(y, n, thr_pad, b, lut, out);
}

namespace {

class TurboQuantizer final : public Quantizer {
 public:
  explicit TurboQuantizer(const QuantConfig& c) {
    cfg_ = c;
    cg_.build(c);
    const TurboSplit sp = turbo_split(c.bits, c.dim);
    const int sb = scalar_bytes(c);
    desc_.kind = TileKind::TURBO;
    desc_.f32_scalars = c.f32_scalars;
    desc_.dim = c.dim;
    desc_.block_tokens = 1;
    desc_.ngroups = cg_.ngroups;
    int off = 0, t = 0;
    for (int g = 0; g < cg_.ngroups; ++g) {
      Group& G = g_[g];
      G.d = cg_.gdim[g];
      const int b = cg_.ngroups == 2 ? (g == 0 ? sp.bits_out : sp.bits_reg) : sp.bits_reg;
      G.mb = c.prod ? b - 1 : b;
      G.cb = beta_codebook(G.d, G.mb);
      G.thr.assign(G.cb->thresholds.begin(), G.cb->thresholds.end());
      G.thr.push_back(INFINITY);  // padded to 2^b for the binary search
      if (G.mb > 0)
        G.rot = c.hadamard ? Rotation::hadamard(G.d, mix_seed(c.seed, 0x10 + g)) : Rotation::dense(G.d, mix_seed(c.seed, 0x10 + g));
      if (c.prod) {
        G.S = c.orth_sketch ? orthogonal_sketch(G.d, G.d, mix_seed(c.seed, 0x20 + g))
                            : gaussian_matrix(G.d, G.d, mix_seed(c.seed, 0x20 + g));
        G.kappa = c.orth_sketch ? 1.0 / (std::sqrt((double)G.d) * sphere_abs_mean(G.d)) : std::sqrt(M_PI / 2);
      }
      TileGroup& T = desc_.g[g];
      T.rot_dim = G.mb > 0 ? G.d : 0;
      T.bits = G.mb > 0 ? G.mb : 1;
      for (size_t k = 0; k < 16; ++k) T.lut[k] = k < G.cb->centroids.size() ? (float)G.cb->centroids[k] : 0.0f;
      T.idx_off = off;
      off += (int)stream_bytes(T.rot_dim, T.bits);
      T.rot_t = t;
      t += T.rot_dim;
    }
    for (int g = 0; g < cg_.ngroups; ++g) {
      TileGroup& T = desc_.g[g];
      T.sk_dim = c.prod ? g_[g].d : 0;
      T.sign_off = off;
      off += (int)stream_bytes(T.sk_dim, 1);
      T.sk_t = t;
      t += T.sk_dim;
      T.sk_scale = c.prod ? (float)(g_[g].kappa / g_[g].d) : 0.0f;
    }
    for (int g = 0; g < cg_.ngroups; ++g) {
      TileGroup& T = desc_.g[g];
      T.norm_off = off;
      off += sb;
      T.rnorm_off = -1;
      if (c.prod) {
        T.rnorm_off = off;
        off += sb;
      }
    }
    desc_.block_bytes = off;
    desc_.bias_t = c.center.empty() ? -1 : t++;  // centering: a constant-1 coordinate carries μ
    desc_.t_dim = t;
    std::vector<const std::vector<float>*> tabs;
    for (int g = 0; g < cg_.ngroups; ++g) {
      if (g_[g].rot) tabs.push_back(&g_[g].rot->matrix());
      tabs.push_back(&g_[g].S);
    }
    finish_fingerprint(tabs);
  }

  void encode(const float* x, int64_t ldx, int64_t n_tok, int head, uint8_t* out) const override {
    const int64_t chunks = (n_tok + kChunk - 1) / kChunk;
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      const int d = cfg_.dim;
      std::vector<float> xp((size_t)kChunk * d), u((size_t)kChunk * d), y((size_t)kChunk * d), r((size_t)kChunk * d);
      for (int64_t ch = c0; ch < c1; ++ch) {
        const int64_t i0 = ch * kChunk, n = std::min(kChunk, n_tok - i0);
        const float* src = x + i0 * ldx;
        int64_t lds = ldx;
        const float* mu = center_of(cfg_, head);
        if (!cg_.identity || mu) {
          cg_.gather(src, ldx, n, head, xp.data(), mu);
          src = xp.data();
          lds = d;
        }
        uint8_t* rec0 = out + i0 * desc_.block_bytes;
        std::memset(rec0, 0, (size_t)(n * desc_.block_bytes));
        for (int g = 0; g < cg_.ngroups; ++g) encode_group(g, src + cg_.goff[g], lds, n, u.data(), y.data(), r.data(), rec0);
      }
    });
  }

  void transform_query(const float* q, int head, float* qt) const override {
    std::vector<float> qp((size_t)cfg_.dim);
    const int32_t* o = cg_.head_order(head);
    for (int c = 0; c < cfg_.dim; ++c) qp[(size_t)c] = q[o[c]];
    for (int g = 0; g < cg_.ngroups; ++g) {
      const Group& G = g_[g];
      const TileGroup& T = desc_.g[g];
      const float* qg = qp.data() + cg_.goff[g];
      if (T.rot_dim) G.rot->forward(qg, qt + T.rot_t);
      for (int i = 0; i < T.sk_dim; ++i) {
        const float* s = G.S.data() + (size_t)i * G.d;
        double a = 0;
        for (int k = 0; k < G.d; ++k) a += (double)s[k] * qg[k];
        qt[T.sk_t + i] = (float)a;
      }
    }
    if (desc_.bias_t >= 0) {
      const float* mu = center_of(cfg_, head);
      double a = 0;
      for (int c = 0; c < cfg_.dim; ++c) a += (double)q[c] * mu[c];
      qt[desc_.bias_t] = (float)a;
    }
  }

  void transform_back(const float* acc, int head, float* out) const override {
    std::vector<double> xp((size_t)cfg_.dim, 0.0);
    std::vector<float> tmp((size_t)cfg_.dim);
    for (int g = 0; g < cg_.ngroups; ++g) {
      const Group& G = g_[g];
      const TileGroup& T = desc_.g[g];
      double* xg = xp.data() + cg_.goff[g];
      if (T.rot_dim) {
        G.rot->inverse(acc + T.rot_t, tmp.data());
        for (int k = 0; k < G.d; ++k) xg[k] += tmp[(size_t)k];
      }
      for (int i = 0; i < T.sk_dim; ++i) {
        const float* s = G.S.data() + (size_t)i * G.d;
        const double a = acc[T.sk_t + i];
        if (a != 0.0)
          for (int k = 0; k < G.d; ++k) xg[k] += a * s[k];
      }
    }
    const int32_t* o = cg_.head_order(head);
    for (int c = 0; c < cfg_.dim; ++c) out[o[c]] = (float)xp[(size_t)c];
    if (desc_.bias_t >= 0) {
      const float* mu = center_of(cfg_, head);
      for (int c = 0; c < cfg_.dim; ++c) out[c] += acc[desc_.bias_t] * mu[c];
    }
  }

  void transform_queries(const float* q, int64_t ldq, int64_t n, int head, float* qt, int64_t ldt) const override {
    const int d = cfg_.dim;
    std::vector<float> qp;
    const float* src = q;
    int64_t lds = ldq;
    if (!cg_.identity) {
      qp.resize((size_t)(n * d));
      cg_.gather(q, ldq, n, head, qp.data());
      src = qp.data();
      lds = d;
    }
    for (int g = 0; g < cg_.ngroups; ++g) {
      const Group& G = g_[g];
      const TileGroup& T = desc_.g[g];
      if (T.rot_dim) G.rot->forward_rows(src + cg_.goff[g], n, lds, qt + T.rot_t, ldt);
      if (T.sk_dim) cpu::sgemm(false, true, n, T.sk_dim, G.d, 1.0f, src + cg_.goff[g], lds, G.S.data(), G.d, 0.0f, qt + T.sk_t, ldt);
    }
    if (desc_.bias_t >= 0) {
      const float* mu = center_of(cfg_, head);
      for (int64_t i = 0; i < n; ++i) {
        double a = 0;
        for (int c = 0; c < cfg_.dim; ++c) a += (double)q[i * ldq + c] * mu[c];
        qt[i * ldt + desc_.bias_t] = (float)a;
      }
    }
  }

  void transform_back_rows(const float* acc, int64_t lda, int64_t n, int head, float* out, int64_t ldo) const override {
    const int d = cfg_.dim;
    std::vector<float> xp((size_t)(n * d));
    for (int g = 0; g < cg_.ngroups; ++g) {
      const Group& G = g_[g];
      const TileGroup& T = desc_.g[g];
      float* xg = xp.data() + cg_.goff[g];
      if (T.rot_dim) G.rot->inverse_rows(acc + T.rot_t, n, lda, xg, d);
      if (T.sk_dim) cpu::sgemm(false, false, n, G.d, T.sk_dim, 1.0f, acc + T.sk_t, lda, G.S.data(), G.d, T.rot_dim ? 1.0f : 0.0f, xg, d);
    }
    const int32_t* o = cg_.head_order(head);
    for (int64_t i = 0; i < n; ++i)
      for (int c = 0; c < d; ++c) out[i * ldo + o[c]] = xp[(size_t)(i * d + c)];
    if (desc_.bias_t >= 0) {
      const float* mu = center_of(cfg_, head);
      for (int64_t i = 0; i < n; ++i)
        for (int c = 0; c < cfg_.dim; ++c) out[i * ldo + c] += acc[i * lda + desc_.bias_t] * mu[c];
    }
  }

 private:
  struct Group {
    int d = 0, mb = 0;
    std::shared_ptr<const Rotation> rot;
    std::shared_ptr<const Codebook> cb;
    std::vector<float> thr;
    std::vector<float> S;  // d × d sketch (prod)
    double kappa = 0;
  };
  ChannelGroups cg_;
  Group g_[kMaxGroups];

  // n rows of group g (x[i * ldx + k], k < d_g) into records at rec0 (zeroed).
  void encode_group(int g, const float* x, int64_t ldx, int64_t n, float* u, float* y, float* r, uint8_t* rec0) const {
    const Group& G = g_[g];
    const TileGroup& T = desc_.g[g];
    const int d = G.d;
    const bool f32 = cfg_.f32_scalars;
    std::vector<float> nu((size_t)n);
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x + i * ldx;
      double s = 0;
      for (int k = 0; k < d; ++k) s += (double)xi[k] * xi[k];
      const double nrm = std::sqrt(s);
      nu[(size_t)i] = (float)nrm;
      const float inv = nrm > 0 ? (float)(1.0 / nrm) : 0.0f;
      for (int k = 0; k < d; ++k) u[i * d + k] = xi[k] * inv;
      store_scalar(rec0 + i * desc_.block_bytes + T.norm_off, f32, (float)nrm);
    }
    if (T.rot_dim) {
      G.rot->forward_rows(u, n, d, y, d);
      // codes; y becomes the dequantised rotated vector (prod residual)
      for (int64_t i = 0; i < n; ++i)
        pack_cells(y + i * d, d, G.thr.data(), T.bits, cfg_.prod ? T.lut : nullptr, rec0 + i * desc_.block_bytes + T.idx_off);
    }
    if (!cfg_.prod) return;
    if (T.rot_dim) {
      G.rot->inverse_rows(y, n, d, r, d);
      for (int64_t i = 0; i < n * d; ++i) r[i] = u[i] - r[i];
    } else {
      std::memcpy(r, u, sizeof(float) * (size_t)(n * d));
    }
    cpu::sgemm(false, true, n, d, d, 1.0f, r, d, G.S.data(), d, 0.0f, y, d);  // y = R Sᵀ
    for (int64_t i = 0; i < n; ++i) {
      uint8_t* rec = rec0 + i * desc_.block_bytes;
      double s = 0;
      for (int k = 0; k < d; ++k) s += (double)r[i * d + k] * r[i * d + k];
      store_scalar(rec + T.rnorm_off, f32, nu[(size_t)i] > 0 ? (float)std::sqrt(s) : 0.0f);
      for (int k = 0; k < d; ++k)
        if (y[i * d + k] >= 0.0f) put_code(rec + T.sign_off, k, 1, 1u);
    }
  }
};

}  // namespace

std::shared_ptr<const Quantizer> make_turbo(const QuantConfig& c) { return std::make_shared<TurboQuantizer>(c); }

}  // namespace quant
}  // namespace engram
