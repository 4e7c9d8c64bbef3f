// CPU checks of the CUDA backend's shared __host__ __device__ code (no GPU
// needed; plain C++, no CUDA headers): cuda/hd/*.h compiled by g++ against
// the CPU references (native/cpu/ops/*.cpp ref_*).
//   build/test_cuda_math [--verbose]
// Covers the element maths (unary/binary functions, cast rules, f16/bf16
// rounding over all 65536 bit patterns), index arithmetic (coalescing,
// broadcast strides, lanes), the combine rules (online softmax, scans, Kahan),
// host replays of the warp/block algorithms of the lane kernels (butterfly
// merges, the chunked scan with carry), and thread-by-thread replays of the
// GEMM (SIMT and tensor-core tilings) and flash-attention kernels built from
// the same tile functions the kernels call, and the titansMlp token loop run
// by 1 and by 5 real threads with a barrier for __syncthreads (a block
// emulation). Ends with "N passed, N failed".
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <string>
#include <type_traits>
#include <vector>

#include "../../cuda/hd/elem.h"
#include "../../cuda/hd/gemm_tile.h"
#include "../../cuda/hd/index.h"
#include "../../cuda/hd/online.h"
#include "../../cuda/hd/sdpa_tile.h"
#include "../../cuda/hd/memory_args.h"
#include "block_emu.h"
#include "cpu/cpu_common.h"
#include "cpu/kernels.h"
#include "engram/alloc.h"
#include "engram/philox.h"

using namespace engram;
using namespace engram::cuda;

namespace {

int g_passed = 0, g_failed = 0;
bool g_verbose = false;

void expect(bool ok, const std::string& what, const std::string& detail = "") {
  if (ok) {
    ++g_passed;
    if (g_verbose) std::printf("ok   %s\n", what.c_str());
  } else {
    ++g_failed;
    std::printf("FAIL %s%s%s\n", what.c_str(), detail.empty() ? "" : ": ", detail.c_str());
  }
}

// The CPU reference of an op (native/cpu/ops ref_*).
Tensor reference(OpId op, const std::vector<Tensor>& in, const Attrs& attrs = {}) {
  OpCall c;
  c.op = op;
  c.in = in;
  parse_op(c, attrs);
  prepare_op(c);
  cpu::run_reference(c);
  return c.out[0];
}

Tensor f32_tensor(const std::vector<float>& v, const Dims& shape) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::memcpy(t.raw(), v.data(), v.size() * sizeof(float));
  return t;
}

Tensor randn_t(const Dims& shape, uint64_t seed, DType dt = DType::F32, float scale = 1.0f) {
  Tensor f = randn(shape, seed);
  float* p = f.data<float>();
  for (int64_t i = 0; i < f.numel(); ++i) p[i] *= scale;
  if (dt == DType::F32) return f;
  Attrs a;
  a.set_string("to", dtype_name(dt));
  return call_op1(OpId::CAST, {f}, a);
}

// A view with no unit stride in its last two dims (every other element of a
// transposed buffer): exercises the contiguous-copy fallback of the GEMM.
Tensor no_unit_stride(const Dims& shape, uint64_t seed, DType dt) {
  Dims big = shape;
  std::swap(big[big.n - 1], big[big.n - 2]);
  big[big.n - 1] *= 2;
  Tensor base = randn_t(big, seed, dt);
  Dims st = base.strides();
  Dims vs = base.strides();
  vs[vs.n - 1] = st[st.n - 2];
  vs[vs.n - 2] = st[st.n - 1] * 2;
  return Tensor::view_of(base.storage(), shape, vs, 0, dt);
}

// A strided view: transposed buffer with a padding row (unit stride along rows).
Tensor transposed_view(const Dims& shape, uint64_t seed, DType dt) {
  Dims big = shape;
  std::swap(big[big.n - 1], big[big.n - 2]);
  big[big.n - 2] += 1;
  Tensor base = randn_t(big, seed, dt);
  return base.slice(-2, 0, shape[shape.n - 1]).transpose(-1, -2);
}

bool same_float(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

double nmse(const Tensor& ref, const std::vector<float>& got, int64_t* nan_mismatch) {
  double num = 0, den = 0;
  *nan_mismatch = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const float r = cpu::read_f32(ref, i), x = got[(size_t)i];
    if (std::isnan(r) || std::isnan(x) || std::isinf(r) || std::isinf(x)) {
      if (!same_float(r, x)) ++*nan_mismatch;
      continue;
    }
    num += ((double)x - r) * ((double)x - r);
    den += (double)r * r;
  }
  return num / (den > 1e-30 ? den : 1e-30);
}

void expect_close(const Tensor& ref, const std::vector<float>& got, double tol, const std::string& what) {
  int64_t bad = 0;
  const double e = nmse(ref, got, &bad);
  char buf[128];
  std::snprintf(buf, sizeof buf, "nmse %.3g (tol %.3g), %lld NaN/Inf mismatches", e, tol, (long long)bad);
  expect(bad == 0 && e <= tol, what, buf);
  if (bad && g_verbose)
    for (int64_t i = 0; i < ref.numel() && i < 8; ++i) std::printf("  [%lld] ref %g got %g\n", (long long)i, cpu::read_f32(ref, i), got[(size_t)i]);
}

std::vector<float> as_floats(const Tensor& t) {
  std::vector<float> v((size_t)t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) v[(size_t)i] = cpu::read_f32(t, cpu::strided_offset(t.shape(), t.strides(), i));
  return v;
}

const char* dt_name(DType d) { return dtype_name(d); }

// ---- element maths ------------------------------------------------------------

std::vector<float> special_values() {
  std::vector<float> v = {0.0f,       -0.0f,        1.0f,        -1.0f,      0.5f,        1.5f,        2.5f,
                          -2.5f,      65504.0f,     65519.99f,   65520.0f,   -65520.0f,   1e-8f,       6e-8f,
                          3e-8f,      1e30f,        -1e30f,      INFINITY,   -INFINITY,   NAN,         127.9f,
                          128.0f,     -128.5f,      -129.0f,     255.5f,     256.0f,      2147483520.0f,
                          2147483648.0f, -2147483648.0f, -3e9f,  3.9999f,    1e-40f,      -0.99f,      0.99f,
                          3.0e38f,    1.00390625f,  1.005859375f};
  for (int i = 0; i < 2000; ++i) {
    const float u = philox_uniform(77, (uint64_t)i), g = philox_normal(78, (uint64_t)i);
    v.push_back(g * std::pow(10.0f, (u - 0.5f) * 12.0f));
  }
  return v;
}

void test_casts() {
  const std::vector<float> vals = special_values();
  Tensor src = f32_tensor(vals, Dims{(int64_t)vals.size()});
  const DType targets[] = {DType::F16, DType::BF16, DType::I32, DType::U8, DType::I8};
  for (DType to : targets) {
    Attrs a;
    a.set_string("to", dtype_name(to));
    Tensor ref = reference(OpId::CAST, {src}, a);
    std::vector<char> got(ref.nbytes());
    for (size_t i = 0; i < vals.size(); ++i) store_any(got.data(), (int64_t)i, to, vals[i]);
    bool ok = true;
    for (size_t i = 0; i < vals.size() && ok; ++i) {
      if (is_float(to)) ok = same_float(load_any(got.data(), (int64_t)i, to), cpu::read_f32(ref, (int64_t)i));
      else ok = std::memcmp(got.data() + i * elem_size(to), static_cast<char*>(ref.raw()) + i * elem_size(to), elem_size(to)) == 0;
    }
    expect(ok, std::string("cast f32->") + dt_name(to) + " (store_any vs ref_cast, special + random values)");
  }
  // Every f16 / bf16 bit pattern -> f32 and to each other dtype.
  for (DType from : {DType::F16, DType::BF16}) {
    Tensor src16 = Tensor::empty(Dims{65536}, from);
    for (int i = 0; i < 65536; ++i) static_cast<uint16_t*>(src16.raw())[i] = (uint16_t)i;
    for (DType to : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::U8, DType::I8}) {
      if (to == from) continue;
      Attrs a;
      a.set_string("to", dtype_name(to));
      Tensor ref = reference(OpId::CAST, {src16}, a);
      std::vector<char> got(ref.nbytes());
      for (int64_t i = 0; i < 65536; ++i) store_any(got.data(), i, to, load_any(src16.raw(), i, from));
      bool ok = true;
      for (int64_t i = 0; i < 65536 && ok; ++i) {
        if (is_float(to)) ok = same_float(load_any(got.data(), i, to), cpu::read_f32(ref, i));
        else ok = std::memcmp(got.data() + i * elem_size(to), static_cast<char*>(ref.raw()) + i * elem_size(to), elem_size(to)) == 0;
      }
      expect(ok, std::string("cast ") + dt_name(from) + "->" + dt_name(to) + " over all 65536 bit patterns");
    }
  }
  // Integer sources.
  Tensor ints = Tensor::empty(Dims{12}, DType::I32);
  const int32_t iv[] = {0, 1, -1, 127, 128, -129, 255, 256, 65504, 70000, 2147483647, -2147483647 - 1};
  std::memcpy(ints.raw(), iv, sizeof iv);
  for (DType to : {DType::F32, DType::F16, DType::BF16, DType::U8, DType::I8}) {
    Attrs a;
    a.set_string("to", dtype_name(to));
    Tensor ref = reference(OpId::CAST, {ints}, a);
    std::vector<char> got(ref.nbytes());
    for (int64_t i = 0; i < 12; ++i) store_any(got.data(), i, to, load_any(ints.raw(), i, DType::I32));
    expect(std::memcmp(got.data(), ref.raw(), ref.nbytes()) == 0, std::string("cast i32->") + dt_name(to));
  }
  // f16/bf16 storage tags round like the core conversions.
  bool ok = true;
  for (float v : vals) {
    ok &= from_f32<f16_t>(v).bits == f32_to_f16(v) && from_f32<bf16_t>(v).bits == f32_to_bf16(v);
    ok &= same_float(to_f32(from_f32<f16_t>(v)), f16_to_f32(f32_to_f16(v)));
  }
  expect(ok, "f16_t/bf16_t storage tags");
}

void test_unary_binary() {
  std::vector<float> xs = special_values();
  for (int i = 0; i < 4000; ++i) xs.push_back(-30.0f + 60.0f * philox_uniform(5, (uint64_t)i));
  Tensor x = f32_tensor(xs, Dims{(int64_t)xs.size()});
  struct U {
    OpId op;
    UnaryFn fn;
    bool approx;
  };
  const U fns[] = {{OpId::SCALE, UnaryFn::SCALE, false}, {OpId::NEG, UnaryFn::NEG, false},
                   {OpId::ABS, UnaryFn::ABS, false},     {OpId::SQRT, UnaryFn::SQRT, false},
                   {OpId::EXP, UnaryFn::EXP, false},     {OpId::LOG, UnaryFn::LOG, false},
                   {OpId::SIGMOID, UnaryFn::SIGMOID, false}, {OpId::SILU, UnaryFn::SILU, false},
                   {OpId::GELU, UnaryFn::GELU, false},   {OpId::GELU, UnaryFn::GELU, true},
                   {OpId::TANH, UnaryFn::TANH, false},   {OpId::RELU, UnaryFn::RELU, false},
                   {OpId::SOFTPLUS, UnaryFn::SOFTPLUS, false}};
  for (const U& u : fns) {
    Attrs a;
    if (u.op == OpId::SCALE) {
      a.set_number("alpha", -2.5);
      a.set_number("beta", 0.25);
    }
    if (u.op == OpId::GELU) a.set_bool("approximate", u.approx);
    Tensor ref = reference(u.op, {x}, a);
    const UnaryOp op{u.fn, -2.5f, 0.25f, u.approx};
    int bad = 0;
    float worst_x = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const float got = unary_apply(op, xs[i]), want = cpu::read_f32(ref, (int64_t)i);
      const bool ok = same_float(got, want) ||
                      (std::isfinite(want) && std::fabs(got - want) <= 2e-6f * std::fmax(1.0f, std::fabs(want)));
      if (!ok && bad++ == 0) worst_x = xs[i];
    }
    expect(bad == 0, std::string("unary_apply ") + op_name(u.op) + (u.approx ? " (tanh)" : "") + " vs ref_unary",
           std::to_string(bad) + " mismatches, first at x=" + std::to_string(worst_x));
  }
  const OpId bins[] = {OpId::ADD, OpId::SUB, OpId::MUL, OpId::DIV};
  const BinaryFn bfs[] = {BinaryFn::ADD, BinaryFn::SUB, BinaryFn::MUL, BinaryFn::DIV};
  for (int k = 0; k < 4; ++k) {
    // Broadcast [3, 1, 129] with a strided [7, 1] operand, through the launcher's indices.
    Tensor a = randn_t(Dims{3, 1, 129}, 10 + k), b = transposed_view(Dims{7, 1}, 20 + k, DType::F32);
    Tensor ref = reference(bins[k], {a, b});
    const Dims& shape = ref.shape();
    const StridedIndex ia = index_of(shape, broadcast_strides(a.shape(), a.strides(), shape));
    const StridedIndex ib = index_of(shape, broadcast_strides(b.shape(), b.strides(), shape));
    std::vector<float> got((size_t)ref.numel());
    for (int64_t i = 0; i < ref.numel(); ++i)
      got[(size_t)i] = binary_apply(bfs[k], a.data<float>()[offset_of(ia, i)], b.data<float>()[offset_of(ib, i)]);
    expect_close(ref, got, 0.0, std::string("binary ") + op_name(bins[k]) + " broadcast+strided indices");
  }
  // max_nan: NaN wins in any combination order; otherwise the max.
  const float vals[] = {1.0f, -INFINITY, NAN, 3.0f, -0.0f};
  bool ok = true;
  for (float p : vals)
    for (float q : vals)
      for (float r : vals) {
        const float l = max_nan(max_nan(p, q), r), rr = max_nan(p, max_nan(q, r));
        ok &= same_float(l, rr);
        ok &= std::isnan(l) == (std::isnan(p) || std::isnan(q) || std::isnan(r));
      }
  expect(ok, "max_nan is associative and propagates NaN");
}

// ---- index arithmetic ---------------------------------------------------------

void test_index() {
  int bad = 0, cases = 0;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    auto rnd = [&](int i, int lo, int hi) { return lo + (int)(philox_uniform(seed, (uint64_t)i) * (float)(hi - lo + 1)) % (hi - lo + 1); };
    const int nd = rnd(0, 1, 5);
    Dims shape;
    for (int d = 0; d < nd; ++d) shape.push_back(rnd(1 + d, 1, 5));
    Tensor t = Tensor::empty(shape, DType::F32);
    std::vector<int> perm(nd);
    for (int d = 0; d < nd; ++d) perm[d] = d;
    for (int d = nd - 1; d > 0; --d) std::swap(perm[d], perm[rnd(10 + d, 0, d)]);
    Tensor v = t.permute(perm);
    if (nd >= 1 && v.size(0) > 2 && rnd(20, 0, 1)) v = v.slice(0, 1, v.size(0));
    if (nd >= 2 && v.size(-1) > 1 && rnd(21, 0, 1)) v = v.slice(-1, 0, v.size(-1) - 1);
    ++cases;
    const StridedIndex ix = index_of(v.shape(), v.strides());
    for (int64_t i = 0; i < v.numel(); ++i)
      if (offset_of(ix, i) != cpu::strided_offset(v.shape(), v.strides(), i)) {
        ++bad;
        break;
      }
    for (int ax = 0; ax < v.ndim(); ++ax) {
      const LaneIndex L = lanes_of(v.shape(), v.strides(), ax);
      const cpu::Lanes C = cpu::make_lanes(v.shape(), v.strides(), ax);
      bool ok = L.count == C.count && L.len == C.len && L.step == C.step;
      for (int64_t l = 0; ok && l < L.count; ++l) ok = lane_offset(L, l) == C.offset(l);
      if (!ok) ++bad;
    }
  }
  expect(bad == 0, "index_of/offset_of and lanes_of vs strided_offset/make_lanes on " + std::to_string(cases) +
                       " random permuted/sliced views",
         std::to_string(bad) + " mismatches");
  // Broadcast strides coalesce across broadcast dims and stay correct.
  Dims out{4, 3, 5, 2}, xs{3, 1, 2}, xt{2, 99, 1};
  const StridedIndex bi = index_of(out, broadcast_strides(xs, xt, out));
  bool ok = true;
  for (int64_t i = 0; i < 4 * 3 * 5 * 2; ++i) {
    const int64_t c = i % 2, a = (i / 10) % 3;
    ok &= offset_of(bi, i) == a * 2 + c;
  }
  expect(ok, "broadcast_strides + coalescing");
  StridedIndex flat = index_of(Dims{2, 3, 4}, Dims{12, 4, 1});
  expect(is_flat(flat) && flat.n == 1 && flat.shape[0] == 24, "contiguous view coalesces to one unit-stride dim");
}

// ---- combine rules and the lane kernels' group algorithms ------------------------

// Host replay of a warp's xor-butterfly (every lane ends with the total).
template <class S, class Op>
void butterfly(std::vector<S>& lanes, Op op) {
  for (int o = 16; o > 0; o >>= 1) {
    std::vector<S> prev = lanes;
    for (int l = 0; l < 32; ++l) lanes[(size_t)l] = op(prev[(size_t)l], prev[(size_t)(l ^ o)]);
  }
}

// softmax_kernel / reduce_rows_kernel for one lane with TPL threads (32 or 256).
std::vector<float> replay_softmax(const std::vector<float>& x, int tpl) {
  const int64_t len = (int64_t)x.size();
  std::vector<SoftmaxState> st((size_t)tpl, softmax_identity());
  for (int t = 0; t < tpl; ++t)
    for (int64_t j = t; j < len; j += tpl) st[(size_t)t] = softmax_push(st[(size_t)t], x[(size_t)j]);
  std::vector<SoftmaxState> warp_total;
  for (int w = 0; w < tpl / 32; ++w) {
    std::vector<SoftmaxState> lanes(st.begin() + w * 32, st.begin() + w * 32 + 32);
    butterfly(lanes, softmax_merge);
    warp_total.push_back(lanes[0]);
  }
  SoftmaxState r = warp_total[0];
  for (size_t w = 1; w < warp_total.size(); ++w) r = softmax_merge(r, warp_total[w]);
  const float shift = softmax_shift(r), inv = 1.0f / r.s;
  std::vector<float> y((size_t)len);
  for (int64_t j = 0; j < len; ++j) y[(size_t)j] = expf(x[(size_t)j] - shift) * inv;
  return y;
}

// scan_kernel for one lane: chunks of TPL, Hillis-Steele warp scans, warp
// totals combined through shared memory, carry across chunks.
std::vector<float> replay_scan(const std::vector<float>& x, ScanOp op, bool exclusive, bool reverse, int tpl) {
  const int64_t len = (int64_t)x.size();
  std::vector<float> out((size_t)len, NAN);
  float carry = op.identity();
  for (int64_t s0 = 0; s0 < len; s0 += tpl) {
    std::vector<float> r((size_t)tpl), e((size_t)tpl);
    for (int t = 0; t < tpl; ++t) {
      const int64_t s = s0 + t;
      r[(size_t)t] = s < len ? x[(size_t)scan_position(s, len, reverse)] : op.identity();
    }
    for (int o = 1; o < 32; o <<= 1) {
      std::vector<float> prev = r;
      for (int t = 0; t < tpl; ++t)
        if (t % 32 >= o) r[(size_t)t] = op(prev[(size_t)(t - o)], prev[(size_t)t]);
    }
    for (int t = 0; t < tpl; ++t) e[(size_t)t] = t % 32 == 0 ? op.identity() : r[(size_t)(t - 1)];
    float total;
    std::vector<float> incl = r, excl = e;
    if (tpl == 32) {
      total = r[31];
    } else {
      std::vector<float> scratch((size_t)(tpl / 32));
      for (int w = 0; w < tpl / 32; ++w) scratch[(size_t)w] = r[(size_t)(w * 32 + 31)];
      total = op.identity();
      for (int w = 0; w < tpl / 32; ++w) total = op(total, scratch[(size_t)w]);
      for (int t = 0; t < tpl; ++t) {
        float pre = op.identity();
        for (int w = 0; w < t / 32; ++w) pre = op(pre, scratch[(size_t)w]);
        incl[(size_t)t] = op(pre, r[(size_t)t]);
        excl[(size_t)t] = op(pre, e[(size_t)t]);
      }
    }
    for (int t = 0; t < tpl; ++t) {
      const int64_t s = s0 + t;
      if (s < len) out[(size_t)scan_position(s, len, reverse)] = op(carry, exclusive ? excl[(size_t)t] : incl[(size_t)t]);
    }
    carry = op(carry, total);
  }
  return out;
}

void test_lane_algorithms() {
  // softmax: ordinary lanes and the -inf / +inf / NaN cases, both group sizes.
  std::vector<std::vector<float>> lanes;
  for (int64_t len : {1, 7, 31, 32, 33, 63, 129, 1000, 1500}) {
    std::vector<float> v((size_t)len);
    for (int64_t j = 0; j < len; ++j) v[(size_t)j] = 6.0f * philox_normal(300 + (uint64_t)len, (uint64_t)j);
    lanes.push_back(v);
  }
  lanes.push_back({-INFINITY, -INFINITY, -INFINITY});
  lanes.push_back({-INFINITY, 2.0f, -INFINITY, 1.0f});
  lanes.push_back({1.0f, INFINITY, 0.5f});
  lanes.push_back({1.0f, NAN, 0.5f});
  lanes.push_back({NAN, NAN, NAN});
  lanes.push_back({-INFINITY, NAN});
  lanes.push_back({1e30f, -1e30f, 3e38f});
  for (const auto& v : lanes) {
    Tensor ref = reference(OpId::SOFTMAX, {f32_tensor(v, Dims{(int64_t)v.size()})});
    for (int tpl : {32, 256}) {
      std::vector<float> y = replay_softmax(v, tpl);
      expect_close(ref, y, 1e-11, "softmax group replay len " + std::to_string(v.size()) + " TPL " + std::to_string(tpl) +
                                      (std::isfinite(v[0]) && v.size() > 4 ? "" : " (special values)"));
    }
  }
  // Online state: any split of a lane and any merge order agree.
  {
    std::vector<float> v(500);
    for (int j = 0; j < 500; ++j) v[(size_t)j] = 10.0f * philox_normal(9, (uint64_t)j);
    SoftmaxState all = softmax_identity();
    for (float x : v) all = softmax_push(all, x);
    bool ok = true;
    for (int cut : {1, 17, 250, 499}) {
      SoftmaxState a = softmax_identity(), b = softmax_identity();
      for (int j = 0; j < cut; ++j) a = softmax_push(a, v[(size_t)j]);
      for (int j = cut; j < 500; ++j) b = softmax_push(b, v[(size_t)j]);
      const SoftmaxState ab = softmax_merge(a, b), ba = softmax_merge(b, a);
      ok &= ab.m == all.m && ba.m == all.m && std::fabs(ab.s - all.s) <= 1e-5f * all.s && std::fabs(ba.s - all.s) <= 1e-5f * all.s;
    }
    const SoftmaxState id = softmax_merge(softmax_identity(), softmax_identity());
    ok &= id.m == -INFINITY && id.s == 0.0f && online_rescale(-INFINITY, -INFINITY) == 1.0f;
    expect(ok, "online softmax: split/merge in any order equals one pass; identity merges cleanly");
  }
  // Scans: every option, both group sizes, against ref_scan.
  for (int lg = 0; lg < 2; ++lg)
    for (int excl = 0; excl < 2; ++excl)
      for (int rev = 0; rev < 2; ++rev)
        for (int64_t len : {1, 31, 32, 33, 129, 700, 1500}) {
          std::vector<float> v((size_t)len);
          for (int64_t j = 0; j < len; ++j) v[(size_t)j] = 2.0f * philox_normal(400 + (uint64_t)len, (uint64_t)j);
          Attrs a;
          a.set_bool("exclusive", excl);
          a.set_bool("reverse", rev);
          Tensor ref = reference(lg ? OpId::LOGCUMSUMEXP : OpId::CUMSUM, {f32_tensor(v, Dims{len})}, a);
          for (int tpl : {32, 256}) {
            std::vector<float> y = replay_scan(v, ScanOp{lg != 0}, excl, rev, tpl);
            expect_close(ref, y, 1e-11,
                         std::string(lg ? "logcumsumexp" : "cumsum") + (excl ? " exclusive" : "") + (rev ? " reverse" : "") +
                             " len " + std::to_string(len) + " TPL " + std::to_string(tpl));
          }
        }
  // log_add against double; Kahan against double on a long, badly scaled lane.
  bool ok = true;
  for (int i = 0; i < 1000; ++i) {
    const float a = 50.0f * philox_normal(11, (uint64_t)i), b = 50.0f * philox_normal(12, (uint64_t)i);
    const double want = std::max((double)a, (double)b) + std::log1p(std::exp(-std::fabs((double)a - b)));
    ok &= std::fabs(log_add(a, b) - want) <= 1e-5 * std::fmax(1.0, std::fabs(want));
  }
  ok &= log_add(-INFINITY, 3.0f) == 3.0f && log_add(3.0f, -INFINITY) == 3.0f && std::isnan(log_add(NAN, 1.0f));
  expect(ok, "log_add matches double; -inf is its identity; NaN propagates");
  KahanSum k{0.0f, 0.0f};
  double exact = 0;
  for (int i = 0; i < 200000; ++i) {
    const float v = 1.0f + 1e-4f * philox_normal(13, (uint64_t)i);
    k = kahan_add(k, v);
    exact += v;
  }
  expect(std::fabs(k.s - exact) <= 1e-7 * exact, "Kahan sum of 200000 terms within 1e-7 of double");
  // Reduction butterflies: max with NaN, sum, as reduce_rows_kernel's warp path.
  {
    std::vector<float> lanes32(32);
    for (int l = 0; l < 32; ++l) lanes32[(size_t)l] = (float)l - 3.5f;
    std::vector<float> m = lanes32, s = lanes32;
    butterfly(m, max_nan);
    butterfly(s, [](float a, float b) { return a + b; });
    lanes32[9] = NAN;
    std::vector<float> mn = lanes32;
    butterfly(mn, max_nan);
    bool all_nan = true;
    for (float x : mn) all_nan &= std::isnan(x);
    expect(m[5] == 27.5f && s[31] == 384.0f && all_nan, "warp butterflies give every lane the max / sum / NaN");
  }
}

// ---- GEMM: thread-by-thread replays of the two kernels ---------------------------

// simt_gemm_kernel on a (possibly capped) grid; C contiguous [batch, M, N].
template <class Cfg, bool AK, bool BN>
void replay_simt(const GemmProblem& p, const float* A, const float* B, float* C, unsigned gy, unsigned gz) {
  const GemmGrid gr = gemm_grid(p.M, p.N, p.batch, Cfg::BM, Cfg::BN);
  std::vector<float> As(Cfg::BK * Cfg::LDA), Bs(Cfg::BK * Cfg::LDB);
  const int T = Cfg::THREADS;
  std::vector<float> acc((size_t)T * Cfg::TM * Cfg::TN), ra((size_t)T * Cfg::A_LOADS), rb((size_t)T * Cfg::B_LOADS);
  auto acc_of = [&](int t) { return reinterpret_cast<float(*)[Cfg::TM][Cfg::TN]>(&acc[(size_t)t * Cfg::TM * Cfg::TN]); };
  auto ra_of = [&](int t) { return reinterpret_cast<float(*)[Cfg::A_LOADS]>(&ra[(size_t)t * Cfg::A_LOADS]); };
  auto rb_of = [&](int t) { return reinterpret_cast<float(*)[Cfg::B_LOADS]>(&rb[(size_t)t * Cfg::B_LOADS]); };
  const int64_t tiles_m = ceil_div(p.M, Cfg::BM), ktiles = ceil_div(p.K, Cfg::BK);
  for (unsigned bz = 0; bz < gz; ++bz)
    for (unsigned by = 0; by < gy; ++by)
      for (unsigned bx = 0; bx < gr.x; ++bx) {
        const int64_t n0 = (int64_t)bx * Cfg::BN;
        for (int64_t item = bz; item < p.batch; item += gz) {
          const float* a = A + offset_of(p.batch_a, item);
          const float* b = B + offset_of(p.batch_b, item);
          float* c = C + item * p.M * p.N;
          for (int64_t tm = by; tm < tiles_m; tm += gy) {
            const int64_t m0 = tm * Cfg::BM;
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (int t = 0; t < T; ++t) simt_fetch<Cfg, AK, BN>(p, a, b, m0, n0, 0, t, *ra_of(t), *rb_of(t));
            for (int64_t kt = 0; kt < ktiles; ++kt) {
              for (int t = 0; t < T; ++t) simt_stage<Cfg, AK, BN>(*ra_of(t), *rb_of(t), t, As.data(), Bs.data());
              for (int t = 0; t < T; ++t) {  // __syncthreads above and below
                if (kt + 1 < ktiles) simt_fetch<Cfg, AK, BN>(p, a, b, m0, n0, (kt + 1) * Cfg::BK, t, *ra_of(t), *rb_of(t));
                simt_mma<Cfg>(As.data(), Bs.data(), t, *acc_of(t));
              }
            }
            for (int t = 0; t < T; ++t) simt_store<Cfg, float>(p, c, m0, n0, t, *acc_of(t));
          }
        }
      }
}

template <class T>
float decode16(uint16_t bits);
template <>
float decode16<f16_t>(uint16_t bits) { return f16_to_f32(bits); }
template <>
float decode16<bf16_t>(uint16_t bits) { return bf16_to_f32(bits); }

// tc_gemm_kernel: the WMMA calls replaced by the products they compute on the
// same shared-memory fragments (same offsets and leading dimensions).
template <class Cfg, bool AK, bool BN, class T>
void replay_tc(const GemmProblem& p, const T* A, const T* B, T* C, unsigned gy, unsigned gz) {
  const GemmGrid gr = gemm_grid(p.M, p.N, p.batch, Cfg::BM, Cfg::BN);
  std::vector<uint16_t> As(Cfg::BM * Cfg::LDA), Bs(Cfg::BK * Cfg::LDB);
  const int NT = Cfg::THREADS;
  std::vector<T> ra((size_t)NT * Cfg::A_LOADS), rb((size_t)NT * Cfg::B_LOADS);
  auto ra_of = [&](int t) { return reinterpret_cast<T(*)[Cfg::A_LOADS]>(&ra[(size_t)t * Cfg::A_LOADS]); };
  auto rb_of = [&](int t) { return reinterpret_cast<T(*)[Cfg::B_LOADS]>(&rb[(size_t)t * Cfg::B_LOADS]); };
  std::vector<float> acc((size_t)Cfg::WARPS * Cfg::FM * Cfg::FN * 256);
  auto frag = [&](int w, int i, int j) { return &acc[(((size_t)w * Cfg::FM + i) * Cfg::FN + j) * 256]; };
  const int64_t tiles_m = ceil_div(p.M, Cfg::BM), ktiles = ceil_div(p.K, Cfg::BK);
  for (unsigned bz = 0; bz < gz; ++bz)
    for (unsigned by = 0; by < gy; ++by)
      for (unsigned bx = 0; bx < gr.x; ++bx) {
        const int64_t n0 = (int64_t)bx * Cfg::BN;
        for (int64_t item = bz; item < p.batch; item += gz) {
          const T* a = A + offset_of(p.batch_a, item);
          const T* b = B + offset_of(p.batch_b, item);
          T* c = C + item * p.M * p.N;
          for (int64_t tm = by; tm < tiles_m; tm += gy) {
            const int64_t m0 = tm * Cfg::BM;
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (int t = 0; t < NT; ++t) tc_fetch<Cfg, AK, BN>(p, a, b, m0, n0, 0, t, *ra_of(t), *rb_of(t));
            for (int64_t kt = 0; kt < ktiles; ++kt) {
              for (int t = 0; t < NT; ++t) tc_stage<Cfg, AK, BN>(*ra_of(t), *rb_of(t), t, As.data(), Bs.data());
              for (int t = 0; t < NT; ++t)
                if (kt + 1 < ktiles) tc_fetch<Cfg, AK, BN>(p, a, b, m0, n0, (kt + 1) * Cfg::BK, t, *ra_of(t), *rb_of(t));
              for (int w = 0; w < Cfg::WARPS; ++w)
                for (int kk = 0; kk < Cfg::BK; kk += 16)
                  for (int i = 0; i < Cfg::FM; ++i)
                    for (int j = 0; j < Cfg::FN; ++j) {
                      const uint16_t* fa = &As[(size_t)Cfg::a_frag(w, i, kk)];
                      const uint16_t* fb = &Bs[(size_t)Cfg::b_frag(w, j, kk)];
                      float* f = frag(w, i, j);
                      for (int r = 0; r < 16; ++r)
                        for (int q = 0; q < 16; ++q) {
                          float s = 0.0f;
                          for (int k = 0; k < 16; ++k) s += decode16<T>(fa[r * Cfg::LDA + k]) * decode16<T>(fb[k * Cfg::LDB + q]);
                          f[r * 16 + q] += s;
                        }
                    }
            }
            for (int w = 0; w < Cfg::WARPS; ++w)
              for (int i = 0; i < Cfg::FM; ++i)
                for (int j = 0; j < Cfg::FN; ++j)
                  for (int lane = 0; lane < 32; ++lane)
                    tc_store_fragment(p, frag(w, i, j), lane, c, m0 + Cfg::c_row(w, i), n0 + Cfg::c_col(w, j));
          }
        }
      }
}

template <class Cfg>
bool tc_layout_ok() {
  bool ok = true;
  for (int w = 0; w < Cfg::WARPS; ++w)
    for (int kk = 0; kk < Cfg::BK; kk += 16) {
      for (int i = 0; i < Cfg::FM; ++i) {
        const int off = Cfg::a_frag(w, i, kk);
        ok &= off % 16 == 0 && off + 15 * Cfg::LDA + 15 < Cfg::BM * Cfg::LDA;  // 32-byte aligned, inside As
      }
      for (int j = 0; j < Cfg::FN; ++j) {
        const int off = Cfg::b_frag(w, j, kk);
        ok &= off % 16 == 0 && off + 15 * Cfg::LDB + 15 < Cfg::BK * Cfg::LDB;
      }
    }
  // The warps' fragments cover the block tile exactly once.
  std::vector<int> cover(Cfg::BM * Cfg::BN, 0);
  for (int w = 0; w < Cfg::WARPS; ++w)
    for (int i = 0; i < Cfg::FM; ++i)
      for (int j = 0; j < Cfg::FN; ++j)
        for (int r = 0; r < 16; ++r)
          for (int q = 0; q < 16; ++q) cover[(size_t)((Cfg::c_row(w, i) + r) * Cfg::BN + Cfg::c_col(w, j) + q)]++;
  for (int x : cover) ok &= x == 1;
  return ok;
}

template <int ROWS, int COLS, int THREADS, bool CF>
bool walk_covers_once() {
  std::vector<int> seen(ROWS * COLS, 0);
  for (int t = 0; t < THREADS; ++t) {
    const TileWalk w = tile_walk<ROWS, COLS, THREADS, CF>(t);
    for (int q = 0; q < ROWS * COLS / THREADS; ++q) {
      const int r = w.r0 + q * w.dr, c = w.c0 + q * w.dc;
      if (r < 0 || r >= ROWS || c < 0 || c >= COLS) return false;
      seen[(size_t)(r * COLS + c)]++;
    }
    if (t + 1 < THREADS) {  // neighbours walk the contiguous dim (coalescing)
      const TileWalk n = tile_walk<ROWS, COLS, THREADS, CF>(t + 1);
      if (CF ? (n.r0 == w.r0 && n.c0 != w.c0 + 1) : (n.c0 == w.c0 && n.r0 != w.r0 + 1)) return false;
    }
  }
  for (int s : seen)
    if (s != 1) return false;
  return true;
}

template <class Cfg>
bool walks_ok() {
  return walk_covers_once<Cfg::BM, Cfg::BK, Cfg::THREADS, true>() && walk_covers_once<Cfg::BM, Cfg::BK, Cfg::THREADS, false>() &&
         walk_covers_once<Cfg::BK, Cfg::BN, Cfg::THREADS, true>() && walk_covers_once<Cfg::BK, Cfg::BN, Cfg::THREADS, false>();
}

// One matmul through the launcher's setup and a replay of the chosen kernel.
template <class Cfg>
void gemm_case(const std::string& name, Tensor A, Tensor B, const Attrs& attrs, double tol, bool capped_grid) {
  OpCall c;
  c.op = OpId::MATMUL;
  c.in = {A, B};
  parse_op(c, attrs);
  const MatmulParams mp = c.p<MatmulParams>();
  Tensor ref = reference(OpId::MATMUL, {A, B}, attrs);
  const int64_t M = ref.size(-2), N = ref.size(-1), K = gemm_k(A, mp);
  if (!gemm_operand_ok(A, mp.trans_a, M, K)) A = contiguous(A);
  if (!gemm_operand_ok(B, mp.trans_b, K, N)) B = contiguous(B);
  const GemmProblem g = gemm_problem(A, B, ref.shape(), mp);
  const GemmGrid gr = gemm_grid(g.M, g.N, g.batch, Cfg::BM, Cfg::BN);
  const unsigned gy = capped_grid ? 1 : gr.y, gz = capped_grid ? 1 : gr.z;
  Tensor out = Tensor::empty(ref.shape(), ref.dtype());  // NaN-poisoned
  constexpr bool simt = std::is_same<Cfg, SimtBig>::value || std::is_same<Cfg, SimtSmall>::value;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* a = static_cast<const T*>(A.raw());
    const T* b = static_cast<const T*>(B.raw());
    T* o = static_cast<T*>(out.raw());
    if constexpr (simt) {
      if (g.a_k_fastest && g.b_n_fastest) replay_simt<Cfg, true, true>(g, a, b, o, gy, gz);
      else if (g.a_k_fastest) replay_simt<Cfg, true, false>(g, a, b, o, gy, gz);
      else if (g.b_n_fastest) replay_simt<Cfg, false, true>(g, a, b, o, gy, gz);
      else replay_simt<Cfg, false, false>(g, a, b, o, gy, gz);
    } else {
      if (g.a_k_fastest && g.b_n_fastest) replay_tc<Cfg, true, true>(g, a, b, o, gy, gz);
      else if (g.a_k_fastest) replay_tc<Cfg, true, false>(g, a, b, o, gy, gz);
      else if (g.b_n_fastest) replay_tc<Cfg, false, true>(g, a, b, o, gy, gz);
      else replay_tc<Cfg, false, false>(g, a, b, o, gy, gz);
    }
  };
  if constexpr (simt) {
    run(float{});
  } else {
    if (ref.dtype() == DType::F16) run(f16_t{});
    else run(bf16_t{});
  }
  expect_close(ref, as_floats(out), tol, name);
}

template <class Cfg>
void gemm_suite(const char* cfg, DType dt, uint64_t& seed) {
  const double tol = dt == DType::F32 ? 1e-10 : (dt == DType::F16 ? 1e-5 : 1e-4);
  auto next = [&] { return seed++; };
  const std::string pre = std::string("gemm ") + cfg + " " + dtype_name(dt) + " ";
  Attrs none;
  const int64_t shapes[][3] = {{1, 1, 1}, {7, 63, 129}, {63, 1, 7}, {129, 130, 33}, {200, 257, 17}, {5, 300, 0}};
  for (const auto& s : shapes)
    gemm_case<Cfg>(pre + std::to_string(s[0]) + "x" + std::to_string(s[2]) + "x" + std::to_string(s[1]),
                   randn_t(Dims{s[0], s[2]}, next(), dt), randn_t(Dims{s[2], s[1]}, next(), dt), none, tol, false);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      Attrs a;
      a.set_bool("transA", ta);
      a.set_bool("transB", tb);
      a.set_number("alpha", 0.5);
      const Dims sa = ta ? Dims{3, 70, 65} : Dims{3, 65, 70}, sb = tb ? Dims{1, 33, 70} : Dims{1, 70, 33};
      gemm_case<Cfg>(pre + "batched-broadcast ta" + std::to_string(ta) + " tb" + std::to_string(tb), randn_t(sa, next(), dt),
                     randn_t(sb, next(), dt), a, tol, false);
    }
  gemm_case<Cfg>(pre + "strided operands", transposed_view(Dims{2, 63, 40}, next(), dt),
                 transposed_view(Dims{40, 129}, next(), dt), none, tol, false);
  gemm_case<Cfg>(pre + "no unit stride (contiguous fallback)", no_unit_stride(Dims{37, 21}, next(), dt),
                 no_unit_stride(Dims{21, 45}, next(), dt), none, tol, false);
  gemm_case<Cfg>(pre + "grid capped to 1 row-tile and 1 batch (loops)", randn_t(Dims{4, 150, 20}, next(), dt),
                 randn_t(Dims{4, 20, 70}, next(), dt), none, tol, true);
}

void test_gemm() {
  expect(walks_ok<SimtBig>() && walks_ok<SimtSmall>() && walks_ok<TcBig>() && walks_ok<TcSmall>(),
         "tile walks cover every tile element once, neighbours coalesce");
  expect(tc_layout_ok<TcBig>() && tc_layout_ok<TcSmall>(), "WMMA fragments: 32-byte aligned, in bounds, cover the tile once");
  expect(!gemm_use_big_tiles(64, 64, 1000, 132) && gemm_use_big_tiles(4096, 4096, 1, 132) &&
             !gemm_use_big_tiles(256, 256, 1, 132),
         "tile configuration choice");
  const GemmGrid gg = gemm_grid(10000000, 100, 100000, 128, 128);
  expect(gg.y == 65535 && gg.z == 65535 && gg.tiles_m == 78125, "grid y/z capped at 65535 (kernels loop)");
  uint64_t seed = 1000;
  gemm_suite<SimtBig>("simt128", DType::F32, seed);
  gemm_suite<SimtSmall>("simt64", DType::F32, seed);
  for (DType dt : {DType::F16, DType::BF16}) {
    gemm_suite<TcBig>("tc128", dt, seed);
    gemm_suite<TcSmall>("tc64", dt, seed);
  }
}

// ---- flash attention: the kernel's phases, thread by thread ---------------------

std::vector<float> replay_sdpa(const SdpaProblem& p, const SdpaPlan& pl, const Tensor& Q, const Tensor& K,
                               const Tensor& V, DType dt) {
  const int NT = 128;
  std::vector<float> sm((size_t)pl.floats + 64, 12345.0f);  // guard tail stays untouched
  Tensor out = Tensor::empty(Dims{p.B, p.T, p.H, p.Dv}, dt);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* q = static_cast<const T*>(Q.raw());
    const T* k = static_cast<const T*>(K.raw());
    const T* v = static_cast<const T*>(V.raw());
    T* o = static_cast<T*>(out.raw());
    for (int64_t task = 0; task < sdpa_tasks(p, pl.bq); ++task) {
      const SdpaTask t = sdpa_task(p, pl.bq, task);
      for (int tid = 0; tid < NT; ++tid) sdpa_begin(p, pl, t, q, sm.data(), tid, NT);
      for (int64_t k0 = 0; k0 < t.kend; k0 += pl.bk) {
        for (int tid = 0; tid < NT; ++tid) sdpa_load_kv(p, pl, t, k0, k, v, sm.data(), tid, NT);
        for (int tid = 0; tid < NT; ++tid) sdpa_scores(p, pl, t, k0, sm.data(), tid, NT);
        for (int tid = 0; tid < NT; ++tid) sdpa_softmax_rows(p, pl, t, k0, sm.data(), tid, NT);
        for (int tid = 0; tid < NT; ++tid) sdpa_accumulate(p, pl, t, k0, sm.data(), tid, NT);
      }
      for (int tid = 0; tid < NT; ++tid) sdpa_store(p, pl, t, sm.data(), o, tid, NT);
    }
  };
  if (dt == DType::F32) run(float{});
  else if (dt == DType::F16) run(f16_t{});
  else run(bf16_t{});
  bool guard = true;
  for (size_t i = (size_t)pl.floats; i < sm.size(); ++i) guard &= sm[i] == 12345.0f;
  if (!guard) return {};
  return as_floats(out);
}

void sdpa_case(const std::string& name, const Tensor& q, const Tensor& k, const Tensor& v, const Attrs& a, int tile,
               double tol) {
  OpCall c;
  c.op = OpId::SDPA;
  c.in = {q, k, v};
  parse_op(c, a);
  Tensor ref = reference(OpId::SDPA, {q, k, v}, a);
  const SdpaProblem p = sdpa_problem(q, k, v, c.p<SdpaParams>());
  SdpaPlan pl;
  if (tile) pl = sdpa_plan(p.D, p.Dv, tile, tile);
  else if (!sdpa_choose(p.D, p.Dv, 48 * 1024, &pl)) pl = sdpa_plan(p.D, p.Dv, 4, 4);
  std::vector<float> got = replay_sdpa(p, pl, q, k, v, q.dtype());
  if (got.empty()) {
    expect(false, name, "shared-memory guard overwritten");
    return;
  }
  expect_close(ref, got, tol, name + " (tile " + std::to_string(pl.bq) + ")");
}

void test_sdpa() {
  SdpaPlan pl;
  expect(sdpa_choose(64, 64, 48 * 1024, &pl) && pl.bq == 32 && sdpa_choose(128, 128, 48 * 1024, &pl) && pl.bq == 16 &&
             !sdpa_choose(1000, 1000, 48 * 1024, &pl) && sdpa_choose(1000, 1000, 227 * 1024, &pl) && pl.bq == 8 &&
             !sdpa_choose(100000, 100000, 227 * 1024, &pl),
         "sdpa tile choice by head dims and shared-memory limit");
  expect(sdpa_plan(60, 33, 32, 32).dp % 2 == 1 && sdpa_plan(64, 64, 16, 16).dvp == 65, "odd row strides in the sdpa tiles");
  uint64_t seed = 600;
  auto next = [&] { return seed++; };
  for (DType dt : {DType::F32, DType::F16, DType::BF16})
    for (int causal = 0; causal < 2; ++causal)
      for (int64_t t : {1L, 63L, 129L}) {
        const int64_t s = causal ? t + 7 : 129;
        Attrs a;
        a.set_bool("causal", causal);
        sdpa_case(std::string("sdpa ") + dtype_name(dt) + (causal ? " causal" : "") + " T" + std::to_string(t) + " GQA 4/2",
                  randn_t(Dims{2, t, 4, 60}, next(), dt), randn_t(Dims{2, s, 2, 60}, next(), dt),
                  randn_t(Dims{2, s, 2, 33}, next(), dt), a, 0, dt == DType::F32 ? 1e-10 : 1e-8);
      }
  Attrs a;
  a.set_number("scale", 0.3);
  sdpa_case("sdpa strided q, S=300, H_kv=1", randn_t(Dims{1, 4, 7, 63}, next()).permute({0, 2, 1, 3}),
            randn_t(Dims{1, 300, 1, 63}, next()), randn_t(Dims{1, 300, 1, 63}, next()), a, 0, 1e-10);
  Attrs causal;
  causal.set_bool("causal", true);
  for (int tile : {4, 8, 16, 32})
    sdpa_case("sdpa causal T=37 S=50 D=128 H=3/1, forced tile", randn_t(Dims{1, 37, 3, 128}, next()),
              randn_t(Dims{1, 50, 1, 128}, next()), randn_t(Dims{1, 50, 1, 16}, next()), causal, tile, 1e-10);
  Attrs nc;
  nc.set_bool("causal", false);
  sdpa_case("sdpa no keys (S=0): NaN like the reference", randn_t(Dims{1, 3, 2, 8}, next()), randn_t(Dims{1, 0, 2, 8}, next()),
            randn_t(Dims{1, 0, 2, 8}, next()), nc, 0, 1e-10);
}


// ---- titansMlp: the kernel's loop body (cuda/hd/titans_mlp_body.h) ------------

Tensor gate_t(const Dims& s, uint64_t seed, float lo, float hi) {
  Tensor t = rand_uniform(s, seed);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = lo + (hi - lo) * p[i];
  return t;
}

struct MlpEmuCase {
  int64_t B = 1, T = 37, H = 2, d = 16, dh = 48, C = 16;
  int64_t offset = -1;  // >= 0: anchors + offset inputs
  bool mom = true, decay = true, state = true, strided = false;
  const char* act = "gelu";
  DType dt = DType::F32;
};

void titans_mlp_case(const MlpEmuCase& mc, uint64_t seed) {
  Dims qs{mc.B, mc.T, mc.H, mc.d}, gs{mc.B, mc.T, mc.H};
  // q, k of norm ~1 and milder gates, as the parity cases: a diverging memory would compare overflow.
  const float qk = 1.0f / std::sqrt((float)mc.d);
  auto seqt = [&](uint64_t sd) {
    if (!mc.strided) return randn_t(qs, sd, mc.dt, qk);
    return randn_t(Dims{mc.B, mc.T, mc.d, mc.H}, sd, mc.dt, qk).permute({0, 1, 3, 2});  // [B, T, D, H] viewed as [B, T, H, D]
  };
  std::vector<Tensor> in = {seqt(seed), seqt(seed + 1), randn_t(qs, seed + 2, mc.dt, 0.5f),
                            gate_t(gs, seed + 3, 0.02f, 0.15f)};
  in.push_back(mc.decay ? gate_t(gs, seed + 4, 0.0f, 0.05f) : Tensor());
  in.push_back(mc.mom ? gate_t(gs, seed + 5, 0.3f, 0.8f) : Tensor());
  const float s1 = 1.0f / std::sqrt((float)mc.dh), s2 = 1.0f / std::sqrt((float)mc.d);
  if (mc.state) {
    in.push_back(randn_t(Dims{mc.B, mc.H, mc.d, mc.dh}, seed + 6, DType::F32, s1));
    in.push_back(randn_t(Dims{1, mc.H, mc.dh, mc.d}, seed + 7, DType::F32, s2));  // batch-1 broadcast
    in.push_back(randn_t(Dims{mc.B, mc.H, mc.d, mc.dh}, seed + 8, DType::F32, 0.1f * s1));
    in.push_back(randn_t(Dims{mc.B, mc.H, mc.dh, mc.d}, seed + 9, DType::F32, 0.1f * s2));
  }
  if (mc.offset >= 0) {
    in.resize(10);
    in.push_back(randn_t(Dims{mc.B, mc.H, mc.d, mc.dh}, seed + 10, DType::F32, s1));
    in.push_back(randn_t(Dims{1, mc.H, mc.dh, mc.d}, seed + 11, DType::F32, s2));
    Tensor off = Tensor::empty(Dims{1}, DType::I32);
    *off.data<int32_t>() = (int32_t)mc.offset;
    in.push_back(off);
  }
  Attrs at;
  at.set_number("chunkSize", (double)mc.C);
  at.set_bool("momentum", mc.mom);
  at.set_bool("decay", mc.decay);
  at.set_string("activation", mc.act);
  at.set_number("hidden", (double)mc.dh);
  OpCall ref;
  ref.op = OpId::TITANS_MLP;
  ref.in = in;
  parse_op(ref, at);
  prepare_op(ref);
  cpu::run_reference(ref);

  const std::string name = std::string("titansMlp replay ") + dtype_name(mc.dt) + " B" + std::to_string(mc.B) + " T" +
                           std::to_string(mc.T) + " H" + std::to_string(mc.H) + " d" + std::to_string(mc.d) + " dh" +
                           std::to_string(mc.dh) + " C" + std::to_string(mc.C) + " " + mc.act + (mc.mom ? "" : " nomom") +
                           (mc.decay ? "" : " nodecay") + (mc.state ? "" : " zero-state") + (mc.strided ? " strided" : "") +
                           (mc.offset >= 0 ? " offset" + std::to_string(mc.offset) : "");
  for (int nthreads : {1, 5}) {
    OpCall c;
    c.op = OpId::TITANS_MLP;
    c.in = in;
    parse_op(c, at);
    prepare_op(c);  // outputs allocated (NaN-poisoned): every element must be written
    TitansMlpArgs a = titans_mlp_args(c);  // the launcher's wiring
    std::vector<float> ws((size_t)(mc.B * mc.H * 6 * mc.d * mc.dh), NAN);
    a.ws = ws.data();
    emulate_blocks((int)(mc.B * mc.H), titans_mlp_smem_floats((int)mc.d, (int)mc.dh), nthreads,
                   [&](int bh, float* sm, const EmuExec& x) { titans_mlp_block(a, bh, sm, x); });
    const std::string tag = name + (nthreads > 1 ? " [5 threads]" : " [1 thread]");
    const double tol = mc.dt == DType::F32 ? 1e-9 : 1e-5;  // bf16/f16 outputs: rounding of the output
    expect_close(ref.out[0], as_floats(c.out[0]), tol, tag + " o");
    const char* st[] = {"W1", "W2", "S1", "S2", "A1", "A2"};
    for (int i = 1; i <= 6; ++i) expect_close(ref.out[(size_t)i], as_floats(c.out[(size_t)i]), 1e-9, tag + " " + st[i - 1]);
  }
}

void test_titans_mlp() {
  uint64_t seed = 9100;
  MlpEmuCase base;
  for (int64_t C : {1, 4, 16, 64}) {
    MlpEmuCase c = base;
    c.C = C;
    titans_mlp_case(c, seed += 20);
  }
  {
    MlpEmuCase c = base;
    c.mom = false;
    titans_mlp_case(c, seed += 20);
    c.decay = false;
    titans_mlp_case(c, seed += 20);
    c.mom = true;
    titans_mlp_case(c, seed += 20);
  }
  for (const char* act : {"geluTanh", "silu", "relu", "tanh"}) {
    MlpEmuCase c = base;
    c.act = act;
    titans_mlp_case(c, seed += 20);
  }
  for (int64_t off : {0, 5, 15}) {
    MlpEmuCase c = base;
    c.offset = off;
    titans_mlp_case(c, seed += 20);
  }
  {
    MlpEmuCase c = base;
    c.state = false;
    titans_mlp_case(c, seed += 20);
  }
  {
    MlpEmuCase c = base;
    c.T = 1;
    c.offset = 7;
    titans_mlp_case(c, seed += 20);
  }
  {
    MlpEmuCase c = base;
    c.B = 2;
    c.H = 3;
    c.d = 20;
    c.dh = 33;
    c.C = 8;
    c.strided = true;
    titans_mlp_case(c, seed += 20);
  }
  for (DType dt : {DType::BF16, DType::F16}) {
    MlpEmuCase c = base;
    c.dt = dt;
    titans_mlp_case(c, seed += 20);
  }
  {
    MlpEmuCase c = base;  // a longer run with several chunks, d 64, dh 256 (the model shape)
    c.T = 70;
    c.H = 1;
    c.d = 64;
    c.dh = 256;
    c.C = 32;
    titans_mlp_case(c, seed += 20);
  }
}


struct TttEmuCase {
  int64_t B = 1, T = 37, H = 2, dk = 16, dv = 16, dh = 40, C = 8;
  bool ln = true, residual = true, bias = true, token_idx = false, state = true, ln_params = true, strided = false;
  const char* act = "geluTanh";
  DType dt = DType::F32;
};

void ttt_mlp_case(const TttEmuCase& mc, uint64_t seed) {
  Dims qs{mc.B, mc.T, mc.H, mc.dk}, vs{mc.B, mc.T, mc.H, mc.dv}, gs{mc.B, mc.T, mc.H};
  const float qk = 1.0f / std::sqrt((float)mc.dk);
  auto seqt = [&](uint64_t sd) {
    if (!mc.strided) return randn_t(qs, sd, mc.dt, qk);
    return randn_t(Dims{mc.B, mc.T, mc.dk, mc.H}, sd, mc.dt, qk).permute({0, 1, 3, 2});
  };
  std::vector<Tensor> in = {seqt(seed), seqt(seed + 1), randn_t(vs, seed + 2, mc.dt, 0.5f), gate_t(gs, seed + 3, 0.05f, 0.5f)};
  if (mc.ln && mc.ln_params) {
    Tensor g = gate_t(Dims{mc.H, mc.dv}, seed + 4, 0.5f, 1.5f);
    in.push_back(g);
    in.push_back(randn_t(Dims{mc.H, mc.dv}, seed + 5, DType::F32, 0.1f));
  } else {
    in.push_back(Tensor());
    in.push_back(Tensor());
  }
  if (mc.state) {
    const float s1 = 1.0f / std::sqrt((float)mc.dk), s2 = 1.0f / std::sqrt((float)mc.dh);
    in.push_back(randn_t(Dims{mc.B, mc.H, mc.dk, mc.dh}, seed + 6, DType::F32, s1));
    in.push_back(mc.bias ? randn_t(Dims{mc.B, mc.H, mc.dh}, seed + 7, DType::F32, 0.1f) : Tensor());
    in.push_back(randn_t(Dims{1, mc.H, mc.dh, mc.dv}, seed + 8, DType::F32, s2));  // batch-1 broadcast
    in.push_back(mc.bias ? randn_t(Dims{mc.B, mc.H, mc.dv}, seed + 9, DType::F32, 0.1f) : Tensor());
  }
  Attrs at;
  at.set_number("chunkSize", (double)mc.C);
  at.set_bool("layerNorm", mc.ln);
  at.set_bool("residual", mc.residual);
  at.set_bool("bias", mc.bias);
  at.set_bool("tokenIdx", mc.token_idx);
  at.set_string("activation", mc.act);
  at.set_number("hidden", (double)mc.dh);
  OpCall ref;
  ref.op = OpId::TTT_MLP;
  ref.in = in;
  parse_op(ref, at);
  prepare_op(ref);
  cpu::run_reference(ref);
  const std::string name = std::string("tttMlp replay ") + dtype_name(mc.dt) + " B" + std::to_string(mc.B) + " T" +
                           std::to_string(mc.T) + " H" + std::to_string(mc.H) + " dk" + std::to_string(mc.dk) + " dv" +
                           std::to_string(mc.dv) + " dh" + std::to_string(mc.dh) + " C" + std::to_string(mc.C) + " " +
                           mc.act + (mc.ln ? "" : " noLN") + (mc.residual ? "" : " nores") + (mc.bias ? "" : " nobias") +
                           (mc.token_idx ? " tokenIdx" : "") + (mc.state ? "" : " zero-state") +
                           (mc.ln_params ? "" : " no-ln-params") + (mc.strided ? " strided" : "");
  for (int nthreads : {1, 5}) {
    OpCall c;
    c.op = OpId::TTT_MLP;
    c.in = in;
    parse_op(c, at);
    prepare_op(c);
    TttMlpArgs a = ttt_mlp_args(c);  // the launcher's wiring
    std::vector<float> ws((size_t)(mc.B * mc.H * ttt_mlp_ws_floats((int)mc.dk, (int)mc.dv, (int)mc.dh)), NAN);
    a.ws = ws.data();
    emulate_blocks((int)(mc.B * mc.H), ttt_mlp_smem_floats((int)mc.dk, (int)mc.dv, (int)mc.dh), nthreads,
                   [&](int bh, float* sm, const EmuExec& x) { ttt_mlp_block(a, bh, sm, x); });
    const std::string tag = name + (nthreads > 1 ? " [5 threads]" : " [1 thread]");
    const double tol = mc.dt == DType::F32 ? 1e-9 : 1e-5;
    expect_close(ref.out[0], as_floats(c.out[0]), tol, tag + " o");
    const char* st[] = {"W1", "b1", "W2", "b2"};
    for (int i = 1; i <= 4; ++i)
      if (c.out[(size_t)i].numel()) expect_close(ref.out[(size_t)i], as_floats(c.out[(size_t)i]), 1e-9, tag + " " + st[i - 1]);
  }
}

void test_ttt_mlp() {
  uint64_t seed = 9700;
  TttEmuCase base;
  for (int64_t C : {1, 4, 8, 64}) {
    TttEmuCase c = base;
    c.C = C;
    ttt_mlp_case(c, seed += 20);
  }
  {
    TttEmuCase c = base;
    c.token_idx = true;
    ttt_mlp_case(c, seed += 20);
    c.ln = false;
    ttt_mlp_case(c, seed += 20);
    c.ln = true;
    c.residual = false;
    c.dv = 12;  // no residual: dk != dv allowed
    ttt_mlp_case(c, seed += 20);
    c.bias = false;
    ttt_mlp_case(c, seed += 20);
  }
  {
    TttEmuCase c = base;
    c.ln_params = false;
    ttt_mlp_case(c, seed += 20);
    c.state = false;
    ttt_mlp_case(c, seed += 20);
  }
  for (const char* act : {"gelu", "silu", "relu", "tanh"}) {
    TttEmuCase c = base;
    c.act = act;
    ttt_mlp_case(c, seed += 20);
  }
  {
    TttEmuCase c = base;
    c.B = 2;
    c.H = 3;
    c.dk = c.dv = 20;
    c.dh = 33;
    c.C = 5;
    c.strided = true;
    ttt_mlp_case(c, seed += 20);
  }
  {
    TttEmuCase c = base;
    c.T = 1;
    ttt_mlp_case(c, seed += 20);
  }
  for (DType dt : {DType::BF16, DType::F16}) {
    TttEmuCase c = base;
    c.dt = dt;
    ttt_mlp_case(c, seed += 20);
  }
  {
    TttEmuCase c = base;  // the model shape: d 64, dh 256, several mini-batches
    c.T = 50;
    c.H = 1;
    c.dk = c.dv = 64;
    c.dh = 256;
    c.C = 16;
    ttt_mlp_case(c, seed += 20);
  }
}


// ---- titansLinear / gatedDeltaRule token loops (cuda/hd/memory_token_body.h) ----

struct TokCase {
  int64_t B = 1, T = 45, H = 2, dk = 16, dv = 12, C = 16;
  int64_t offset = -1;
  bool mom = true, decay = true, state = true, strided = false, recurrent = false;
  DType dt = DType::F32;
};

std::string tok_name(const char* op, const TokCase& c) {
  return std::string(op) + " token loop " + dtype_name(c.dt) + " B" + std::to_string(c.B) + " T" + std::to_string(c.T) +
         " H" + std::to_string(c.H) + " dk" + std::to_string(c.dk) + " dv" + std::to_string(c.dv) + " C" +
         std::to_string(c.C) + (c.mom ? "" : " nomom") + (c.decay ? "" : " nodecay") + (c.state ? "" : " zero-state") +
         (c.strided ? " strided" : "") + (c.recurrent ? " recurrent" : "") +
         (c.offset >= 0 ? " offset" + std::to_string(c.offset) : "");
}

Tensor tok_seq(const TokCase& c, int64_t D, uint64_t sd, float scale) {
  if (!c.strided) return randn_t(Dims{c.B, c.T, c.H, D}, sd, c.dt, scale);
  return randn_t(Dims{c.B, c.T, D, c.H}, sd, c.dt, scale).permute({0, 1, 3, 2});
}

OpCall run_ref(OpId op, const std::vector<Tensor>& in, const Attrs& at) {
  OpCall ref;
  ref.op = op;
  ref.in = in;
  parse_op(ref, at);
  prepare_op(ref);
  cpu::run_reference(ref);
  return ref;
}

void titans_token_case(const TokCase& mc, uint64_t seed) {
  Dims gs{mc.B, mc.T, mc.H};
  const float qk = 1.0f / std::sqrt((float)mc.dk);
  std::vector<Tensor> in = {tok_seq(mc, mc.dk, seed, qk), tok_seq(mc, mc.dk, seed + 1, qk),
                            tok_seq(mc, mc.dv, seed + 2, 0.5f), gate_t(gs, seed + 3, 0.05f, 0.3f)};
  in.push_back(mc.decay ? gate_t(gs, seed + 4, 0.0f, 0.1f) : Tensor());
  in.push_back(mc.mom ? gate_t(gs, seed + 5, 0.3f, 0.9f) : Tensor());
  if (mc.state) {
    in.push_back(randn_t(Dims{mc.B, mc.H, mc.dv, mc.dk}, seed + 6, DType::F32, 0.3f));
    in.push_back(randn_t(Dims{1, mc.H, mc.dv, mc.dk}, seed + 7, DType::F32, 0.1f));  // batch-1 broadcast
  }
  if (mc.offset >= 0) {
    in.resize(8);
    in.push_back(randn_t(Dims{mc.B, mc.H, mc.dv, mc.dk}, seed + 8, DType::F32, 0.3f));
    Tensor off = Tensor::empty(Dims{1}, DType::I32);
    *off.data<int32_t>() = (int32_t)mc.offset;
    in.push_back(off);
  }
  Attrs at;
  at.set_number("chunkSize", (double)mc.C);
  at.set_bool("momentum", mc.mom);
  at.set_bool("decay", mc.decay);
  if (mc.recurrent) at.set_string("mode", "recurrent");
  const OpCall ref = run_ref(OpId::TITANS_LINEAR, in, at);
  for (int nthreads : {1, 5}) {
    OpCall c;
    c.op = OpId::TITANS_LINEAR;
    c.in = in;
    parse_op(c, at);
    prepare_op(c);
    LinTokArgs a = titans_linear_token_args(c);  // the launcher's wiring
    std::vector<float> ws((size_t)(mc.B * mc.H * 3 * mc.dk * mc.dv), NAN);
    a.ws = ws.data();
    emulate_blocks((int)(mc.B * mc.H), lin_token_smem_floats((int)mc.dk), nthreads,
                   [&](int bh, float* sm, const EmuExec& x) { titans_linear_token_block(a, bh, sm, x); });
    const std::string tag = tok_name("titansLinear", mc) + (nthreads > 1 ? " [5 threads]" : " [1 thread]");
    const double tol = mc.dt == DType::F32 ? 1e-9 : 1e-5;
    expect_close(ref.out[0], as_floats(c.out[0]), tol, tag + " o");
    const char* st[] = {"M", "S", "A"};
    for (int i = 1; i <= 3; ++i) expect_close(ref.out[(size_t)i], as_floats(c.out[(size_t)i]), 1e-9, tag + " " + st[i - 1]);
  }
}

void gdn_token_case(const TokCase& mc, uint64_t seed, double scale_opt) {
  Dims gs{mc.B, mc.T, mc.H};
  auto unit = [&](uint64_t sd) {  // l2-normalised keys/queries, as the models use
    Tensor t = randn_t(Dims{mc.B, mc.T, mc.H, mc.dk}, sd);
    float* p = t.data<float>();
    for (int64_t r = 0; r < t.numel() / mc.dk; ++r) {
      double n = 0;
      for (int64_t e = 0; e < mc.dk; ++e) n += (double)p[r * mc.dk + e] * p[r * mc.dk + e];
      for (int64_t e = 0; e < mc.dk; ++e) p[r * mc.dk + e] = (float)(p[r * mc.dk + e] / std::sqrt(n + 1e-12));
    }
    if (mc.dt != DType::F32) {
      Attrs a;
      a.set_string("to", dtype_name(mc.dt));
      t = call_op1(OpId::CAST, {t}, a);
    }
    return t;
  };
  std::vector<Tensor> in = {unit(seed), unit(seed + 1), tok_seq(mc, mc.dv, seed + 2, 1.0f),
                            gate_t(gs, seed + 3, -1.0f, 0.0f), gate_t(gs, seed + 4, 0.05f, 0.95f)};
  if (mc.state) in.push_back(randn_t(Dims{mc.B, mc.H, mc.dk, mc.dv}, seed + 5, DType::F32, 0.5f));
  Attrs at;
  at.set_number("chunkSize", (double)mc.C);
  if (scale_opt > 0) at.set_number("scale", scale_opt);
  if (mc.recurrent) at.set_string("mode", "recurrent");
  const OpCall ref = run_ref(OpId::GATED_DELTA_RULE, in, at);
  for (int nthreads : {1, 5}) {
    OpCall c;
    c.op = OpId::GATED_DELTA_RULE;
    c.in = in;
    parse_op(c, at);
    prepare_op(c);
    GdnTokArgs a = gdn_token_args(c);  // the launcher's wiring
    std::vector<float> ws((size_t)(mc.B * mc.H * mc.dk * mc.dv), NAN);
    a.ws = ws.data();
    emulate_blocks((int)(mc.B * mc.H), gdn_token_smem_floats((int)mc.dk), nthreads,
                   [&](int bh, float* sm, const EmuExec& x) { gdn_token_block(a, bh, sm, x); });
    const std::string tag = tok_name("gatedDeltaRule", mc) + (scale_opt > 0 ? " scale" : "") +
                            (nthreads > 1 ? " [5 threads]" : " [1 thread]");
    const double tol = mc.dt == DType::F32 ? 1e-9 : 1e-5;
    expect_close(ref.out[0], as_floats(c.out[0]), tol, tag + " o");
    if (c.out[1].numel()) expect_close(ref.out[1], as_floats(c.out[1]), 1e-9, tag + " S");
  }
}

void test_memory_token_loops() {
  uint64_t seed = 9900;
  TokCase base;
  for (int64_t C : {1, 4, 16, 64}) {
    TokCase c = base;
    c.C = C;
    titans_token_case(c, seed += 20);
  }
  {
    TokCase c = base;
    c.recurrent = true;
    titans_token_case(c, seed += 20);
    c.mom = false;
    titans_token_case(c, seed += 20);
    c.decay = false;
    titans_token_case(c, seed += 20);
  }
  for (int64_t off : {0, 3, 15}) {
    TokCase c = base;
    c.offset = off;
    titans_token_case(c, seed += 20);
  }
  {
    TokCase c = base;
    c.T = 1;
    c.offset = 9;
    titans_token_case(c, seed += 20);
    c = base;
    c.state = false;
    titans_token_case(c, seed += 20);
    c = base;
    c.B = 2;
    c.H = 3;
    c.dk = 20;
    c.dv = 33;
    c.C = 7;
    c.strided = true;
    titans_token_case(c, seed += 20);
  }
  for (DType dt : {DType::BF16, DType::F16}) {
    TokCase c = base;
    c.dt = dt;
    titans_token_case(c, seed += 20);
  }
  for (bool rec : {false, true}) {
    TokCase c = base;
    c.recurrent = rec;
    gdn_token_case(c, seed += 20, 0);
    c.state = false;
    gdn_token_case(c, seed += 20, 0.3);
    c.state = true;
    c.B = 2;
    c.H = 3;
    c.dk = 20;
    c.dv = 33;
    c.T = 70;
    c.strided = true;
    gdn_token_case(c, seed += 20, 0);
  }
  for (DType dt : {DType::BF16, DType::F16}) {
    TokCase c = base;
    c.dt = dt;
    gdn_token_case(c, seed += 20, 0);
  }
  {
    TokCase c = base;  // the model shape
    c.T = 80;
    c.H = 1;
    c.dk = c.dv = 128;
    titans_token_case(c, seed += 20);
    gdn_token_case(c, seed += 20, 0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--verbose")) g_verbose = true;
  set_poison(true);
  const std::pair<const char*, std::function<void()>> groups[] = {
      {"casts", test_casts},   {"unary/binary", test_unary_binary}, {"index", test_index},
      {"lanes", test_lane_algorithms}, {"gemm", test_gemm}, {"sdpa", test_sdpa},
      {"titansMlp", test_titans_mlp}, {"tttMlp", test_ttt_mlp},
      {"memory token loops", test_memory_token_loops}};
  for (const auto& g : groups) {
    try {
      g.second();
    } catch (const std::exception& e) {
      expect(false, std::string(g.first) + " threw", e.what());
    }
  }
  std::printf("cuda math (host replays of the CUDA kernels' shared code): %d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
