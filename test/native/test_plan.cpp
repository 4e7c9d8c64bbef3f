// Native tests of plans, the plain KV cache and the safetensors reader (run
// without Node, e.g. on a GPU machine: build-native/test_plan):
//   - a plan equals the same ops run one by one, on every available device;
//   - planned buffers never overlap while both are live, and the arena is
//     smaller than one buffer per intermediate;
//   - a bound sdpa node through PlainKVCache equals sdpa over the whole
//     sequence, windowed caches equal sdpaWindow;
//   - 20k mutated safetensors images parse or fail with E_FORMAT.
// Ends with "N passed, N failed".
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "engram/attention_cache.h"
#include "engram/backend.h"
#include "engram/philox.h"
#include "engram/plan.h"
#include "engram/safetensors.h"

using namespace engram;

static int g_pass = 0, g_fail = 0;
#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (cond) {                                            \
      ++g_pass;                                            \
    } else {                                               \
      ++g_fail;                                            \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__);     \
      std::printf(__VA_ARGS__);                            \
      std::printf("\n");                                   \
    }                                                      \
  } while (0)

static uint32_t philox_u32(uint64_t seed, uint64_t i) { return philox4x32_10(i, seed).v[0]; }

static double max_diff(const Tensor& a, const Tensor& b) {
  Tensor x = to_device(contiguous(a), DeviceType::CPU), y = to_device(contiguous(b), DeviceType::CPU);
  if (x.shape() != y.shape()) return INFINITY;
  double m = 0;
  for (int64_t i = 0; i < x.numel(); ++i) m = std::fmax(m, std::fabs((double)x.data<float>()[i] - y.data<float>()[i]));
  return m;
}

static PlanNode node(const std::string& name, const std::string& op, std::vector<int> in, Attrs a = {}, int bind = -1) {
  PlanNode n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(in);
  n.attrs = std::move(a);
  n.bind = bind;
  return n;
}

static void test_plan_vs_eager(DeviceType dev) {
  const char* dn = device_name(dev);
  Tensor x = to_device(randn(Dims{2, 7, 16}, 1), dev), w1 = randn(Dims{32, 16}, 2), w2 = randn(Dims{16, 32}, 3);
  PlanDesc d;
  d.device = dev;
  d.inputs = {{"x", x.spec()}};
  d.params = {{"w1", w1}, {"w2", w2}};
  Attrs tb;
  tb.set_bool("transB", true);
  Attrs shape;
  shape.set_numbers("shape", {2, 7, 4, 4});
  Attrs perm;
  perm.set_numbers("perm", {0, 2, 1, 3});
  Attrs flat;
  flat.set_numbers("shape", {2, 112});
  // values: 0 x, 1 w1, 2 w2, 3 up, 4 act, 5 down, 6 res, 7 heads, 8 sdpa, 9 perm, 10 flat
  d.nodes = {node("up", "matmul", {0, 1}, tb),     node("act", "silu", {3}),
             node("down", "matmul", {4, 2}, tb),   node("res", "add", {0, 5}),
             node("heads", "view.reshape", {6}, shape), node("attn", "sdpa", {7, 7, 7}),
             node("swap", "view.permute", {8}, perm),   node("flat", "view.reshape", {9}, flat)};
  d.outputs = {6, 10};
  auto plan = Plan::compile(d);
  std::vector<Tensor> out = plan->run({x}, {});
  Tensor w1d = to_device(w1, dev), w2d = to_device(w2, dev);
  Tensor up = call_op1(OpId::MATMUL, {x, w1d}, tb), act = call_op1(OpId::SILU, {up});
  Tensor down = call_op1(OpId::MATMUL, {act, w2d}, tb), res = call_op1(OpId::ADD, {x, down});
  Tensor att = call_op1(OpId::SDPA, {res.reshape(Dims{2, 7, 4, 4}), res.reshape(Dims{2, 7, 4, 4}), res.reshape(Dims{2, 7, 4, 4})});
  Tensor fl = contiguous(att.permute({0, 2, 1, 3})).reshape(Dims{2, 112});
  CHECK(max_diff(out[0], res) == 0, "%s: plan residual differs from eager by %g", dn, max_diff(out[0], res));
  CHECK(max_diff(out[1], fl) == 0, "%s: plan attention output differs from eager by %g", dn, max_diff(out[1], fl));
  const PlanStats& s = plan->stats();
  CHECK(s.copies_inserted == 2 && s.planned_bytes < s.naive_bytes, "%s: copies %lld, planned %lld, naive %lld", dn,
        (long long)s.copies_inserted, (long long)s.planned_bytes, (long long)s.naive_bytes);
  // bad node: the error names it
  PlanDesc bad = d;
  bad.nodes[2] = node("down_proj", "matmul", {4, 2});
  try {
    Plan::compile(bad);
    CHECK(false, "a bad node compiled");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::E_SHAPE && std::string(e.what()).find("'down_proj'") != std::string::npos, "%s", e.what());
  }
}

static void test_offsets() {
  // a_i = f(a_{i-1}, a_{i-2}): a_i is live with a_{i+1} and a_{i+2}.
  PlanDesc d;
  d.inputs = {{"x", TensorSpec{Dims{32, 32}, DType::F32}}};
  d.nodes.push_back(node("a0", "exp", {0}));
  d.nodes.push_back(node("a1", "silu", {1}));
  for (int i = 2; i < 10; ++i) d.nodes.push_back(node("a" + std::to_string(i), "add", {i, i - 1}));
  d.outputs = {10};
  auto plan = Plan::compile(d);
  std::vector<int64_t> off = plan->value_offsets();
  bool ok = true;
  for (int i = 1; i <= 9; ++i)
    for (int j = i + 1; j <= std::min(9, i + 2); ++j) ok &= std::llabs(off[i] - off[j]) >= 32 * 32 * 4;
  CHECK(ok, "values live at the same time share memory");
  CHECK(plan->stats().planned_bytes <= 3 * 4096, "arena %lld", (long long)plan->stats().planned_bytes);
}

static void test_kv_cache(DeviceType dev) {
  const char* dn = device_name(dev);
  const int64_t B = 2, T = 23, H = 4, Hkv = 2, D = 8;
  Tensor q = to_device(randn(Dims{B, T, H, D}, 10), dev), k = to_device(randn(Dims{B, T, Hkv, D}, 11), dev),
         v = to_device(randn(Dims{B, T, Hkv, D}, 12), dev);
  Tensor full = call_op1(OpId::SDPA, {q, k, v});
  for (int64_t window : {0L, 5L}) {
    Attrs wa;
    wa.set_number("window", (double)(window ? window : 1));
    Tensor want = window ? call_op1(OpId::SDPA_WINDOW, {q, k, v}, wa) : full;
    PlanDesc d;
    d.device = dev;
    d.bindings = 1;
    // inputs q, k, v of one chunk; the node is bound to slot 0
    const int64_t n = 5;
    d.inputs = {{"q", TensorSpec{Dims{B, n, H, D}, DType::F32}}, {"k", TensorSpec{Dims{B, n, Hkv, D}, DType::F32}},
                {"v", TensorSpec{Dims{B, n, Hkv, D}, DType::F32}}};
    d.nodes = {node("attn", window ? "sdpaWindow" : "sdpa", {0, 1, 2}, window ? wa : Attrs(), 0)};
    d.outputs = {3};
    auto plan = Plan::compile(d);
    auto cache = std::make_shared<PlainKVCache>(B, Hkv, D, D, window, dev);
    double worst = 0;
    for (int64_t t0 = 0; t0 + n <= T; t0 += n) {
      auto o = plan->run({q.slice(1, t0, t0 + n), k.slice(1, t0, t0 + n), v.slice(1, t0, t0 + n)}, {cache})[0];
      worst = std::fmax(worst, max_diff(o, want.slice(1, t0, t0 + n)));
    }
    CHECK(worst < 1e-5, "%s window %lld: chunks through the cache differ by %g", dn, (long long)window, worst);
    CHECK(window == 0 || cache->length() < T, "%s: windowed cache kept %lld positions", dn, (long long)cache->length());
  }
}

static void test_safetensors_fuzz() {
  // A valid image: two tensors.
  std::string header = R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"I8","shape":[5],"data_offsets":[24,29]},"__metadata__":{"k":"v"}})";
  std::vector<uint8_t> good(8 + header.size() + 29);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) good[i] = (uint8_t)(n >> (8 * i));
  std::memcpy(good.data() + 8, header.data(), n);
  for (size_t i = 8 + n; i < good.size(); ++i) good[i] = (uint8_t)(i * 31);
  SafetensorsFile f = load_safetensors_bytes(good.data(), good.size());
  CHECK(f.tensors.size() == 2 && f.header.metadata.size() == 1, "valid image did not load");
  int loaded = 0, rejected = 0, other = 0;
  for (uint64_t it = 0; it < 20000; ++it) {
    std::vector<uint8_t> m = good;
    const uint32_t r0 = philox_u32(7, it * 4), r1 = philox_u32(7, it * 4 + 1);
    switch (r0 % 4) {
      case 0: m.resize(r1 % good.size()); break;  // truncate
      case 1:                                       // flip bytes
        for (uint32_t j = 0; j < 1 + r1 % 4; ++j) m[philox_u32(8, it * 8 + j) % m.size()] = (uint8_t)philox_u32(9, it * 8 + j);
        break;
      case 2:  // a lying header length
        for (int i = 0; i < 8; ++i) m[i] = (uint8_t)philox_u32(10, it * 8 + i);
        if (r1 & 1) m[7] = m[6] = m[5] = m[4] = 0;
        break;
      default:  // noise
        m.assign(r1 % 200, 0);
        for (size_t i = 0; i < m.size(); ++i) m[i] = (uint8_t)philox_u32(11, it * 256 + i);
    }
    try {
      load_safetensors_bytes(m.data(), m.size());
      ++loaded;
    } catch (const Error& e) {
      if (e.code() == ErrorCode::E_FORMAT || e.code() == ErrorCode::E_OOM) ++rejected;
      else ++other;
    }
  }
  CHECK(other == 0 && rejected > 10000, "fuzz: %d loaded, %d rejected, %d other errors", loaded, rejected, other);
  std::printf("safetensors fuzz: %d loaded, %d rejected\n", loaded, rejected);
}

int main() {
  std::vector<DeviceType> devs = {DeviceType::CPU};
  if (cuda_backend().available()) devs.push_back(DeviceType::CUDA);
  else std::printf("cuda: not available (%s); cpu only\n", cuda_backend().info().reason.c_str());
  for (DeviceType d : devs) {
    test_plan_vs_eager(d);
    test_kv_cache(d);
  }
  test_offsets();
  test_safetensors_fuzz();
  std::printf("plan: %d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
