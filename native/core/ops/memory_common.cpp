// Validation shared by the test-time memory ops (see memory_common.h).
#include "memory_common.h"

#include <cmath>
#include <cstring>

namespace engram {
namespace mem {

SeqDims check_qkv(const char* op, const Tensor& q, const Tensor& k, const Tensor& v) {
  require_float(op, "q", q);
  require_same_dtype(op, "q", q, "k", k);
  require_same_dtype(op, "q", q, "v", v);
  require_rank(op, "q [B, T, H, Dk]", q, 4);
  require_rank(op, "k [B, T, H, Dk]", k, 4);
  require_rank(op, "v [B, T, H, Dv]", v, 4);
  for (int i = 0; i < 3; ++i)
    ENGRAM_CHECK(q.size(i) == k.size(i) && q.size(i) == v.size(i), SHAPE, op, ": q ", q.shape().str(), ", k ",
                 k.shape().str(), " and v ", v.shape().str(), " must agree in B, T and H");
  ENGRAM_CHECK(q.size(3) == k.size(3), SHAPE, op, ": q ", q.shape().str(), " and k ", k.shape().str(),
               " must have the same head dim");
  ENGRAM_CHECK(q.size(3) > 0 && v.size(3) > 0, SHAPE, op, ": head dims must be > 0, got q ", q.shape().str(),
               ", v ", v.shape().str());
  SeqDims d;
  d.B = q.size(0);
  d.T = q.size(1);
  d.H = q.size(2);
  d.Dk = q.size(3);
  d.Dv = v.size(3);
  return d;
}

static float gate_value(const Tensor& g, int64_t b, int64_t t, int64_t h) {
  int64_t off = b * g.stride(0) + t * g.stride(1) + h * g.stride(2);
  const void* p = g.raw();
  switch (g.dtype()) {
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(p)[off]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[off]);
    default: return static_cast<const float*>(p)[off];
  }
}

static const char* range_text(GateRange r) {
  switch (r) {
    case GateRange::UNIT_CLOSED: return "in [0, 1]";
    case GateRange::UNIT_OPEN: return "in (0, 1)";
    case GateRange::NONNEG: return "finite and >= 0";
    case GateRange::NONPOS: return "finite and <= 0";
  }
  return "?";
}

void check_gate(const char* op, const char* name, const Tensor& gate, const SeqDims& d, GateRange range) {
  ENGRAM_CHECK(gate.defined(), ARG, op, ": gate '", name, "' is required");
  require_float(op, name, gate);
  ENGRAM_CHECK(gate.ndim() == 3 && gate.size(0) == d.B && gate.size(1) == d.T && gate.size(2) == d.H, SHAPE, op,
               ": gate '", name, "' must be [B, T, H] = [", d.B, ", ", d.T, ", ", d.H, "], got ", gate.shape().str());
  if (!gate.has_data()) return;  // shape-only (plan compile): values are checked when the plan runs
  Tensor g = gate.device() == DeviceType::CPU ? gate : to_device(gate, DeviceType::CPU);
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t t = 0; t < d.T; ++t)
      for (int64_t h = 0; h < d.H; ++h) {
        float x = gate_value(g, b, t, h);
        ENGRAM_CHECK(!std::isnan(x), NAN, op, ": gate '", name, "' is NaN at [", b, ", ", t, ", ", h, "]");
        bool ok = false;
        switch (range) {
          case GateRange::UNIT_CLOSED: ok = x >= 0.0f && x <= 1.0f; break;
          case GateRange::UNIT_OPEN: ok = x > 0.0f && x < 1.0f; break;
          case GateRange::NONNEG: ok = x >= 0.0f && std::isfinite(x); break;
          case GateRange::NONPOS: ok = x <= 0.0f && std::isfinite(x); break;
        }
        ENGRAM_CHECK(ok, ARG, op, ": gate '", name, "' must be ", range_text(range), ", got ", x, " at [", b, ", ",
                     t, ", ", h, "]");
      }
}

void check_state(const char* op, const char* name, const Tensor& s, const SeqDims& d, const Dims& tail) {
  if (!s.defined()) return;
  ENGRAM_CHECK(s.dtype() == DType::F32, DTYPE, op, ": state '", name, "' must be f32, got ", dtype_name(s.dtype()));
  bool ok = s.ndim() == 2 + tail.n && (s.size(0) == d.B || s.size(0) == 1) && s.size(1) == d.H;
  for (int i = 0; ok && i < tail.n; ++i) ok = s.size(2 + i) == tail[i];
  if (!ok) {
    Dims want{d.B, d.H};
    for (int i = 0; i < tail.n; ++i) want.push_back(tail[i]);
    fail(ErrorCode::E_SHAPE, op, ": state '", name, "' must be ", want.str(), " (or with batch 1), got ",
         s.shape().str());
  }
}

void check_head_param(const char* op, const char* name, const Tensor& p, const SeqDims& d, int64_t D) {
  if (!p.defined()) return;
  require_float(op, name, p);
  ENGRAM_CHECK(p.ndim() == 2 && p.size(0) == d.H && p.size(1) == D, SHAPE, op, ": '", name, "' must be [H, D] = [",
               d.H, ", ", D, "], got ", p.shape().str());
}

int64_t parse_chunk(const char* op, const Attrs& a, int64_t def) {
  int64_t c = a.get_int(op, "chunkSize", def);
  ENGRAM_CHECK(c >= 1 && c <= 4096, ARG, op, ": chunkSize must be in [1, 4096], got ", c);
  return c;
}

MemAct parse_act(const char* op, const Attrs& a, MemAct def) {
  static const char* names[] = {"gelu", "geluTanh", "silu", "relu", "tanh"};
  std::string s = a.get_string(op, "activation", names[(int)def]);
  for (int i = 0; i < 5; ++i)
    if (s == names[i]) return (MemAct)i;
  fail(ErrorCode::E_ARG, op, ": activation must be one of gelu, geluTanh, silu, relu, tanh; got '", s, "'");
}

bool parse_mode(const char* op, const Attrs& a) {
  std::string m = a.get_string(op, "mode", "chunk");
  ENGRAM_CHECK(m == "chunk" || m == "recurrent", ARG, op, ": mode must be 'chunk' or 'recurrent', got '", m, "'");
  return m == "recurrent";
}

TensorSpec state_spec(bool want, const SeqDims& d, const Dims& tail) {
  if (!want) return {Dims{0}, DType::F32};
  Dims s{d.B, d.H};
  for (int i = 0; i < tail.n; ++i) s.push_back(tail[i]);
  return {s, DType::F32};
}

static int64_t offset_value(const char* op, const Tensor& off, int64_t chunk) {
  Tensor h = off.device() == DeviceType::CPU ? off : to_device(off, DeviceType::CPU);
  const int64_t v = *static_cast<const int32_t*>(h.raw());
  ENGRAM_CHECK(v >= 0 && v < chunk, ARG, op, ": state 'offset' (tokens already consumed in the current chunk) must be in [0, ",
               chunk, "), got ", v);
  return v;
}

void check_offset(const char* op, const Tensor& off, int64_t chunk) {
  if (!off.defined()) return;
  ENGRAM_CHECK(off.dtype() == DType::I32, DTYPE, op, ": state 'offset' must be i32, got ", dtype_name(off.dtype()));
  ENGRAM_CHECK(off.numel() == 1 && off.ndim() <= 1, SHAPE, op, ": state 'offset' must be an i32 [1] tensor, got ",
               off.shape().str());
  if (off.has_data()) (void)offset_value(op, off, chunk);  // shape-only (plan compile): checked when the plan runs
}

int64_t read_offset(const char* op, const Tensor& off, int64_t chunk) {
  return off.defined() ? offset_value(op, off, chunk) : 0;
}

TensorSpec offset_spec(bool want) { return {Dims{want ? 1 : 0}, DType::I32}; }

}  // namespace mem
}  // namespace engram
