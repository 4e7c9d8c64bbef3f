// CPU test of the trellis row maths shared by the reference, the CPU kernels
// and the CUDA kernel (engram/trellis_hd.h): the phi-gradient of every write
// non-linearity against central finite differences of 1/2 ||phi(z) - alpha||^2
// (phi written out here independently), float vs double, and the defining
// properties of every inter-pass map f.
//   build-native/test_trellis_hd   (prints "trellis_hd: N passed, N failed")
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engram/trellis_hd.h"

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

// phi(z) from its definition (docs/trellis.md).
static std::vector<double> phi_def(TrellisPhi k, const std::vector<double>& z, double eps) {
  const size_t m = z.size();
  std::vector<double> y(m);
  if (k == TrellisPhi::IDENTITY) return z;
  if (k == TrellisPhi::SILU_NORM) {
    double ss = 0;
    for (size_t r = 0; r < m; ++r) {
      y[r] = z[r] / (1 + std::exp(-z[r]));
      ss += y[r] * y[r];
    }
    for (double& v : y) v /= std::sqrt(ss + eps);
    return y;
  }
  double mu = 0, var = 0;
  for (double v : z) mu += v;
  mu /= (double)m;
  for (double v : z) var += (v - mu) * (v - mu);
  var /= (double)m;
  for (size_t r = 0; r < m; ++r) y[r] = (z[r] - mu) / std::sqrt(var + eps);
  return y;
}

static double loss(TrellisPhi k, const std::vector<double>& z, const std::vector<double>& a, double eps) {
  std::vector<double> p = phi_def(k, z, eps);
  double l = 0;
  for (size_t r = 0; r < z.size(); ++r) l += 0.5 * (p[r] - a[r]) * (p[r] - a[r]);
  return l;
}

static void test_phi_grad() {
  std::mt19937 rng(7);
  std::normal_distribution<double> nd(0.0, 1.0);
  for (int ki = 0; ki < 3; ++ki)
    for (int m : {1, 2, 7, 64}) {
      const TrellisPhi k = (TrellisPhi)ki;
      const double eps = 1e-3;
      std::vector<double> z(m), a(m), u(m);
      for (int r = 0; r < m; ++r) z[r] = 1.5 * nd(rng), a[r] = nd(rng);
      tr_phi_grad_row<double>(k, m, z.data(), a.data(), eps, u.data());
      double worst = 0, scale = 1e-12;
      for (int r = 0; r < m; ++r) {
        const double h = 1e-5;
        std::vector<double> zp = z, zm = z;
        zp[r] += h;
        zm[r] -= h;
        const double fd = (loss(k, zp, a, eps) - loss(k, zm, a, eps)) / (2 * h);
        worst = std::max(worst, std::fabs(fd - u[r]));
        scale = std::max(scale, std::fabs(fd));
      }
      const std::string tag = "phi " + std::to_string(ki) + " m " + std::to_string(m);
      check(worst / scale < 1e-6, tag + ": gradient vs finite differences", worst / scale);
      std::vector<float> zf(m), af(m), uf(m);
      for (int r = 0; r < m; ++r) zf[r] = (float)z[r], af[r] = (float)a[r];
      tr_phi_grad_row<float>(k, m, zf.data(), af.data(), (float)eps, uf.data());
      double fw = 0;
      for (int r = 0; r < m; ++r) fw = std::max(fw, std::fabs(uf[r] - u[r]) / std::max(1.0, std::fabs(u[r])));
      check(fw < 1e-4, tag + ": float vs double", fw);
    }
}

static void test_f() {
  std::mt19937 rng(3);
  std::normal_distribution<double> nd(0.0, 2.0);
  const int m = 33;
  std::vector<double> x(m), s(m);
  for (double& v : x) v = nd(rng);
  const double eps = 1e-6;
  tr_f_row<double>(TrellisF::SOFTMAX, m, x.data(), 3.0, eps, s.data());
  double sum = 0, ratio = 0;
  for (int r = 0; r < m; ++r) sum += s[r];
  ratio = s[1] / s[0] - std::exp(3.0 * (x[1] - x[0]));
  check(std::fabs(sum - 1) < 1e-12 && std::fabs(ratio) < 1e-9 * std::exp(3.0 * (x[1] - x[0])), "softmax sums to 1, ratios e^{scale dx}", sum - 1);
  tr_f_row<double>(TrellisF::SILU_NORM, m, x.data(), 1.0, eps, s.data());
  double n2 = 0;
  for (double v : s) n2 += v * v;
  check(std::fabs(n2 - 1) < 1e-6, "siluNorm has unit norm", n2 - 1);
  tr_f_row<double>(TrellisF::LAYER_NORM_SILU, m, x.data(), 1.0, eps, s.data());
  double mu = 0, var = 0;
  for (double v : s) mu += v;
  mu /= m;
  for (double v : s) var += (v - mu) * (v - mu);
  var /= m;
  bool order = true;  // a monotone map of SiLU(x)
  const double s0 = x[0] / (1 + std::exp(-x[0]));
  for (int r = 1; r < m; ++r) order &= (x[r] / (1 + std::exp(-x[r])) > s0) == (s[r] > s[0]);
  check(std::fabs(mu) < 1e-12 && std::fabs(var - 1) < 1e-5 && order, "layerNormSilu is standardised SiLU",
        std::fabs(var - 1));
  tr_f_row<double>(TrellisF::IDENTITY, m, x.data(), 0.5, eps, s.data());
  check(s[7] == 0.5 * x[7], "identity scales", 0);
  // in place, float vs double
  for (int fi = 0; fi < 4; ++fi) {
    std::vector<float> xf(m);
    for (int r = 0; r < m; ++r) xf[r] = (float)x[r];
    tr_f_row<double>((TrellisF)fi, m, x.data(), 1.7, eps, s.data());
    tr_f_row<float>((TrellisF)fi, m, xf.data(), 1.7f, (float)eps, xf.data());
    double w = 0;
    for (int r = 0; r < m; ++r) w = std::max(w, std::fabs(xf[r] - s[r]) / std::max(1.0, std::fabs(s[r])));
    check(w < 1e-5, "f " + std::to_string(fi) + ": float (in place) vs double", w);
  }
}

int main() {
  test_phi_grad();
  test_f();
  std::printf("trellis_hd: %d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
