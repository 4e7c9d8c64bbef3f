// Internal to native/quant: constructors of the concrete quantizers and the
// channel-group plumbing shared by TurboQuant and QJL.
#pragma once
#include <memory>
#include <vector>

#include "quantizer.h"

namespace engram {
namespace quant {

std::shared_ptr<const Quantizer> make_plain(const QuantConfig& c, int dim);
std::shared_ptr<const Quantizer> make_turbo(const QuantConfig& c);
std::shared_ptr<const Quantizer> make_qjl(const QuantConfig& c);
std::shared_ptr<const Quantizer> make_kivi(const QuantConfig& c, int dim);
std::shared_ptr<const Quantizer> make_int8(const QuantConfig& c, int dim);

// Channel order per head: [group 0 channels | group 1 channels], where group
// 0 is the outlier set (ascending) and group 1 its complement (ascending).
// Without outliers there is one group and the order is the identity.
struct ChannelGroups {
  int dim = 0, heads = 1, ngroups = 1;
  int gdim[2] = {0, 0}, goff[2] = {0, 0};
  bool identity = true;
  std::vector<int32_t> order;  // heads × dim
  void build(const QuantConfig& c);
  const int32_t* head_order(int h) const { return order.data() + (size_t)(heads == 1 ? 0 : h) * dim; }
  // dst[i][c] = x[i][order[c]] - mu[order[c]] (mu may be null) for n rows.
  void gather(const float* x, int64_t ldx, int64_t n, int head, float* dst, const float* mu = nullptr) const;
};

// Centering helpers shared by TurboQuant and QJL (cfg.center: heads × dim).
inline const float* center_of(const QuantConfig& c, int head) {
  return c.center.empty() ? nullptr : c.center.data() + (size_t)(c.heads > 1 ? head : 0) * c.dim;
}

// Codebook cells of n values packed as a b-bit stream at out: the same codes
// as cell_index + put_code (quant_hd.h; test_quant checks), by a branchless
// binary search over the thresholds padded to 2^b entries with +inf, every
// byte of the stream written whole. With lut, y[k] becomes lut[code].
void pack_cells(float* y, int n, const float* thr_pad, int b, const float* lut, uint8_t* out);      // AVX2 when available
void pack_cells_ref(float* y, int n, const float* thr_pad, int b, const float* lut, uint8_t* out);  // scalar

// Scalar bytes of a stored norm/scale.
inline int scalar_bytes(const QuantConfig& c) { return c.f32_scalars ? 4 : 2; }

}  // namespace quant
}  // namespace engram
