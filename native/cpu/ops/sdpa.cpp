// Scaled dot-product attention on the CPU, flash-style: per (batch, head,
// block of 64 queries) the keys are visited in blocks of 128; scores come
// from one GEMM, an online softmax keeps a running max and sum (SIMD exp/max
// from vec.h where available), and P V is a second GEMM. Memory is
// O(block^2) whatever the sequence length.
// Decode shapes (few query blocks x heads, long key ranges) would leave
// threads idle: the key range is then split across tasks, each keeping its
// own (max, sum, unnormalised output) state, and the states are merged
// exactly: m = max m_s, l = sum l_s e^(m_s - m), o = sum o_s e^(m_s - m) / l.
#include <cmath>
#include <vector>

#include "../cpu_common.h"
#include "../gemm.h"
#include "../kernels.h"
#include "../vec.h"

namespace engram {
namespace cpu {

namespace {
constexpr int64_t kBQ = 64, kBK = 128;

float sdpa_scale(const SdpaParams& p, int64_t D) { return p.scale > 0 ? p.scale : 1.0f / std::sqrt((float)D); }

struct Sdpa {
  const Tensor &Q, &K, &V;
  SdpaParams p;
  int64_t B, T, H, D, S, Dv, group;
  float scale;
  size_t es;
  const VecKernels* vk;
  Sdpa(const OpCall& c)
      : Q(c.in[0]), K(c.in[1]), V(c.in[2]), p(c.p<SdpaParams>()), B(Q.size(0)), T(Q.size(1)), H(Q.size(2)),
        D(Q.size(3)), S(K.size(1)), Dv(V.size(3)), group(H / K.size(2)), scale(sdpa_scale(p, D)),
        es(elem_size(Q.dtype())), vk(vec_kernels()) {}

  // Keys [0, kend) that query rows [q0, q0 + nq) may see.
  int64_t kend(int64_t q0, int64_t nq) const { return p.causal ? std::min(S, q0 + nq + (S - T)) : S; }

  // Online-softmax state of query rows [q0, q0+nq) of (b, h) over keys [kb, ke):
  // m[i] running max of the scaled scores, l[i] sum of e^(score - m), acc[i, :]
  // sum of e^(score - m) v. sc: kBQ x kBK scratch.
  void attend(int64_t b, int64_t h, int64_t q0, int64_t nq, int64_t kb, int64_t ke, float* m, float* l, float* acc,
              float* sc) const {
    const int64_t hk = h / group;
    std::fill(m, m + nq, -INFINITY);
    std::fill(l, l + nq, 0.0f);
    std::fill(acc, acc + nq * Dv, 0.0f);
    GemmArgs qk;
    qk.M = nq;
    qk.K = D;
    qk.A = static_cast<const char*>(Q.raw()) + (b * Q.stride(0) + q0 * Q.stride(1) + h * Q.stride(2)) * (int64_t)es;
    qk.a_type = Q.dtype();
    qk.rsa = Q.stride(1);
    qk.csa = Q.stride(3);
    qk.b_type = K.dtype();
    qk.rsb = K.stride(3);
    qk.csb = K.stride(1);
    qk.C = sc;
    qk.rsc = kBK;
    qk.alpha = scale;
    GemmArgs pv;
    pv.M = nq;
    pv.N = Dv;
    pv.A = sc;
    pv.rsa = kBK;
    pv.csa = 1;
    pv.b_type = V.dtype();
    pv.rsb = V.stride(1);
    pv.csb = V.stride(3);
    pv.C = acc;
    pv.rsc = Dv;
    pv.beta = 1.0f;
    for (int64_t k0 = kb; k0 < ke; k0 += kBK) {
      const int64_t nk = std::min(kBK, ke - k0);
      qk.N = nk;
      qk.B = static_cast<const char*>(K.raw()) + (b * K.stride(0) + k0 * K.stride(1) + hk * K.stride(2)) * (int64_t)es;
      gemm(qk);
      for (int64_t i = 0; i < nq; ++i) {
        float* row = sc + i * kBK;
        // keys [0, lim) of this block are visible to row i
        const int64_t lim = p.causal ? std::max<int64_t>(0, std::min(nk, q0 + i + (S - T) - k0 + 1)) : nk;
        for (int64_t j = lim; j < nk; ++j) row[j] = 0.0f;
        if (lim == 0) continue;
        float mx = m[i], s = 0.0f;
        if (vk) {
          mx = std::fmax(mx, vk->max(row, lim));
          s = vk->exp_sum(row, mx, row, lim);
        } else {
          for (int64_t j = 0; j < lim; ++j) mx = std::fmax(mx, row[j]);
          for (int64_t j = 0; j < lim; ++j) s += (row[j] = std::exp(row[j] - mx));
        }
        const float corr = std::exp(m[i] - mx);  // exp(-inf) = 0 before the first visible key
        l[i] = l[i] * corr + s;
        m[i] = mx;
        if (corr != 1.0f)
          for (int64_t d = 0; d < Dv; ++d) acc[i * Dv + d] *= corr;
      }
      pv.K = nk;
      pv.B = static_cast<const char*>(V.raw()) + (b * V.stride(0) + k0 * V.stride(1) + hk * V.stride(2)) * (int64_t)es;
      gemm(pv);
    }
  }
};

}  // namespace

void cpu_sdpa(OpCall& c) {
  const Sdpa x(c);
  const Tensor& O = c.out[0];
  const int64_t B = x.B, T = x.T, H = x.H, Dv = x.Dv;
  const int64_t qblocks = (T + kBQ - 1) / kBQ, tasks = B * H * qblocks;
  Tensor acc_t = O.dtype() == DType::F32 ? O : Tensor::empty(O.shape(), DType::F32);
  float* out = acc_t.data<float>();
  auto decode = [&](int64_t task, int64_t& b, int64_t& h, int64_t& q0, int64_t& nq) {
    const int64_t qb = task % qblocks, bh = task / qblocks;
    h = bh % H;
    b = bh / H;
    q0 = qb * kBQ;
    nq = std::min(kBQ, T - q0);
  };
  // Split the key range when the (batch, head, query block) tasks cannot fill
  // the threads and each part would still span at least two key blocks.
  const int nt = in_parallel_region() ? 1 : num_threads();
  int64_t nsplit = 1;
  if (tasks < 2 * nt) nsplit = std::max<int64_t>(1, std::min((2 * nt + tasks - 1) / tasks, x.S / (2 * kBK)));

  if (nsplit == 1) {
    parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
      std::vector<float> sc((size_t)(kBQ * kBK)), ob((size_t)(kBQ * Dv)), m((size_t)kBQ), l((size_t)kBQ);
      for (int64_t task = t0; task < t1; ++task) {
        int64_t b, h, q0, nq;
        decode(task, b, h, q0, nq);
        x.attend(b, h, q0, nq, 0, x.kend(q0, nq), m.data(), l.data(), ob.data(), sc.data());
        for (int64_t i = 0; i < nq; ++i) {
          const float inv = 1.0f / l[(size_t)i];
          float* dst = out + ((b * T + q0 + i) * H + h) * Dv;
          for (int64_t d = 0; d < Dv; ++d) dst[d] = ob[(size_t)(i * Dv + d)] * inv;
        }
      }
    });
  } else {
    // Partial states per (task, split), then the exact merge.
    const size_t parts = (size_t)(tasks * nsplit);
    std::vector<float> ms(parts * kBQ), ls(parts * kBQ), accs(parts * kBQ * (size_t)Dv);
    parallel_for((int64_t)parts, 1, [&](int64_t u0, int64_t u1) {
      std::vector<float> sc((size_t)(kBQ * kBK));
      for (int64_t u = u0; u < u1; ++u) {
        int64_t b, h, q0, nq;
        decode(u / nsplit, b, h, q0, nq);
        const int64_t sp = u % nsplit, ke = x.kend(q0, nq), nblk = (ke + kBK - 1) / kBK;
        const int64_t kb = sp * nblk / nsplit * kBK, kx = std::min(ke, (sp + 1) * nblk / nsplit * kBK);
        x.attend(b, h, q0, nq, kb, kx, &ms[(size_t)u * kBQ], &ls[(size_t)u * kBQ], &accs[(size_t)u * kBQ * Dv],
                 sc.data());
      }
    });
    parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t task = t0; task < t1; ++task) {
        int64_t b, h, q0, nq;
        decode(task, b, h, q0, nq);
        for (int64_t i = 0; i < nq; ++i) {
          float mx = -INFINITY;
          for (int64_t sp = 0; sp < nsplit; ++sp) mx = std::fmax(mx, ms[(size_t)((task * nsplit + sp) * kBQ + i)]);
          float* dst = out + ((b * T + q0 + i) * H + h) * Dv;
          std::fill(dst, dst + Dv, 0.0f);
          float lsum = 0.0f;
          for (int64_t sp = 0; sp < nsplit; ++sp) {
            const size_t u = (size_t)(task * nsplit + sp);
            const float w = std::exp(ms[u * kBQ + i] - mx);  // 0 for a part that saw no key
            if (w == 0.0f) continue;
            lsum += ls[u * kBQ + i] * w;
            const float* a = &accs[(u * kBQ + i) * Dv];
            for (int64_t d = 0; d < Dv; ++d) dst[d] += a[d] * w;
          }
          const float inv = 1.0f / lsum;
          for (int64_t d = 0; d < Dv; ++d) dst[d] *= inv;
        }
      }
    });
  }
  if (O.dtype() != DType::F32) store_f32_into(acc_t, O);
}

void ref_sdpa(OpCall& c) {
  const Tensor &Q = c.in[0], &K = c.in[1], &V = c.in[2], &O = c.out[0];
  const SdpaParams p = c.p<SdpaParams>();
  const int64_t B = Q.size(0), T = Q.size(1), H = Q.size(2), D = Q.size(3);
  const int64_t S = K.size(1), Hkv = K.size(2), Dv = V.size(3);
  const double scale = sdpa_scale(p, D);
  auto at = [](const Tensor& x, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return (double)read_f32(x, i0 * x.stride(0) + i1 * x.stride(1) + i2 * x.stride(2) + i3 * x.stride(3));
  };
  std::vector<double> w((size_t)S);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t hk = h / (H / Hkv);
        const int64_t kend = p.causal ? t + (S - T) + 1 : S;
        double mx = -INFINITY;
        for (int64_t s = 0; s < kend; ++s) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += at(Q, b, t, h, d) * at(K, b, s, hk, d);
          w[(size_t)s] = dot * scale;
          mx = std::fmax(mx, w[(size_t)s]);
        }
        double sum = 0;
        for (int64_t s = 0; s < kend; ++s) sum += (w[(size_t)s] = std::exp(w[(size_t)s] - mx));
        for (int64_t d = 0; d < Dv; ++d) {
          double acc = 0;
          for (int64_t s = 0; s < kend; ++s) acc += w[(size_t)s] * at(V, b, s, hk, d);
          write_f32(O, ((b * T + t) * H + h) * Dv + d, (float)(acc / sum));
        }
      }
}

}  // namespace cpu
}  // namespace engram
