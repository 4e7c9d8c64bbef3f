// rope: rotary position embedding, half-split pairing (Llama / NeoX "rotate_half").
//   x [B, T, H, D], positions i32 [T] or [B, T]  ->  y [B, T, H, D]
//   for i < dims/2, a = pos * theta^(-2i/dims):
//     y[i]          = x[i] cos a - x[i + dims/2] sin a
//     y[i + dims/2] = x[i + dims/2] cos a + x[i] sin a
//   dims..D-1 pass through. Positions are a tensor, so a compiled plan serves
//   every decode step.
#include "../op_defs.h"
#include "engram/params_model.h"

namespace engram {

void parse_ROPE(OpCall& c, const Attrs& a) {
  RopeParams p;
  p.theta = a.get_float("rope", "theta", 10000.0);
  ENGRAM_CHECK(std::isfinite(p.theta) && p.theta > 1.0, ARG, "rope: theta must be > 1, got ", p.theta);
  p.dims = a.get_int("rope", "dims", 0);
  ENGRAM_CHECK(p.dims >= 0 && p.dims % 2 == 0, ARG, "rope: dims must be even and >= 0, got ", p.dims);
  c.params = p;
}

void infer_ROPE(const OpCall& c, std::vector<TensorSpec>& outs) {
  const Tensor &x = c.in[0], &pos = c.in[1];
  require_float("rope", "x", x);
  require_rank("rope", "x [B, T, H, D]", x, 4);
  ENGRAM_CHECK(pos.dtype() == DType::I32, DTYPE, "rope: positions must be i32, got ", dtype_name(pos.dtype()));
  const int64_t B = x.size(0), T = x.size(1), D = x.size(3);
  ENGRAM_CHECK((pos.ndim() == 1 && pos.size(0) == T) || (pos.ndim() == 2 && pos.size(0) == B && pos.size(1) == T),
               SHAPE, "rope: positions must be [", T, "] or [", B, ", ", T, "], got ", pos.shape().str());
  int64_t dims = c.p<RopeParams>().dims;
  ENGRAM_CHECK(dims <= D, SHAPE, "rope: dims ", dims, " exceeds the head dim ", D);
  ENGRAM_CHECK(dims > 0 || D % 2 == 0, SHAPE, "rope: head dim ", D, " is odd; pass an even dims");
  outs.push_back({x.shape(), x.dtype()});
}

}  // namespace engram
