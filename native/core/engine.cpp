// Op table, validation and dispatch (run_op), device transfer, and the
// backend registry.
#include "engram/engine.h"

#include <cstring>

#include "engram/alloc.h"
#include "engram/backend.h"
#include "op_defs.h"

namespace engram {

namespace {
const OpDef kOpDefs[] = {
#define ENGRAM_X(id, name, mi, ma, no) {parse_##id, infer_##id},
    ENGRAM_OPS(ENGRAM_X)
#undef ENGRAM_X
};
static_assert(sizeof(kOpDefs) / sizeof(kOpDefs[0]) == (size_t)OpId::COUNT, "op defs out of sync");
}  // namespace

bool find_op(const std::string& name, OpId* out) {
  for (int i = 0; i < kNumOps; ++i)
    if (name == kOpArity[i].name) {
      *out = (OpId)i;
      return true;
    }
  return false;
}

const OpDef& op_def(OpId id) {
  ENGRAM_CHECK((int)id < kNumOps, INTERNAL, "bad op id ", (int)id);
  return kOpDefs[(int)id];
}

const Tensor& OpCall::input(int i) const {
  static const Tensor kUndefined;
  ENGRAM_CHECK(i >= 0 && i < kOpArity[(int)op].max_inputs, INTERNAL, op_name(op), ": input ", i, " past arity");
  return i < (int)in.size() ? in[i] : kUndefined;
}

void parse_op(OpCall& call, const Attrs& attrs) {
  op_def(call.op).parse(call, attrs);
  attrs.check_all_used(op_name(call.op));
}

std::vector<TensorSpec> infer_op(const OpCall& call) {
  const OpArity& ar = kOpArity[(int)call.op];
  const char* name = ar.name;
  int n = (int)call.in.size();
  ENGRAM_CHECK(n >= ar.min_inputs && n <= ar.max_inputs, ARG, name, ": expected ",
               ar.min_inputs == ar.max_inputs ? std::to_string(ar.min_inputs)
                                              : std::to_string(ar.min_inputs) + ".." + std::to_string(ar.max_inputs),
               " inputs, got ", n);
  for (int i = 0; i < ar.min_inputs; ++i)
    ENGRAM_CHECK(call.in[i].defined(), ARG, name, ": input ", i, " is required");
  bool have_dev = false;
  DeviceType dev = DeviceType::CPU;
  for (int i = 0; i < n; ++i) {
    const Tensor& t = call.in[i];
    if (!t.defined()) continue;
    if (is_packed(t.dtype()))
      ENGRAM_CHECK(t.is_contiguous(), SHAPE, name, ": packed input ", i, " must be contiguous");
    if (!have_dev) {
      dev = t.device();
      have_dev = true;
    } else {
      ENGRAM_CHECK(t.device() == dev, DEVICE, name, ": inputs on different devices (", device_name(dev), " and ",
                   device_name(t.device()), "); move them with .to()");
    }
  }
  std::vector<TensorSpec> outs;
  op_def(call.op).infer(call, outs);
  for (const TensorSpec& s : outs) (void)checked_numel(s.shape);
  return outs;
}

static DeviceType call_device(const OpCall& call) {
  for (const Tensor& t : call.in)
    if (t.defined()) return t.device();
  return DeviceType::CPU;
}

void prepare_op(OpCall& call) {
  std::vector<TensorSpec> specs = infer_op(call);
  DeviceType dev = call_device(call);
  require_available(dev);
  if (call.out.empty()) {
    for (const TensorSpec& s : specs) call.out.push_back(Tensor::empty(s.shape, s.dtype, dev));
  } else {
    ENGRAM_CHECK(call.out.size() == specs.size(), INTERNAL, op_name(call.op), ": ", call.out.size(),
                 " pre-assigned outputs, expected ", specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      const Tensor& o = call.out[i];
      ENGRAM_CHECK(o.defined() && o.shape() == specs[i].shape && o.dtype() == specs[i].dtype &&
                       o.device() == dev && o.is_contiguous(),
                   SHAPE, op_name(call.op), ": output ", i, " must be a contiguous ", dtype_name(specs[i].dtype),
                   specs[i].shape.str(), " on ", device_name(dev), ", got ", o.describe());
    }
  }
  Backend& be = backend_for(dev);
  if (!be.supports_op(call)) {
    std::string ins;
    for (const Tensor& t : call.in) ins += (ins.empty() ? "" : ", ") + t.describe();
    fail(ErrorCode::E_UNSUPPORTED, op_name(call.op), ": not supported on ", device_name(dev), " for inputs (", ins, ")");
  }
}

void execute_op(OpCall& call) {
  bool any = false;  // all outputs empty: nothing to compute
  for (const Tensor& o : call.out) any |= o.numel() > 0;
  if (!any) return;
  backend_for(call_device(call)).run(call);
}

void run_op(OpCall& call) {
  prepare_op(call);
  execute_op(call);
}

std::vector<Tensor> call_op(OpId id, const std::vector<Tensor>& inputs, const Attrs& attrs) {
  OpCall c;
  c.op = id;
  c.in = inputs;
  parse_op(c, attrs);
  run_op(c);
  return c.out;
}

Tensor call_op1(OpId id, const std::vector<Tensor>& inputs, const Attrs& attrs) { return call_op(id, inputs, attrs)[0]; }

Tensor contiguous(const Tensor& t) {
  if (t.is_contiguous()) return t;
  return call_op1(OpId::COPY, {t});
}

Tensor to_device(const Tensor& t, DeviceType dev) {
  ENGRAM_CHECK(t.defined(), ARG, "to(): undefined tensor");
  if (t.device() == dev) return t;
  require_available(dev);
  Tensor src = contiguous(t);
  Tensor out = Tensor::empty(src.shape(), src.dtype(), dev);
  copy_bytes(out.raw(), dev, src.raw(), src.device(), src.nbytes());
  return out;
}

// ---- shared validation helpers ----
void require_float(const char* op, const char* what, const Tensor& t) {
  ENGRAM_CHECK(is_float(t.dtype()), DTYPE, op, ": ", what, " must be f32, f16 or bf16, got ", dtype_name(t.dtype()));
}
void require_same_dtype(const char* op, const char* wa, const Tensor& a, const char* wb, const Tensor& b) {
  ENGRAM_CHECK(a.dtype() == b.dtype(), DTYPE, op, ": ", wa, " is ", dtype_name(a.dtype()), " but ", wb, " is ",
               dtype_name(b.dtype()), "; cast one of them");
}
void require_rank(const char* op, const char* what, const Tensor& t, int nd) {
  ENGRAM_CHECK(t.ndim() == nd, SHAPE, op, ": ", what, " must have ", nd, " dimensions, got ", t.shape().str());
}
Dims broadcast_shapes(const char* op, const Dims& a, const Dims& b) {
  Dims out;
  int n = a.n > b.n ? a.n : b.n;
  out.n = n;
  for (int i = 0; i < n; ++i) {
    int ia = a.n - n + i, ib = b.n - n + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    ENGRAM_CHECK(da == db || da == 1 || db == 1, SHAPE, op, ": shapes ", a.str(), " and ", b.str(),
                 " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// ---- backend registry ----
Backend& backend_for(DeviceType dev) { return dev == DeviceType::CPU ? cpu_backend() : cuda_backend(); }

void require_available(DeviceType dev) {
  Backend& be = backend_for(dev);
  if (be.available()) return;
  BackendInfo inf = be.info();
  fail(ErrorCode::E_DEVICE, device_name(dev), " is not available: ", inf.reason);
}

}  // namespace engram
