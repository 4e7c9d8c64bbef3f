// Parity cases sized for the SIMD fast paths (native/cpu/vec.h): rows longer
// than the f16/bf16 conversion chunk (2048) and than a parallel segment,
// masked tails, inputs holding inf / NaN / denormals, column reductions over a
// non-last axis, long casts, and tiled copies of transposed views. test/isa.test.ts reruns every group under
// ENGRAM_ISA=avx2 and =generic.
#include <cmath>

#include "../parity.h"

namespace engram {
namespace parity {

namespace {
const DType kFloats[] = {DType::F32, DType::F16, DType::BF16};

// rnd() with a sprinkling of specials (f32 only: f16/bf16 get the cast of it).
Tensor with_specials(const Dims& shape, uint64_t seed, DType dt, float scale) {
  Tensor f = rnd(shape, seed, DType::F32, scale);
  float* p = f.data<float>();
  const float sp[] = {INFINITY, -INFINITY, NAN, 0.0f, -0.0f, 1e-40f, -1e-40f, 1e-30f, 88.0f, -95.0f, 30.0f, -30.0f};
  for (int64_t i = 0; i < f.numel(); i += 97) p[i] = sp[(i / 97) % 12];
  if (dt == DType::F32) return f;
  Attrs a;
  a.set_string("to", dtype_name(dt));
  return call_op1(OpId::CAST, {f}, a);
}
}  // namespace

ENGRAM_PARITY_CASES(simd) {
  uint64_t seed = 700;
  const OpId un[] = {OpId::EXP,  OpId::LOG,  OpId::SIGMOID, OpId::SILU, OpId::GELU, OpId::TANH,
                     OpId::RELU, OpId::SQRT, OpId::ABS,     OpId::NEG,  OpId::SOFTPLUS};
  for (DType dt : kFloats) {
    const std::string d = dtype_name(dt);
    for (OpId op : un) {
      Attrs none;
      cases.push_back({std::string(op_name(op)) + " " + d + " long+specials", op,
                       {with_specials(Dims{2, 2600}, seed++, dt, 6.0f)}, none, tol_for(dt) + 1e-12});
    }
    Attrs ap;
    ap.set_bool("approximate", true);
    cases.push_back({"gelu tanh " + d + " long+specials", OpId::GELU, {with_specials(Dims{5203}, seed++, dt, 6.0f)},
                     ap, tol_for(dt) + 1e-12});
    Attrs sc;
    sc.set_number("alpha", 1.5);
    sc.set_number("beta", -0.5);
    cases.push_back({"scale " + d + " 40000", OpId::SCALE, {rnd(Dims{40000}, seed++, dt)}, sc, tol_for(dt)});

    for (OpId op : {OpId::ADD, OpId::SUB, OpId::MUL, OpId::DIV}) {
      Attrs none;
      const float shift = op == OpId::DIV ? 3.0f : 0.0f;
      cases.push_back({std::string(op_name(op)) + " " + d + " row broadcast", op,
                       {rnd(Dims{3, 2, 2500}, seed++, dt), rnd(Dims{2500}, seed++, dt, 1.0f, shift)}, none,
                       tol_for(dt)});
      cases.push_back({std::string(op_name(op)) + " " + d + " scalar broadcast", op,
                       {rnd(Dims{4, 1}, seed++, dt), rnd(Dims{4, 20000}, seed++, dt, 1.0f, shift)}, none,
                       tol_for(dt)});
    }
    Attrs none;
    cases.push_back({"add " + d + " flat 40000", OpId::ADD, {rnd(Dims{40000}, seed++, dt), rnd(Dims{40000}, seed++, dt)},
                     none, tol_for(dt)});

    Attrs last;
    last.set_number("axis", -1);
    cases.push_back({"softmax " + d + " D3001", OpId::SOFTMAX, {rnd(Dims{3, 3001}, seed++, dt, 5.0f)}, last,
                     tol_for(dt)});
    cases.push_back({"softmax " + d + " with -inf/NaN lanes", OpId::SOFTMAX,
                     {with_specials(Dims{9, 97}, seed++, dt, 5.0f)}, last, tol_for(dt)});
    Attrs eps;
    cases.push_back({"rmsNorm " + d + " D2500", OpId::RMS_NORM, {rnd(Dims{3, 2500}, seed++, dt), rnd(Dims{2500}, seed++)},
                     eps, tol_for(dt)});
    cases.push_back({"layerNorm " + d + " D2500 offset", OpId::LAYER_NORM,
                     {rnd(Dims{2, 2500}, seed++, dt, 1.0f, 30.0f), rnd(Dims{2500}, seed++), rnd(Dims{2500}, seed++)},
                     eps, tol_for(dt) * 10});

    for (OpId op : {OpId::SUM, OpId::MEAN, OpId::MAX})
      for (int axis : {0, 1, 2}) {
        Attrs a;
        a.set_number("axis", axis);
        cases.push_back({std::string(op_name(op)) + " " + d + " [3,70,1100] axis" + std::to_string(axis), op,
                         {rnd(Dims{3, 70, 1100}, seed++, dt)}, a, tol_for(dt) * 10});
      }
    Attrs mx;
    mx.set_number("axis", 0);
    cases.push_back({"max " + d + " column with NaN", OpId::MAX, {with_specials(Dims{50, 33}, seed++, dt, 1.0f)}, mx,
                     tol_for(dt)});
  }
  for (DType dt : kFloats) {
    Attrs none;
    cases.push_back({std::string("copy transposed tiles ") + dtype_name(dt), OpId::COPY,
                     {strided(Dims{3, 300, 257}, seed++, dt)}, none, 0.0});
  }
  for (DType from : kFloats)
    for (DType to : kFloats) {
      if (from == to) continue;
      Attrs a;
      a.set_string("to", dtype_name(to));
      cases.push_back({std::string("cast ") + dtype_name(from) + "->" + dtype_name(to) + " 50000+specials", OpId::CAST,
                       {with_specials(Dims{50001}, seed++, from, 1e4f)}, a, 0.0});
    }
}

}  // namespace parity
}  // namespace engram
