// CPU test of the per-tile maths shared by the CPU and CUDA memory kernels
// (engram/memory_hd.h) and of the CPU's vectorised twins (native/cpu/memory):
// coefficient matrices against their definitions (GA @ GH, ...) in double,
// segment products against direct products, the UT transform, LayerNorm
// forward/backward against finite differences, activations and derivatives.
//   build-native/test_memory_hd   (prints "memory_hd: N passed, N failed")
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cpu/memory/chunk_linear.h"
#include "cpu/memory/mem_io.h"
#include "engram/memory_hd.h"

using namespace engram;

static int g_pass = 0, g_fail = 0;
static void check(bool ok, const std::string& what, double err) {
  if (ok) {
    ++g_pass;
  } else {
    ++g_fail;
    std::printf("FAIL %s (error %.3g)\n", what.c_str(), err);
  }
}

static std::vector<float> uni(int n, std::mt19937& r, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v((size_t)n);
  for (float& x : v) x = d(r);
  return v;
}

// Definitions of §2.2 in double: GA, GH, A, Hc, Cm = (GA @ GH) * theta, Bv = GA @ Hc.
struct Ref {
  std::vector<double> Cm, A, Bv, Hc, hlast;
};
static Ref titans_def(int n, const float* al, const float* et, const float* th) {
  auto a = [&](int j) { return al ? 1.0 - (double)al[j] : 1.0; };
  auto e = [&](int j) { return et ? (double)et[j] : 0.0; };
  auto prod = [&](auto f, int s, int t) {  // prod_{s<j<=t} f(j)
    double p = 1;
    for (int j = s + 1; j <= t; ++j) p *= f(j);
    return p;
  };
  Ref r;
  r.Cm.assign((size_t)(n * n), 0);
  r.A.resize((size_t)n), r.Bv.resize((size_t)n), r.Hc.resize((size_t)n), r.hlast.resize((size_t)n);
  for (int t = 0; t < n; ++t) {
    r.A[(size_t)t] = prod(a, -1, t);
    r.Hc[(size_t)t] = prod(e, -1, t);
  }
  for (int t = 0; t < n; ++t) {
    double bv = 0;
    for (int s = 0; s <= t; ++s) bv += prod(a, s, t) * r.Hc[(size_t)s];
    r.Bv[(size_t)t] = bv;
    for (int i = 0; i <= t; ++i) {
      double x = 0;
      for (int s = i; s <= t; ++s) x += prod(a, s, t) * (et ? prod(e, i, s) : (s == i ? 1.0 : 0.0));
      r.Cm[(size_t)(t * n + i)] = x * th[i];
    }
  }
  for (int i = 0; i < n; ++i) r.hlast[(size_t)i] = (et ? prod(e, i, n - 1) : (i == n - 1 ? 1.0 : 0.0)) * th[i];
  if (!et) std::fill(r.Bv.begin(), r.Bv.end(), 0.0);
  return r;
}

static double max_rel(const float* x, const std::vector<double>& ref) {
  double m = 0, scale = 1e-30;
  for (double v : ref) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < ref.size(); ++i) m = std::max(m, std::fabs((double)x[i] - ref[i]));
  return m / scale;
}

static void test_titans_coeffs() {
  std::mt19937 rng(7);
  for (int n : {1, 4, 16, 64})
    for (int mask = 0; mask < 4; ++mask) {
      const bool mom = mask & 1, dec = mask & 2;
      std::vector<float> al = uni(n, rng, 0.0f, 0.3f), et = uni(n, rng, 0.3f, 0.99f), th = uni(n, rng, 0.01f, 0.5f);
      if (n > 4) al[3] = 1.0f, et[5 % n] = 0.0f, et[n - 2] = 0.0f;  // exact zero products
      const float* A = dec ? al.data() : nullptr;
      const float* E = mom ? et.data() : nullptr;
      Ref r = titans_def(n, A, E, th.data());
      std::vector<float> Cm((size_t)(n * n)), Av((size_t)n), Bv((size_t)n), Hc((size_t)n), hl((size_t)n), La((size_t)n),
          Lh((size_t)n), tmp((size_t)n);
      std::vector<int> Za((size_t)n), Zh((size_t)n);
      TitansCoeffView v{n, Cm.data(), n, Av.data(), Bv.data(), Hc.data(), hl.data()};
      hd_titans_coeffs(n, A, E, th.data(), 1, v, La.data(), Za.data(), Lh.data(), Zh.data());
      const std::string tag = "titans coeffs n=" + std::to_string(n) + " mom=" + std::to_string(mom) +
                              " decay=" + std::to_string(dec);
      double e1 = max_rel(Cm.data(), r.Cm), e2 = max_rel(Av.data(), r.A), e3 = max_rel(Bv.data(), r.Bv),
             e4 = max_rel(hl.data(), r.hlast);
      check(e1 < 2e-6 && e2 < 2e-6 && e3 < 2e-6 && e4 < 2e-6, "hd " + tag, std::max({e1, e2, e3, e4}));
      if (n > 4 && mom) check(r.Cm[(size_t)((n - 1) * n + 1)] == 0.0 || Cm[(size_t)((n - 1) * n + 1)] != 0.0f, "zeros", 0);
      // the CPU's vectorised twin
      std::vector<float> Cm2((size_t)(n * n)), A2((size_t)n), B2((size_t)n), H2((size_t)n), hl2((size_t)n);
      TitansCoeffView v2{n, Cm2.data(), n, A2.data(), B2.data(), H2.data(), hl2.data()};
      cpu::mem::titans_coeffs_fast(n, A, E, th.data(), v2, La.data(), Za.data(), Lh.data(), Zh.data(), tmp.data());
      e1 = max_rel(Cm2.data(), r.Cm), e2 = max_rel(A2.data(), r.A), e3 = max_rel(B2.data(), r.Bv),
      e4 = max_rel(hl2.data(), r.hlast);
      check(e1 < 2e-6 && e2 < 2e-6 && e3 < 2e-6 && e4 < 2e-6, "cpu " + tag, std::max({e1, e2, e3, e4}));
      // the element forms the CUDA kernels use, one (t, i) at a time
      std::vector<float> Cm3((size_t)(n * n), 0.0f);
      for (int t = 0; t < n; ++t)
        for (int i = 0; i < n; ++i)
          Cm3[(size_t)(t * n + i)] =
              mom ? hd_titans_x(t, i, dec ? 1.0f - al[(size_t)t] : 1.0f, Cm3.data() + (t ? t - 1 : 0) * n, Lh.data(), Zh.data())
                  : hd_titans_cm_nomom(t, i, dec ? La.data() : nullptr, Za.data(), th.data(), 1);
      if (mom)
        for (int t = 0; t < n; ++t)
          for (int i = 0; i <= t; ++i) Cm3[(size_t)(t * n + i)] *= th[(size_t)i];
      e1 = max_rel(Cm3.data(), r.Cm);
      check(e1 < 2e-6, "element form " + tag, e1);
    }
}

static void test_segprod() {
  std::mt19937 rng(3);
  const int n = 50;
  std::vector<float> g = uni(n, rng, 0.0f, 1.0f), L((size_t)n);
  std::vector<int> Z((size_t)n);
  g[10] = 0.0f;
  g[30] = 1.0f;
  hd_log_prefix(n, g.data(), 1, false, L.data(), Z.data());
  double worst = 0;
  bool zeros_ok = true;
  for (int t = 0; t < n; ++t)
    for (int s = -1; s <= t; ++s) {
      double p = 1;
      for (int j = s + 1; j <= t; ++j) p *= g[(size_t)j];
      float x = hd_segprod(L.data(), Z.data(), t, s);
      // f32 log-prefix sums: the relative error grows with |log p|
      if (p == 0.0) zeros_ok &= x == 0.0f;
      else worst = std::max(worst, std::fabs(x - p) / p / (1.0 + std::fabs(std::log(p))));
    }
  check(worst < 2e-6 && zeros_ok, "segment products (log space, exact zeros)", worst);
  check(hd_segprod(L.data(), Z.data(), 3, 5) == 0.0f && hd_segprod(L.data(), Z.data(), 4, 4) == 1.0f, "segprod edges", 0);
}

static void test_ut() {
  std::mt19937 rng(5);
  for (int n : {1, 7, 64}) {
    std::vector<float> A((size_t)(n * n), 0.0f), X((size_t)(n * n));
    std::normal_distribution<float> nd(0.0f, 0.2f);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < i; ++j) A[(size_t)(i * n + j)] = nd(rng);
    for (int i = 0; i < n; ++i) hd_ut_row(i, n, A.data(), n, X.data(), n);
    std::vector<float> X2((size_t)(n * n));
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) X2[(size_t)(i * n + j)] = hd_ut_elem(i, j, A.data(), n, X2.data(), n);
    double de = 0;
    for (size_t i = 0; i < X.size(); ++i) de = std::max(de, (double)std::fabs(X[i] - X2[i]));
    check(de < 1e-5, "UT element form == row form, n=" + std::to_string(n), de);
    std::vector<float> X3((size_t)(n * n));
    cpu::mem::ut_inverse(n, A.data(), X3.data());
    de = 0;
    for (size_t i = 0; i < X.size(); ++i) de = std::max(de, (double)std::fabs(X[i] - X3[i]));
    check(de < 1e-5, "UT vectorised (CPU) == row form, n=" + std::to_string(n), de);
    double worst = 0;  // X (I + A) == I
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        double s = X[(size_t)(i * n + j)];
        for (int k = 0; k < n; ++k) s += X[(size_t)(i * n + k)] * A[(size_t)(k * n + j)];
        worst = std::max(worst, std::fabs(s - (i == j ? 1.0 : 0.0)));
      }
    check(worst < 1e-5, "UT transform (I + A)^-1, n=" + std::to_string(n), worst);
  }
}

static void test_ln() {
  std::mt19937 rng(11);
  for (int D : {4, 16, 60}) {
    std::vector<float> z = uni(D, rng, -2, 2), tgt = uni(D, rng, -1, 1), gm = uni(D, rng, 0.5f, 1.5f),
                       bt = uni(D, rng, -0.3f, 0.3f), grad((size_t)D);
    const float eps = 1e-5f;
    auto loss = [&](const std::vector<double>& zz) {
      double mu = 0, var = 0;
      for (double x : zz) mu += x;
      mu /= D;
      for (double x : zz) var += (x - mu) * (x - mu);
      var /= D;
      double s = 0;
      for (int j = 0; j < D; ++j) {
        double y = gm[(size_t)j] * (zz[(size_t)j] - mu) / std::sqrt(var + eps) + bt[(size_t)j];
        s += (y - tgt[(size_t)j]) * (y - tgt[(size_t)j]);
      }
      return s;
    };
    hd_ln_l2_grad_row(z.data(), tgt.data(), D, gm.data(), bt.data(), eps, grad.data());
    double worst = 0;
    for (int j = 0; j < D; ++j) {
      std::vector<double> zp(z.begin(), z.end()), zm(z.begin(), z.end());
      zp[(size_t)j] += 1e-5;
      zm[(size_t)j] -= 1e-5;
      worst = std::max(worst, std::fabs((loss(zp) - loss(zm)) / 2e-5 - grad[(size_t)j]));
    }
    check(worst < 2e-3, "LN + l2 gradient vs finite differences, D=" + std::to_string(D), worst);
    std::vector<float> za = z;  // in place
    hd_ln_l2_grad_row(za.data(), tgt.data(), D, gm.data(), bt.data(), eps, za.data());
    double alias = 0;
    for (int j = 0; j < D; ++j) alias = std::max(alias, (double)std::fabs(za[(size_t)j] - grad[(size_t)j]));
    check(alias == 0.0, "LN gradient in place", alias);
    std::vector<float> y((size_t)D);
    hd_ln_fwd_row(z.data(), D, nullptr, nullptr, eps, y.data());
    double m = 0, v = 0;
    for (float x : y) m += x;
    m /= D;
    for (float x : y) v += (x - m) * (x - m);
    v /= D;
    check(std::fabs(m) < 1e-6 && std::fabs(v - 1.0) < 1e-3, "LN forward: zero mean, unit variance", std::fabs(v - 1));
  }
}

static void test_acts() {
  const MemAct acts[] = {MemAct::GELU, MemAct::GELU_TANH, MemAct::SILU, MemAct::RELU, MemAct::TANH};
  for (MemAct k : acts) {
    double dworst = 0, vworst = 0, rworst = 0;
    std::vector<float> x, y, dd;
    for (float v = -8.0f; v <= 8.0f; v += 0.01f) x.push_back(v);
    y = x;
    dd.resize(x.size());
    cpu::mem::vact((int64_t)x.size(), k, y.data(), y.data(), dd.data());  // in place
    for (size_t i = 0; i < x.size(); ++i) {
      const double h = 1e-3, xv = x[i];
      if (k != MemAct::RELU || std::fabs(xv) > 2 * h) {
        double fd = (cpu::mem::act_ref(k, xv + h) - cpu::mem::act_ref(k, xv - h)) / (2 * h);
        dworst = std::max(dworst, std::fabs(fd - hd_mem_act_grad(k, x[i])));
        dworst = std::max(dworst, std::fabs(cpu::mem::act_grad_ref(k, xv) - hd_mem_act_grad(k, x[i])));
      }
      rworst = std::max(rworst, std::fabs(cpu::mem::act_ref(k, xv) - hd_mem_act(k, x[i])));
      vworst = std::max(vworst, (double)std::fabs(y[i] - hd_mem_act(k, x[i])));
      vworst = std::max(vworst, (double)std::fabs(dd[i] - hd_mem_act_grad(k, x[i])) / 4);
    }
    const std::string tag = "activation " + std::to_string((int)k);
    check(dworst < 1e-4, tag + ": derivative vs finite differences", dworst);
    check(rworst < 1e-5, tag + ": f32 vs double", rworst);
    check(vworst < 2e-6, tag + ": vectorised (in place) vs scalar", vworst);
  }
}

static void test_ttt_coeffs() {
  float eta[5] = {0.1f, 0.2f, 0.3f, 0.0f, 0.5f}, Cm[25];
  hd_ttt_coeffs(5, eta, 1, true, Cm, 5);
  auto near = [](float a, double b) { return std::fabs(a - b) < 1e-7; };
  bool ok = near(Cm[4 * 5 + 2], 0.3 / 5.0) && Cm[1 * 5 + 3] == 0.0f && near(Cm[2 * 5 + 2], 0.1);
  hd_ttt_coeffs(5, eta, 1, false, Cm, 5);
  ok &= Cm[4 * 5 + 2] == 0.3f && Cm[0] == 0.1f;
  check(ok, "ttt inner-lr matrix", 0);
}

int main() {
  test_titans_coeffs();
  test_segprod();
  test_ut();
  test_ln();
  test_acts();
  test_ttt_coeffs();
  std::printf("memory_hd: %d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
