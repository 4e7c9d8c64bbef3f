// Random orthogonal maps for TurboQuant and QJL, deterministic in the seed
// (engram/philox.h): a dense Haar rotation (Householder QR of an i.i.d.
// N(0,1) matrix with the sign fix), or a randomised Hadamard transform
// (three rounds of random signs + normalised Walsh-Hadamard on a power-of-two
// block; for other d the blocks [0, P) and [d-P, d) alternate, P the largest
// power of two <= d, so every coordinate is mixed and the map stays orthogonal).
// Also the Gaussian / block-orthogonal sketch matrices of QJL.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace engram {
namespace quant {

uint64_t mix_seed(uint64_t seed, uint64_t tag);  // splitmix64 of seed ^ tag

class Rotation {
 public:
  static std::shared_ptr<const Rotation> dense(int dim, uint64_t seed);
  static std::shared_ptr<const Rotation> hadamard(int dim, uint64_t seed);

  int dim() const { return d_; }
  bool is_hadamard() const { return hadamard_; }
  // y = Π x and x = Πᵀ y for one vector (x and y must not alias).
  void forward(const float* x, float* y) const;
  void inverse(const float* y, float* x) const;
  // Rows: Y[i] = Π X[i] (n rows, leading dims ldx/ldy). Threaded when large.
  void forward_rows(const float* X, int64_t n, int64_t ldx, float* Y, int64_t ldy) const;
  void inverse_rows(const float* Y, int64_t n, int64_t ldy, float* X, int64_t ldx) const;
  // Π as a dense row-major d×d matrix (built for Hadamard too).
  const std::vector<float>& matrix() const { return mat_; }

 private:
  int d_ = 0;
  bool hadamard_ = false;
  int block_ = 0;                     // Hadamard block length P
  std::vector<float> signs_;          // 3 rounds × d of ±1
  std::vector<float> mat_;            // d×d
  void fwht_rounds(float* v, bool inverse) const;
};

// rows×cols matrix, row-major, i.i.d. N(0,1) (Philox, element i = index i).
std::vector<float> gaussian_matrix(int rows, int cols, uint64_t seed);
// rows×cols matrix whose cols×cols blocks of rows are Haar-orthogonal, scaled
// by √cols (the QJL reference code's orthogonalised projection).
std::vector<float> orthogonal_sketch(int rows, int cols, uint64_t seed);
// E|u_1| for u uniform on the unit sphere of R^d: Γ(d/2) / (√π Γ((d+1)/2)).
double sphere_abs_mean(int d);

}  // namespace quant
}  // namespace engram
