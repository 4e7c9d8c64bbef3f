// Parity cases for the model-building ops: concat (every axis, strided and
// integer inputs), causalConv1d (K = 1..4, bias, carried state, silu), rope
// (partial dims, [T] and [B, T] positions, large positions) and sdpaWindow
// (windows smaller than, equal to and larger than the sequence, GQA, decode).
#include "../parity.h"

namespace engram {
namespace parity {

namespace {
const DType kFloats[] = {DType::F32, DType::F16, DType::BF16};
std::string dn(DType dt) { return dtype_name(dt); }
}  // namespace

ENGRAM_PARITY_CASES(concat) {
  uint64_t seed = 700;
  for (DType dt : kFloats)
    for (int axis : {0, 1, 2, -1}) {
      Attrs a;
      a.set_number("axis", axis);
      int ax = axis < 0 ? 2 : axis;
      Dims s1{3, 7, 5}, s2{3, 7, 5}, s3{3, 7, 5};
      s1[ax] = 1;
      s2[ax] = 63;
      s3[ax] = 2;
      cases.push_back({"concat " + dn(dt) + " axis" + std::to_string(axis), OpId::CONCAT,
                       {rnd(s1, seed++, dt), strided(s2, seed++, dt), rnd(s3, seed++, dt)}, a, 0.0});
    }
  Attrs a1;
  a1.set_number("axis", 1);
  cases.push_back({"concat i32 axis1 with empty part", OpId::CONCAT,
                   {ints(Dims{4, 0}, 0, 9, seed++), ints(Dims{4, 129}, -50, 50, seed++)}, a1, 0.0});
  cases.push_back({"concat permuted 4d", OpId::CONCAT,
                   {rnd(Dims{2, 3, 7, 16}, seed++).permute({0, 2, 1, 3}), rnd(Dims{2, 5, 3, 16}, seed++)}, a1, 0.0});
  Attrs a0;
  cases.push_back({"concat single input", OpId::CONCAT, {strided(Dims{7, 63}, seed++)}, a0, 0.0});
}

ENGRAM_PARITY_CASES(causal_conv1d) {
  uint64_t seed = 800;
  for (DType dt : kFloats)
    for (int64_t K : {1L, 2L, 4L})
      for (int64_t T : {1L, 63L, 129L}) {
        Attrs a;
        cases.push_back({"causalConv1d " + dn(dt) + " K" + std::to_string(K) + " T" + std::to_string(T),
                         OpId::CAUSAL_CONV1D, {rnd(Dims{2, T, 60}, seed++, dt), rnd(Dims{60, K}, seed++)}, a,
                         tol_for(dt) * 10});
      }
  for (DType dt : kFloats) {
    Attrs silu;
    silu.set_string("activation", "silu");
    cases.push_back({"causalConv1d bias+state+silu " + dn(dt), OpId::CAUSAL_CONV1D,
                     {rnd(Dims{3, 63, 16}, seed++, dt), rnd(Dims{16, 4}, seed++, dt), rnd(Dims{16}, seed++, dt),
                      rnd(Dims{3, 3, 16}, seed++, dt)},
                     silu, tol_for(dt) * 10});
  }
  Attrs none;
  cases.push_back({"causalConv1d strided x/weight, state, T1", OpId::CAUSAL_CONV1D,
                   {strided(Dims{2, 1, 33}, seed++), strided(Dims{33, 3}, seed++), Tensor(), rnd(Dims{2, 2, 33}, seed++)},
                   none, 1e-10});
  cases.push_back({"causalConv1d strided state", OpId::CAUSAL_CONV1D,
                   {rnd(Dims{1, 7, 63}, seed++), rnd(Dims{63, 4}, seed++), rnd(Dims{63}, seed++),
                    strided(Dims{1, 3, 63}, seed++)},
                   none, 1e-10});
}

ENGRAM_PARITY_CASES(rope) {
  uint64_t seed = 900;
  for (DType dt : kFloats)
    for (int64_t D : {16L, 60L, 64L, 128L}) {
      Attrs a;
      cases.push_back({"rope " + dn(dt) + " D" + std::to_string(D), OpId::ROPE,
                       {rnd(Dims{2, 63, 3, D}, seed++, dt), ints(Dims{63}, 0, 70000, seed++)}, a, tol_for(dt)});
    }
  Attrs partial;
  partial.set_number("dims", 32);
  partial.set_number("theta", 500000);
  cases.push_back({"rope partial dims, [B,T] positions", OpId::ROPE,
                   {rnd(Dims{2, 7, 1, 60}, seed++), ints(Dims{2, 7}, 0, 1 << 20, seed++)}, partial, 1e-10});
  Attrs none;
  cases.push_back({"rope strided x", OpId::ROPE,
                   {rnd(Dims{1, 4, 129, 64}, seed++).permute({0, 2, 1, 3}), ints(Dims{129}, 0, 500, seed++)}, none,
                   1e-10});
}

ENGRAM_PARITY_CASES(sdpa_window) {
  uint64_t seed = 1000;
  for (DType dt : kFloats)
    for (int64_t W : {1L, 16L, 100L, 1000L})
      for (int64_t T : {1L, 63L, 300L}) {
        const int64_t S = T == 1 ? 129 : T + 5;
        Attrs a;
        a.set_number("window", (double)W);
        cases.push_back({"sdpaWindow " + dn(dt) + " W" + std::to_string(W) + " T" + std::to_string(T), OpId::SDPA_WINDOW,
                         {rnd(Dims{1, T, 4, 60}, seed++, dt), rnd(Dims{1, S, 2, 60}, seed++, dt),
                          rnd(Dims{1, S, 2, 33}, seed++, dt)},
                         a, dt == DType::F32 ? 1e-10 : 1e-8});
      }
  Attrs a;
  a.set_number("window", 7);
  a.set_number("scale", 0.3);
  cases.push_back({"sdpaWindow strided q, B2 H3", OpId::SDPA_WINDOW,
                   {rnd(Dims{2, 3, 129, 16}, seed++).permute({0, 2, 1, 3}), rnd(Dims{2, 129, 3, 16}, seed++),
                    rnd(Dims{2, 129, 3, 16}, seed++)},
                   a, 1e-10});
}

}  // namespace parity
}  // namespace engram
