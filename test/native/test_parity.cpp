// Native parity binary (runs without Node):
//   build-native/test_parity [--filter substr] [--verbose]
// For each registered case: run the CPU reference, then the op on every
// available backend (cpu fast path, cuda), with outputs poisoned with NaN,
// and compare. Prints the backends it ran and a closing "N passed, N failed".
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "cpu/cpu_common.h"
#include "cpu/kernels.h"
#include "engram/alloc.h"
#include "engram/backend.h"
#include "engram/philox.h"
#include "parity.h"

namespace engram {
namespace parity {

static std::vector<std::pair<std::string, CaseFn>>& registry() {
  static std::vector<std::pair<std::string, CaseFn>> r;
  return r;
}
int register_cases(const char* group, CaseFn fn) {
  registry().emplace_back(group, std::move(fn));
  return 0;
}

Tensor rnd(const Dims& shape, uint64_t seed, DType dt, float scale, float shift) {
  Tensor f = randn(shape, seed);
  float* p = f.data<float>();
  for (int64_t i = 0; i < f.numel(); ++i) p[i] = p[i] * scale + shift;
  if (dt == DType::F32) return f;
  Attrs a;
  a.set_string("to", dtype_name(dt));
  return call_op1(OpId::CAST, {f}, a);
}

Tensor strided(const Dims& shape, uint64_t seed, DType dt) {
  if (shape.n < 2) {
    // 1-D: every other element of a buffer twice as long.
    Tensor base = rnd(Dims{shape.n ? shape[0] * 2 : 2}, seed, dt);
    return Tensor::view_of(base.storage(), shape, Dims{2}, 0, dt);
  }
  Dims big = shape;
  std::swap(big[big.n - 1], big[big.n - 2]);
  big[big.n - 2] += 1;  // padding row: the view is not a plain transpose either
  Tensor base = rnd(big, seed, dt);
  Tensor v = base.slice(-2, 0, shape[shape.n - 1]).transpose(-1, -2);
  return v;
}

Tensor ints(const Dims& shape, int lo, int hi, uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::I32);
  int32_t* p = t.data<int32_t>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    float u = philox_uniform(seed, (uint64_t)i);
    p[i] = lo + (int32_t)(u * (float)(hi - lo));
    if (p[i] >= hi) p[i] = hi - 1;
  }
  return t;
}

double tol_for(DType dt) {
  switch (dt) {
    case DType::F16: return 1e-5;
    case DType::BF16: return 1e-4;
    default: return 1e-10;
  }
}

// Copy a (possibly strided) CPU tensor to `dev` keeping its exact layout.
static Tensor mirror(const Tensor& t, DeviceType dev) {
  if (!t.defined() || dev == DeviceType::CPU) return t;
  auto st = std::make_shared<Storage>(dev, t.storage()->bytes);
  copy_bytes(st->data, dev, t.storage()->data, DeviceType::CPU, t.storage()->bytes);
  return Tensor::view_of(st, t.shape(), t.strides(), t.offset(), t.dtype());
}

struct Cmp {
  bool ok = true;
  double nmse = 0;
  std::string why;
};

static Cmp compare(const Tensor& ref, const Tensor& got, double tol) {
  Cmp c;
  Tensor g = to_device(got, DeviceType::CPU);
  if (g.shape() != ref.shape() || g.dtype() != ref.dtype()) {
    c.ok = false;
    c.why = "output " + g.describe() + " vs reference " + ref.describe();
    return c;
  }
  int64_t n = ref.numel();
  if (!is_float(ref.dtype())) {
    if (std::memcmp(g.raw(), ref.raw(), ref.nbytes()) != 0) {
      c.ok = false;
      c.why = "integer/byte output differs";
    }
    return c;
  }
  double num = 0, den = 0;
  int64_t bad_nan = 0;
  for (int64_t i = 0; i < n; ++i) {
    float r = cpu::read_f32(ref, i), x = cpu::read_f32(g, i);
    bool rn = std::isnan(r), xn = std::isnan(x);
    if (rn || xn) {
      if (rn != xn) ++bad_nan;
      continue;
    }
    if (std::isinf(r) || std::isinf(x)) {
      if (r != x) ++bad_nan;
      continue;
    }
    num += ((double)x - r) * ((double)x - r);
    den += (double)r * r;
  }
  c.nmse = num / (den > 1e-30 ? den : 1e-30);
  if (bad_nan) {
    c.ok = false;
    c.why = std::to_string(bad_nan) + " NaN/Inf mismatches (unwritten output?)";
  } else if (!(c.nmse <= tol)) {
    c.ok = false;
    char buf[96];
    std::snprintf(buf, sizeof buf, "nmse %.3g > tol %.3g", c.nmse, tol);
    c.why = buf;
  }
  return c;
}

}  // namespace parity
}  // namespace engram



int main(int argc, char** argv) {
  using namespace engram;
  using namespace engram::parity;
  std::string filter;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    else if (!std::strcmp(argv[i], "--verbose")) verbose = true;
  }
  set_poison(true);
  std::vector<DeviceType> devs = {DeviceType::CPU};
  for (DeviceType d : {DeviceType::CUDA}) {
    BackendInfo bi = backend_for(d).info();
    if (bi.available) devs.push_back(d);
    std::printf("backend %-5s %s%s\n", bi.name.c_str(), bi.available ? "available" : "not available: ",
                bi.available ? (" (" + bi.device_name + ")").c_str() : bi.reason.c_str());
  }
  std::printf("backends run:");
  for (DeviceType d : devs) std::printf(" %s", device_name(d));
  std::printf(" (against the cpu reference)\n");

  int passed = 0, failed = 0, skipped = 0;
  std::map<std::string, int> per_backend;
  for (auto& g : registry()) {
    std::vector<Case> cases;
    try {
      g.second(cases);
    } catch (const std::exception& e) {
      std::printf("FAIL %s: building cases threw: %s\n", g.first.c_str(), e.what());
      ++failed;
      continue;
    }
    for (Case& cs : cases) {
      std::string full = g.first + "/" + cs.name;
      if (!filter.empty() && full.find(filter) == std::string::npos) continue;
      OpCall ref;
      ref.op = cs.op;
      ref.in = cs.in;
      try {
        parse_op(ref, cs.attrs);
        prepare_op(ref);
        cpu::run_reference(ref);
      } catch (const std::exception& e) {
        std::printf("FAIL %s [reference]: %s\n", full.c_str(), e.what());
        ++failed;
        continue;
      }
      for (DeviceType d : devs) {
        OpCall c;
        c.op = cs.op;
        for (const Tensor& t : cs.in) c.in.push_back(mirror(t, d));
        std::string tag = full + " [" + device_name(d) + "]";
        try {
          parse_op(c, cs.attrs);
          prepare_op(c);
        } catch (const Error& e) {
          if (e.code() == ErrorCode::E_UNSUPPORTED) {
            ++skipped;
            if (verbose) std::printf("skip %s: %s\n", tag.c_str(), e.what());
            continue;
          }
          std::printf("FAIL %s: %s\n", tag.c_str(), e.what());
          ++failed;
          continue;
        }
        try {
          execute_op(c);
          backend_for(d).synchronize();
        } catch (const std::exception& e) {
          std::printf("FAIL %s: threw %s\n", tag.c_str(), e.what());
          ++failed;
          continue;
        }
        bool ok = true;
        std::string why;
        double worst = 0;
        for (size_t i = 0; i < ref.out.size(); ++i) {
          Cmp r = compare(ref.out[i], c.out[i], cs.tol);
          worst = std::max(worst, r.nmse);
          if (!r.ok) {
            ok = false;
            why += " out" + std::to_string(i) + ": " + r.why;
          }
        }
        if (ok) {
          ++passed;
          per_backend[device_name(d)]++;
          if (verbose) std::printf("ok   %s nmse %.2g\n", tag.c_str(), worst);
        } else {
          ++failed;
          std::printf("FAIL %s:%s\n", tag.c_str(), why.c_str());
        }
      }
      // The CUDA token-loop bodies on an emulated block (no GPU needed).
      {
        const std::string tag = full + " [cuda-emu]";
        OpCall c;
        c.op = cs.op;
        c.in = cs.in;
        bool ran = false;
        try {
          parse_op(c, cs.attrs);
          prepare_op(c);  // CPU outputs, NaN-poisoned
          ran = run_cuda_emulation(c);
        } catch (const std::exception& e) {
          std::printf("FAIL %s: threw %s\n", tag.c_str(), e.what());
          ++failed;
          continue;
        }
        if (ran) {
          bool ok = true;
          std::string why;
          for (size_t i = 0; i < ref.out.size(); ++i) {
            Cmp r = compare(ref.out[i], c.out[i], cs.tol);
            if (!r.ok) ok = false, why += " out" + std::to_string(i) + ": " + r.why;
          }
          if (ok) {
            ++passed;
            per_backend["cuda-emu"]++;
            if (verbose) std::printf("ok   %s\n", tag.c_str());
          } else {
            ++failed;
            std::printf("FAIL %s:%s\n", tag.c_str(), why.c_str());
          }
        }
      }
    }
  }
  for (auto& kv : per_backend) std::printf("backend %s: %d cases passed\n", kv.first.c_str(), kv.second);
  std::printf("parity: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}
