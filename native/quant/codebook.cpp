// Lloyd-Max solver (see codebook.h). Cells are bounded by midpoints; each
// centroid is the conditional mean of its cell, iterated to convergence.
// Gaussian limit: closed-form cell moments with Φ/φ. Beta density: moments
// integrated in θ (x = sin θ makes f_X(x) dx = C_d cos^(d-2)θ dθ, smooth for
// every d >= 2) by composite 8-point Gauss-Legendre, starting from the
// Gaussian solution scaled by 1/√d.
#include "codebook.h"

#include <cmath>
#include <map>
#include <mutex>

#include "engram/error.h"

namespace engram {
namespace quant {

namespace {

const double kGL8x[8] = {-0.9602898564975363, -0.7966664774136267, -0.5255324099163290, -0.1834346424956498,
                         0.1834346424956498,  0.5255324099163290,  0.7966664774136267,  0.9602898564975363};
const double kGL8w[8] = {0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.3626837833783620,
                         0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763};

constexpr int kMaxIter = 200000;

double phi(double z) { return std::isinf(z) ? 0.0 : std::exp(-0.5 * z * z) * 0.3989422804014327; }
double Phi(double z) { return 0.5 * std::erfc(-z * 0.7071067811865476); }

// Symmetrise (c_k = -c_{n-1-k}) and derive midpoint thresholds.
void finish(Codebook& cb) {
  const int n = (int)cb.centroids.size();
  for (int k = 0; k < n / 2; ++k) {
    double m = 0.5 * (cb.centroids[(size_t)(n - 1 - k)] - cb.centroids[(size_t)k]);
    cb.centroids[(size_t)k] = -m;
    cb.centroids[(size_t)(n - 1 - k)] = m;
  }
  if (n % 2) cb.centroids[(size_t)(n / 2)] = 0.0;
  cb.thresholds.resize((size_t)(n - 1));
  for (int k = 0; k + 1 < n; ++k) cb.thresholds[(size_t)k] = 0.5 * (cb.centroids[(size_t)k] + cb.centroids[(size_t)k + 1]);
  if (n > 1 && (n - 1) % 2 == 1) cb.thresholds[(size_t)((n - 1) / 2)] = 0.0;
}

Codebook solve_gaussian(int bits) {
  Codebook cb;
  cb.bits = bits;
  cb.gaussian = true;
  const int n = 1 << bits;
  cb.centroids.resize((size_t)n);
  for (int k = 0; k < n; ++k) cb.centroids[(size_t)k] = (k - (n - 1) / 2.0) * (5.0 / n);
  std::vector<double> t((size_t)n + 1);
  double cost = 0;
  for (int it = 0; it < kMaxIter; ++it) {
    t[0] = -INFINITY;
    t[(size_t)n] = INFINITY;
    for (int k = 1; k < n; ++k) t[(size_t)k] = 0.5 * (cb.centroids[(size_t)k - 1] + cb.centroids[(size_t)k]);
    double delta = 0;
    cost = 0;
    for (int k = 0; k < n; ++k) {
      const double a = t[(size_t)k], b = t[(size_t)k + 1];
      const double m0 = Phi(b) - Phi(a);
      const double m1 = phi(a) - phi(b);
      const double m2 = m0 + (std::isinf(a) ? 0.0 : a * phi(a)) - (std::isinf(b) ? 0.0 : b * phi(b));
      const double c = m1 / m0;
      delta = std::fmax(delta, std::fabs(c - cb.centroids[(size_t)k]));
      cb.centroids[(size_t)k] = c;
      cost += m2 - m1 * m1 / m0;
    }
    cb.iterations = it + 1;
    if (delta < 1e-13) break;
  }
  cb.cost = cost;
  finish(cb);
  return cb;
}

// Moments ∫ x^j f_X(x) dx (j = 0, 1, 2) over θ ∈ [ta, tb].
struct BetaMoments {
  int d;
  double logc;
  void cell(double ta, double tb, double m[3]) const {
    m[0] = m[1] = m[2] = 0;
    if (!(tb > ta)) return;
    const int K = 24;
    const double h = (tb - ta) / K;
    for (int s = 0; s < K; ++s) {
      const double mid = ta + (s + 0.5) * h;
      for (int i = 0; i < 8; ++i) {
        const double th = mid + 0.5 * h * kGL8x[i];
        const double c = std::cos(th);
        const double w = (d == 2 ? std::exp(logc) : std::exp(logc + (d - 2) * std::log(c))) * kGL8w[i] * 0.5 * h;
        const double x = std::sin(th);
        m[0] += w;
        m[1] += w * x;
        m[2] += w * x * x;
      }
    }
  }
};

Codebook solve_beta(int dim, int bits) {
  Codebook cb;
  cb.dim = dim;
  cb.bits = bits;
  const int n = 1 << bits;
  const Codebook g = solve_gaussian(bits);
  const double sd = std::sqrt((double)dim);
  cb.centroids.resize((size_t)n);
  for (int k = 0; k < n; ++k) cb.centroids[(size_t)k] = std::fmax(-0.999, std::fmin(0.999, g.centroids[(size_t)k] / sd));
  BetaMoments bm{dim, std::lgamma(dim / 2.0) - 0.5 * std::log(M_PI) - std::lgamma((dim - 1) / 2.0)};
  // Beyond |z| = 16 the density is below e^-120 of its peak: integrate inside.
  const double thmax = std::asin(std::fmin(1.0, 16.0 / sd));
  std::vector<double> th((size_t)n + 1);
  double cost = 0;
  for (int it = 0; it < kMaxIter; ++it) {
    th[0] = -thmax;
    th[(size_t)n] = thmax;
    for (int k = 1; k < n; ++k) {
      double x = 0.5 * (cb.centroids[(size_t)k - 1] + cb.centroids[(size_t)k]);
      th[(size_t)k] = std::fmax(-thmax, std::fmin(thmax, std::asin(x)));
    }
    double delta = 0;
    cost = 0;
    for (int k = 0; k < n; ++k) {
      double m[3];
      bm.cell(th[(size_t)k], th[(size_t)k + 1], m);
      const double c = m[0] > 0 ? m[1] / m[0] : cb.centroids[(size_t)k];
      delta = std::fmax(delta, std::fabs(c - cb.centroids[(size_t)k]));
      cb.centroids[(size_t)k] = c;
      cost += m[0] > 0 ? m[2] - m[1] * m[1] / m[0] : 0.0;
    }
    cb.iterations = it + 1;
    if (delta * sd < 1e-12) break;
  }
  cb.cost = cost * dim;
  finish(cb);
  return cb;
}

std::mutex g_mu;
std::map<std::pair<int, int>, std::shared_ptr<const Codebook>> g_cache;

}  // namespace

std::shared_ptr<const Codebook> beta_codebook(int dim, int bits) {
  ENGRAM_CHECK(dim >= 2 && dim <= (1 << 20), ARG, "codebook: dimension must be in [2, 2^20], got ", dim);
  ENGRAM_CHECK(bits >= 0 && bits <= 8, ARG, "codebook: bits must be in [0, 8], got ", bits);
  std::lock_guard<std::mutex> lock(g_mu);
  auto key = std::make_pair(dim, bits);
  auto it = g_cache.find(key);
  if (it != g_cache.end()) return it->second;
  std::shared_ptr<Codebook> cb;
  if (bits == 0) {
    cb = std::make_shared<Codebook>();
    cb->dim = dim;
    cb->centroids = {0.0};
    cb->cost = 1.0;
  } else {
    cb = std::make_shared<Codebook>(solve_beta(dim, bits));
  }
  g_cache[key] = cb;
  return cb;
}

std::shared_ptr<const Codebook> gaussian_codebook(int bits) {
  ENGRAM_CHECK(bits >= 1 && bits <= 8, ARG, "codebook: bits must be in [1, 8], got ", bits);
  std::lock_guard<std::mutex> lock(g_mu);
  auto key = std::make_pair(0, bits);
  auto it = g_cache.find(key);
  if (it != g_cache.end()) return it->second;
  auto cb = std::make_shared<Codebook>(solve_gaussian(bits));
  g_cache[key] = cb;
  return cb;
}

}  // namespace quant
}  // namespace engram
