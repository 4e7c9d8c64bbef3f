// Parity cases sized to reach the CUDA kernels' other code paths (they run
// on the CPU too, and on the GPU when one is present): block-per-lane
// kernels (lanes of >= 1024 elements), thread-per-lane reductions over a
// leading axis, the 128x128 GEMM tiles (enough blocks for a large GPU), and
// attention head dims that select the 16- and 8-query tiles.
#include "../parity.h"

namespace engram {
namespace parity {

ENGRAM_PARITY_CASES(cuda_paths) {
  uint64_t seed = 700;
  Attrs none;
  for (DType dt : {DType::F32, DType::BF16}) {
    const std::string d = dtype_name(dt);
    Attrs last;
    last.set_number("axis", -1);
    cases.push_back({"long lanes softmax " + d, OpId::SOFTMAX, {rnd(Dims{3, 1500}, seed++, dt, 3.0f)}, last, tol_for(dt)});
    cases.push_back({"long lanes rmsNorm " + d, OpId::RMS_NORM, {rnd(Dims{2, 1500}, seed++, dt), rnd(Dims{1500}, seed++)},
                     none, tol_for(dt)});
    cases.push_back({"long lanes layerNorm " + d, OpId::LAYER_NORM,
                     {strided(Dims{2, 1100}, seed++, dt), rnd(Dims{1100}, seed++), rnd(Dims{1100}, seed++, DType::BF16)},
                     none, tol_for(dt) * 10});
    for (OpId op : {OpId::SUM, OpId::MAX})
      cases.push_back({std::string("long lanes ") + op_name(op) + " " + d, op, {rnd(Dims{3, 2000}, seed++, dt)}, last,
                       tol_for(dt) * 10});
    for (OpId op : {OpId::CUMSUM, OpId::LOGCUMSUMEXP}) {
      Attrs ex;
      ex.set_bool("exclusive", true);
      ex.set_bool("reverse", true);
      cases.push_back({std::string("long lanes ") + op_name(op) + " exclusive reverse " + d, op,
                       {rnd(Dims{2, 1300}, seed++, dt)}, ex, tol_for(dt) * 10});
    }
    Attrs ax0;
    ax0.set_number("axis", 0);
    for (OpId op : {OpId::SUM, OpId::MEAN, OpId::MAX})
      cases.push_back({std::string("leading-axis ") + op_name(op) + " " + d, op, {rnd(Dims{300, 260}, seed++, dt)}, ax0,
                       tol_for(dt) * 10});
    cases.push_back({"batched 140 x 130x40x130 (big tiles) " + d, OpId::MATMUL,
                     {rnd(Dims{140, 130, 40}, seed++, dt), rnd(Dims{140, 40, 130}, seed++, dt)}, none,
                     dt == DType::F32 ? 1e-9 : tol_for(dt)});
  }
  for (int64_t D : {128L, 256L}) {
    Attrs causal;
    causal.set_bool("causal", true);
    cases.push_back({"sdpa causal D" + std::to_string(D), OpId::SDPA,
                     {rnd(Dims{1, 40, 2, D}, seed++), rnd(Dims{1, 45, 1, D}, seed++), rnd(Dims{1, 45, 1, D}, seed++)},
                     causal, 1e-10});
  }
}

}  // namespace parity
}  // namespace engram
