// Parity cases for the foundation ops: odd sizes (1, 7, 63, 129), strided
// inputs, every float dtype, broadcasting, and GQA attention.
#include "../parity.h"

namespace engram {
namespace parity {

namespace {
const DType kFloats[] = {DType::F32, DType::F16, DType::BF16};
const int64_t kOdd[] = {1, 7, 63, 129};

Attrs attrs_axis(int axis, bool flag_a = false, const char* key_a = nullptr, bool flag_b = false,
                 const char* key_b = nullptr) {
  Attrs a;
  a.set_number("axis", axis);
  if (key_a) a.set_bool(key_a, flag_a);
  if (key_b) a.set_bool(key_b, flag_b);
  return a;
}
}  // namespace

ENGRAM_PARITY_CASES(matmul) {
  uint64_t seed = 100;
  for (DType dt : kFloats) {
    for (int64_t m : kOdd)
      for (int64_t n : {1L, 63L, 129L})
        for (int64_t k : {7L, 129L}) {
          Attrs a;
          cases.push_back({std::string(dtype_name(dt)) + " " + std::to_string(m) + "x" + std::to_string(k) + "x" +
                               std::to_string(n),
                           OpId::MATMUL, {rnd(Dims{m, k}, seed++, dt), rnd(Dims{k, n}, seed++, dt)}, a,
                           dt == DType::F32 ? 1e-10 : tol_for(dt)});
        }
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        Attrs a;
        a.set_bool("transA", ta);
        a.set_bool("transB", tb);
        a.set_number("alpha", 0.5);
        Dims sa = ta ? Dims{3, 70, 65} : Dims{3, 65, 70}, sb = tb ? Dims{1, 33, 70} : Dims{1, 70, 33};
        cases.push_back({std::string(dtype_name(dt)) + " batched-broadcast ta" + std::to_string(ta) + " tb" +
                             std::to_string(tb),
                         OpId::MATMUL, {rnd(sa, seed++, dt), rnd(sb, seed++, dt)}, a, dt == DType::F32 ? 1e-9 : tol_for(dt)});
      }
    Attrs none;
    cases.push_back({std::string(dtype_name(dt)) + " strided operands", OpId::MATMUL,
                     {strided(Dims{2, 63, 40}, seed++, dt), strided(Dims{40, 129}, seed++, dt)}, none, dt == DType::F32 ? 1e-9 : tol_for(dt)});
  }
  Attrs none;
  cases.push_back({"large 300x513x257", OpId::MATMUL, {rnd(Dims{300, 257}, 7), rnd(Dims{257, 513}, 8)}, none, 1e-9});
}

ENGRAM_PARITY_CASES(elementwise) {
  uint64_t seed = 200;
  const OpId bin[] = {OpId::ADD, OpId::SUB, OpId::MUL, OpId::DIV};
  for (DType dt : kFloats) {
    for (OpId op : bin) {
      Attrs none;
      cases.push_back({std::string(op_name(op)) + " " + dtype_name(dt) + " same", op,
                       {rnd(Dims{7, 63}, seed++, dt), rnd(Dims{7, 63}, seed++, dt, 1.0f, op == OpId::DIV ? 3.0f : 0.0f)},
                       none, tol_for(dt)});
      cases.push_back({std::string(op_name(op)) + " " + dtype_name(dt) + " broadcast", op,
                       {rnd(Dims{3, 1, 129}, seed++, dt), rnd(Dims{7, 1}, seed++, dt, 1.0f, op == OpId::DIV ? 3.0f : 0.0f)},
                       none, tol_for(dt)});
      cases.push_back({std::string(op_name(op)) + " " + dtype_name(dt) + " strided", op,
                       {strided(Dims{63, 7}, seed++, dt), rnd(Dims{7}, seed++, dt, 1.0f, op == OpId::DIV ? 3.0f : 0.0f)},
                       none, tol_for(dt)});
    }
    const OpId un[] = {OpId::NEG, OpId::ABS, OpId::EXP, OpId::SIGMOID, OpId::SILU, OpId::GELU,
                       OpId::TANH, OpId::RELU, OpId::SOFTPLUS};
    for (OpId op : un) {
      Attrs none;
      cases.push_back({std::string(op_name(op)) + " " + dtype_name(dt), op, {rnd(Dims{129, 7}, seed++, dt, 3.0f)}, none,
                       tol_for(dt) + 1e-12});
      cases.push_back({std::string(op_name(op)) + " " + dtype_name(dt) + " strided", op,
                       {strided(Dims{7, 63}, seed++, dt)}, none, tol_for(dt) + 1e-12});
    }
    Attrs none;
    cases.push_back({std::string("sqrt ") + dtype_name(dt), OpId::SQRT, {rnd(Dims{63}, seed++, dt, 1.0f, 5.0f)}, none,
                     tol_for(dt) + 1e-12});
    cases.push_back({std::string("log ") + dtype_name(dt), OpId::LOG, {rnd(Dims{63}, seed++, dt, 1.0f, 5.0f)}, none,
                     tol_for(dt) + 1e-12});
    Attrs sc;
    sc.set_number("alpha", -2.5);
    sc.set_number("beta", 0.25);
    cases.push_back({std::string("scale ") + dtype_name(dt), OpId::SCALE, {strided(Dims{129, 7}, seed++, dt)}, sc,
                     tol_for(dt)});
    Attrs ap;
    ap.set_bool("approximate", true);
    cases.push_back({std::string("gelu tanh ") + dtype_name(dt), OpId::GELU, {rnd(Dims{7, 129}, seed++, dt, 3.0f)}, ap,
                     tol_for(dt) + 1e-12});
  }
}

ENGRAM_PARITY_CASES(rows) {
  uint64_t seed = 300;
  for (DType dt : kFloats) {
    for (int64_t d : kOdd) {
      cases.push_back({std::string("softmax ") + dtype_name(dt) + " D" + std::to_string(d), OpId::SOFTMAX,
                       {rnd(Dims{5, d}, seed++, dt, 4.0f)}, attrs_axis(-1), tol_for(dt)});
      Attrs eps;
      cases.push_back({std::string("rmsNorm ") + dtype_name(dt) + " D" + std::to_string(d), OpId::RMS_NORM,
                       {rnd(Dims{3, 5, d}, seed++, dt), rnd(Dims{d}, seed++)}, eps, tol_for(dt)});
      cases.push_back({std::string("layerNorm ") + dtype_name(dt) + " D" + std::to_string(d), OpId::LAYER_NORM,
                       {rnd(Dims{3, d}, seed++, dt, 2.0f, 1.0f), rnd(Dims{d}, seed++), rnd(Dims{d}, seed++)}, eps,
                       tol_for(dt) * 10});
    }
    cases.push_back({std::string("softmax axis0 strided ") + dtype_name(dt), OpId::SOFTMAX,
                     {strided(Dims{63, 7}, seed++, dt)}, attrs_axis(0), tol_for(dt)});
    Attrs eps;
    eps.set_number("eps", 1e-3);
    cases.push_back({std::string("rmsNorm no weight strided ") + dtype_name(dt), OpId::RMS_NORM,
                     {strided(Dims{7, 63}, seed++, dt)}, eps, tol_for(dt)});
    cases.push_back({std::string("layerNorm no affine ") + dtype_name(dt), OpId::LAYER_NORM,
                     {rnd(Dims{7, 129}, seed++, dt)}, eps, tol_for(dt) * 10});
  }
}

ENGRAM_PARITY_CASES(reduce_scan) {
  uint64_t seed = 400;
  const OpId red[] = {OpId::SUM, OpId::MEAN, OpId::MAX};
  const OpId scans[] = {OpId::CUMSUM, OpId::LOGCUMSUMEXP};
  for (DType dt : kFloats) {
    for (OpId op : red)
      for (int axis : {0, 1, -1}) {
        cases.push_back({std::string(op_name(op)) + " " + dtype_name(dt) + " axis" + std::to_string(axis), op,
                         {rnd(Dims{7, 63, 5}, seed++, dt)}, attrs_axis(axis, true, "keepdim"), tol_for(dt) * 10});
        cases.push_back({std::string(op_name(op)) + " " + dtype_name(dt) + " strided axis" + std::to_string(axis), op,
                         {strided(Dims{129, 7}, seed++, dt)}, attrs_axis(axis == 1 ? 0 : axis), tol_for(dt) * 10});
      }
    for (OpId op : scans)
      for (int excl = 0; excl < 2; ++excl)
        for (int rev = 0; rev < 2; ++rev) {
          cases.push_back({std::string(op_name(op)) + " " + dtype_name(dt) + (excl ? " exclusive" : "") +
                               (rev ? " reverse" : ""),
                           op, {rnd(Dims{3, 129}, seed++, dt, 2.0f)}, attrs_axis(-1, excl, "exclusive", rev, "reverse"),
                           tol_for(dt) * 10});
          cases.push_back({std::string(op_name(op)) + " " + dtype_name(dt) + " strided axis0" +
                               (excl ? " exclusive" : "") + (rev ? " reverse" : ""),
                           op, {strided(Dims{63, 7}, seed++, dt)}, attrs_axis(0, excl, "exclusive", rev, "reverse"),
                           tol_for(dt) * 10});
        }
  }
}

ENGRAM_PARITY_CASES(movement) {
  uint64_t seed = 500;
  Attrs none;
  for (DType dt : kFloats) {
    cases.push_back({std::string("copy strided ") + dtype_name(dt), OpId::COPY, {strided(Dims{7, 63, 129}, seed++, dt)},
                     none, 0.0});
    cases.push_back({std::string("gather ") + dtype_name(dt), OpId::GATHER,
                     {rnd(Dims{129, 7}, seed++, dt), ints(Dims{3, 63}, 0, 129, seed++)}, none, 0.0});
  }
  cases.push_back({"copy permuted 4d", OpId::COPY, {rnd(Dims{2, 7, 3, 63}, seed++).permute({0, 2, 1, 3})}, none, 0.0});
  cases.push_back({"gather strided table", OpId::GATHER, {strided(Dims{63, 7}, seed++), ints(Dims{129}, 0, 63, seed++)},
                   none, 0.0});
  const DType all[] = {DType::F32, DType::F16, DType::BF16, DType::I32, DType::U8, DType::I8};
  for (DType from : {DType::F32, DType::F16, DType::BF16})
    for (DType to : all) {
      Attrs a;
      a.set_string("to", dtype_name(to));
      cases.push_back({std::string("cast ") + dtype_name(from) + "->" + dtype_name(to), OpId::CAST,
                       {rnd(Dims{7, 129}, seed++, from, 60.0f)}, a, 0.0});
    }
  Attrs a;
  a.set_string("to", "f32");
  cases.push_back({"cast strided bf16->f32", OpId::CAST, {strided(Dims{63, 7}, seed++, DType::BF16)}, a, 0.0});
}

ENGRAM_PARITY_CASES(attention) {
  uint64_t seed = 600;
  for (DType dt : kFloats)
    for (int causal = 0; causal < 2; ++causal)
      for (int64_t t : {1L, 63L, 129L}) {
        int64_t s = causal ? t + 7 : 129;
        Attrs a;
        a.set_bool("causal", causal);
        cases.push_back({std::string("sdpa ") + dtype_name(dt) + (causal ? " causal" : "") + " T" + std::to_string(t),
                         OpId::SDPA,
                         {rnd(Dims{2, t, 4, 60}, seed++, dt), rnd(Dims{2, s, 2, 60}, seed++, dt),
                          rnd(Dims{2, s, 2, 33}, seed++, dt)},
                         a, dt == DType::F32 ? 1e-10 : 1e-8});
      }
  Attrs a;
  a.set_number("scale", 0.3);
  cases.push_back({"sdpa strided q", OpId::SDPA,
                   {rnd(Dims{1, 4, 7, 63}, seed++).permute({0, 2, 1, 3}), rnd(Dims{1, 300, 1, 63}, seed++),
                    rnd(Dims{1, 300, 1, 63}, seed++)},
                   a, 1e-10});
}

}  // namespace parity
}  // namespace engram
