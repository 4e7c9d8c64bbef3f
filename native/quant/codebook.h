// Lloyd-Max scalar codebooks for TurboQuant (algorithms.md §11.1(a), Eq. 4):
// the optimal b-bit quantizer of one coordinate of a uniformly random unit
// vector in R^d, whose density is f_X(x) = Γ(d/2)/(√π Γ((d-1)/2)) (1-x²)^((d-3)/2),
// or of its Gaussian limit N(0, 1/d). Solved at first use for any (d, b) and
// cached for the life of the process.
#pragma once
#include <memory>
#include <vector>

namespace engram {
namespace quant {

struct Codebook {
  int dim = 0;                     // d (0 for the Gaussian limit in z units)
  int bits = 0;
  bool gaussian = false;
  std::vector<double> centroids;   // 2^b, increasing, in x units (unit-vector coordinates)
  std::vector<double> thresholds;  // 2^b - 1 midpoints
  double cost = 0;                 // d * C(f_X, b): MSE of a unit vector (sum over coordinates)
  int iterations = 0;
};

// Lloyd-Max on the exact Beta density for dimension d (2 <= d), bits 1..8.
// For bits = 0 the single centroid is 0 (cost 1).
std::shared_ptr<const Codebook> beta_codebook(int dim, int bits);
// Gaussian limit: centroids and thresholds in units of 1/sqrt(d) (z units).
std::shared_ptr<const Codebook> gaussian_codebook(int bits);

}  // namespace quant
}  // namespace engram
