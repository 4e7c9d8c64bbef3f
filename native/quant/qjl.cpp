// QJL (arXiv 2406.03482, algorithms.md §11.2): keys stored as z = sign(S x_g)
// (m_g bits) plus ||x_g|| per channel group; the asymmetric estimator
//   <q, x> ≈ Σ_g κ_g/m_g ||x_g|| <S_g q_g, z_g>
// is unbiased (κ = √(π/2) for Gaussian S; 1/(√d E|u_1|) for block-orthogonal
// S scaled by √d, the reference code's choice and our default). The outlier
// group (channels from calibration, or the first ones) gets its own sketch,
// as in the reference code; unlike it, the channel set is fixed per head
// instead of re-chosen per 32-token group.
//
// Record: sign streams of the groups, then one norm per group.
#include <cmath>
#include <cstring>
#include <vector>

#include "../cpu/gemm.h"
#include "engram/error.h"
#include "engram/threadpool.h"
#include "quant_impl.h"
#include "rotation.h"

namespace engram {
namespace quant {

namespace {

constexpr int64_t kChunk = 64;

class QjlQuantizer final : public Quantizer {
 public:
  explicit QjlQuantizer(const QuantConfig& c) {
    cfg_ = c;
    cg_.build(c);
    const int sb = scalar_bytes(c);
    desc_.kind = TileKind::QJL;
    desc_.f32_scalars = c.f32_scalars;
    desc_.dim = c.dim;
    desc_.block_tokens = 1;
    desc_.ngroups = cg_.ngroups;
    int off = 0, t = 0;
    for (int g = 0; g < cg_.ngroups; ++g) {
      const int d = cg_.gdim[g];
      const int m = cg_.ngroups == 2 && g == 0 ? c.outlier_sketch : c.sketch;
      const uint64_t s = mix_seed(c.seed, 0x30 + g);
      S_[g] = c.orth_sketch ? orthogonal_sketch(m, d, s) : gaussian_matrix(m, d, s);
      const double kappa = c.orth_sketch ? 1.0 / (std::sqrt((double)d) * sphere_abs_mean(d)) : std::sqrt(M_PI / 2);
      TileGroup& T = desc_.g[g];
      T.rot_dim = 0;
      T.bits = 1;
      T.sk_dim = m;
      T.sign_off = off;
      off += (int)stream_bytes(m, 1);
      T.sk_t = t;
      t += m;
      T.sk_scale = (float)(kappa / m);
      T.rnorm_off = -1;
    }
    for (int g = 0; g < cg_.ngroups; ++g) {
      desc_.g[g].norm_off = off;
      off += sb;
    }
    desc_.block_bytes = off;
    desc_.bias_t = c.center.empty() ? -1 : t++;  // centering: a constant-1 coordinate carries μ
    desc_.t_dim = t;
    finish_fingerprint({&S_[0], &S_[1]});
  }

  void encode(const float* x, int64_t ldx, int64_t n_tok, int head, uint8_t* out) const override {
    const int64_t chunks = (n_tok + kChunk - 1) / kChunk;
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      const int d = cfg_.dim;
      int mmax = 0;
      for (int g = 0; g < cg_.ngroups; ++g) mmax = std::max(mmax, desc_.g[g].sk_dim);
      std::vector<float> xp((size_t)kChunk * d), z((size_t)kChunk * mmax);
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
        for (int g = 0; g < cg_.ngroups; ++g) {
          const TileGroup& T = desc_.g[g];
          const int dg = cg_.gdim[g], m = T.sk_dim;
          const float* xg = src + cg_.goff[g];
          cpu::sgemm(false, true, n, m, dg, 1.0f, xg, lds, S_[g].data(), dg, 0.0f, z.data(), m);
          for (int64_t i = 0; i < n; ++i) {
            uint8_t* rec = rec0 + i * desc_.block_bytes;
            double s = 0;
            for (int k = 0; k < dg; ++k) s += (double)xg[i * lds + k] * xg[i * lds + k];
            store_scalar(rec + T.norm_off, cfg_.f32_scalars, (float)std::sqrt(s));
            for (int k = 0; k < m; ++k)
              if (z[(size_t)(i * m + k)] >= 0.0f) put_code(rec + T.sign_off, k, 1, 1u);
          }
        }
      }
    });
  }

  void transform_query(const float* q, int head, float* qt) const override {
    const int32_t* o = cg_.head_order(head);
    for (int g = 0; g < cg_.ngroups; ++g) {
      const TileGroup& T = desc_.g[g];
      const int dg = cg_.gdim[g];
      const int32_t* og = o + cg_.goff[g];
      for (int i = 0; i < T.sk_dim; ++i) {
        const float* s = S_[g].data() + (size_t)i * dg;
        double a = 0;
        for (int k = 0; k < dg; ++k) a += (double)s[k] * q[og[k]];
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
    const int32_t* o = cg_.head_order(head);
    std::vector<double> x((size_t)cfg_.dim, 0.0);
    for (int g = 0; g < cg_.ngroups; ++g) {
      const TileGroup& T = desc_.g[g];
      const int dg = cg_.gdim[g];
      double* xg = x.data() + cg_.goff[g];
      for (int i = 0; i < T.sk_dim; ++i) {
        const double a = acc[T.sk_t + i];
        if (a == 0.0) continue;
        const float* s = S_[g].data() + (size_t)i * dg;
        for (int k = 0; k < dg; ++k) xg[k] += a * s[k];
      }
    }
    for (int c = 0; c < cfg_.dim; ++c) out[o[c]] = (float)x[(size_t)c];
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
      const TileGroup& T = desc_.g[g];
      cpu::sgemm(false, true, n, T.sk_dim, cg_.gdim[g], 1.0f, src + cg_.goff[g], lds, S_[g].data(), cg_.gdim[g], 0.0f,
                 qt + T.sk_t, ldt);
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
      const TileGroup& T = desc_.g[g];
      cpu::sgemm(false, false, n, cg_.gdim[g], T.sk_dim, 1.0f, acc + T.sk_t, lda, S_[g].data(), cg_.gdim[g], 0.0f,
                 xp.data() + cg_.goff[g], d);
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
  ChannelGroups cg_;
  std::vector<float> S_[kMaxGroups];  // m_g × d_g
};

}  // namespace

std::shared_ptr<const Quantizer> make_qjl(const QuantConfig& c) { return std::make_shared<QjlQuantizer>(c); }

}  // namespace quant
}  // namespace engram
