// Rotations and sketch matrices (see rotation.h).
#include "rotation.h"

#include <cmath>
#include <cstring>

#include "../cpu/gemm.h"
#include "engram/error.h"
#include "engram/philox.h"
#include "engram/threadpool.h"

namespace engram {
namespace quant {

uint64_t mix_seed(uint64_t seed, uint64_t tag) {
  uint64_t z = seed ^ (tag * 0x9E3779B97F4A7C15ull) ^ 0xD1B54A32D192ED03ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

namespace {

// Rows of a (n×n, row-major, double) orthonormalised in place: modified
// Gram-Schmidt, two passes (accurate to ~1e-15 for Gaussian matrices). The
// diagonal of the implied R is positive, so for Gaussian input the result is
// Haar-distributed.
void orthonormalise_rows(std::vector<double>& a, int n) {
  for (int i = 0; i < n; ++i) {
    double* r = a.data() + (size_t)i * n;
    for (int pass = 0; pass < 2; ++pass) {
      for (int j = 0; j < i; ++j) {
        const double* q = a.data() + (size_t)j * n;
        double dot = 0;
        for (int k = 0; k < n; ++k) dot += r[k] * q[k];
        for (int k = 0; k < n; ++k) r[k] -= dot * q[k];
      }
    }
    double nrm = 0;
    for (int k = 0; k < n; ++k) nrm += r[k] * r[k];
    nrm = std::sqrt(nrm);
    ENGRAM_CHECK(nrm > 1e-300, INTERNAL, "rotation: degenerate random matrix");
    for (int k = 0; k < n; ++k) r[k] /= nrm;
  }
}

std::vector<double> haar(int n, uint64_t seed) {
  std::vector<double> a((size_t)n * n);
  for (size_t i = 0; i < a.size(); ++i) a[i] = philox_normal(seed, i);
  orthonormalise_rows(a, n);
  return a;
}

void fwht(float* v, int n) {
  for (int h = 1; h < n; h <<= 1)
    for (int i = 0; i < n; i += h << 1)
      for (int j = i; j < i + h; ++j) {
        float a = v[j], b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
      }
  const float s = 1.0f / std::sqrt((float)n);
  for (int i = 0; i < n; ++i) v[i] *= s;
}

}  // namespace

std::shared_ptr<const Rotation> Rotation::dense(int d, uint64_t seed) {
  ENGRAM_CHECK(d >= 1 && d <= 1024, ARG, "dense rotation: dimension must be in [1, 1024] (use 'hadamard' beyond), got ",
               d);
  auto r = std::make_shared<Rotation>();
  r->d_ = d;
  std::vector<double> q = haar(d, mix_seed(seed, 0x524f54));
  r->mat_.assign(q.begin(), q.end());
  return r;
}

std::shared_ptr<const Rotation> Rotation::hadamard(int d, uint64_t seed) {
  ENGRAM_CHECK(d >= 1 && d <= 65536, ARG, "hadamard rotation: dimension must be in [1, 65536], got ", d);
  auto r = std::make_shared<Rotation>();
  r->d_ = d;
  r->hadamard_ = true;
  int p = 1;
  while (p * 2 <= d) p *= 2;
  r->block_ = p;
  r->signs_.resize((size_t)3 * d);
  const uint64_t s = mix_seed(seed, 0x484144);
  for (size_t i = 0; i < r->signs_.size(); ++i) r->signs_[i] = philox_uniform(s, i) < 0.5f ? -1.0f : 1.0f;
  if (d <= 4096) {  // the dense form (CUDA finalisation, tests) for sizes where it is cheap
    r->mat_.assign((size_t)d * d, 0.0f);
    std::vector<float> e((size_t)d), col((size_t)d);
    for (int j = 0; j < d; ++j) {
      std::fill(e.begin(), e.end(), 0.0f);
      e[(size_t)j] = 1.0f;
      r->forward(e.data(), col.data());
      for (int i = 0; i < d; ++i) r->mat_[(size_t)i * d + j] = col[(size_t)i];
    }
  }
  return r;
}

void Rotation::fwht_rounds(float* v, bool inverse) const {
  const int d = d_, p = block_;
  for (int step = 0; step < 3; ++step) {
    const int r = inverse ? 2 - step : step;
    float* blk = v + (r % 2 == 0 ? 0 : d - p);
    const float* sg = signs_.data() + (size_t)r * d;
    if (!inverse) {
      for (int i = 0; i < d; ++i) v[i] *= sg[i];
      fwht(blk, p);
    } else {
      fwht(blk, p);  // the normalised transform is its own inverse
      for (int i = 0; i < d; ++i) v[i] *= sg[i];
    }
  }
}

void Rotation::forward(const float* x, float* y) const {
  if (hadamard_) {
    std::memcpy(y, x, sizeof(float) * (size_t)d_);
    fwht_rounds(y, false);
    return;
  }
  for (int i = 0; i < d_; ++i) {
    const float* r = mat_.data() + (size_t)i * d_;
    double s = 0;
    for (int k = 0; k < d_; ++k) s += (double)r[k] * x[k];
    y[i] = (float)s;
  }
}

void Rotation::inverse(const float* y, float* x) const {
  if (hadamard_) {
    std::memcpy(x, y, sizeof(float) * (size_t)d_);
    fwht_rounds(x, true);
    return;
  }
  std::vector<double> acc((size_t)d_, 0.0);
  for (int i = 0; i < d_; ++i) {
    const float* r = mat_.data() + (size_t)i * d_;
    for (int k = 0; k < d_; ++k) acc[(size_t)k] += (double)r[k] * y[i];
  }
  for (int k = 0; k < d_; ++k) x[k] = (float)acc[(size_t)k];
}

void Rotation::forward_rows(const float* X, int64_t n, int64_t ldx, float* Y, int64_t ldy) const {
  if (n <= 0) return;
  if (!hadamard_) {
    cpu::sgemm(false, true, n, d_, d_, 1.0f, X, ldx, mat_.data(), d_, 0.0f, Y, ldy);
    return;
  }
  parallel_for(n, 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      std::memcpy(Y + i * ldy, X + i * ldx, sizeof(float) * (size_t)d_);
      fwht_rounds(Y + i * ldy, false);
    }
  });
}

void Rotation::inverse_rows(const float* Y, int64_t n, int64_t ldy, float* X, int64_t ldx) const {
  if (n <= 0) return;
  if (!hadamard_) {
    cpu::sgemm(false, false, n, d_, d_, 1.0f, Y, ldy, mat_.data(), d_, 0.0f, X, ldx);
    return;
  }
  parallel_for(n, 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      std::memcpy(X + i * ldx, Y + i * ldy, sizeof(float) * (size_t)d_);
      fwht_rounds(X + i * ldx, true);
    }
  });
}

std::vector<float> gaussian_matrix(int rows, int cols, uint64_t seed) {
  std::vector<float> m((size_t)rows * cols);
  for (size_t i = 0; i < m.size(); ++i) m[i] = philox_normal(seed, i);
  return m;
}

std::vector<float> orthogonal_sketch(int rows, int cols, uint64_t seed) {
  std::vector<float> m((size_t)rows * cols);
  const double sc = std::sqrt((double)cols);
  for (int r0 = 0, blk = 0; r0 < rows; r0 += cols, ++blk) {
    std::vector<double> q = haar(cols, mix_seed(seed, 0x4f5254ull + (uint64_t)blk));
    const int nr = std::min(cols, rows - r0);
    for (int i = 0; i < nr; ++i)
      for (int k = 0; k < cols; ++k) m[(size_t)(r0 + i) * cols + k] = (float)(q[(size_t)i * cols + k] * sc);
  }
  return m;
}

double sphere_abs_mean(int d) { return std::exp(std::lgamma(d / 2.0) - std::lgamma((d + 1) / 2.0)) / std::sqrt(M_PI); }

}  // namespace quant
}  // namespace engram
