// QuantizerHandle (see quant_wrap.h): construction from JS options (unknown
// options are E_ARG), encode / encodeAsync / decode / dot over tensors, bit
// accounting, and the dense transform A for tests.
#include "quant_wrap.h"

#include <cmath>
#include <cstring>

#include "../cpu/cpu_common.h"
#include "../quant/kernels.h"
#include "addon_data.h"
#include "async_job.h"
#include "engram/engine.h"
#include "errors.h"
#include "napi_util.h"
#include "tensor_wrap.h"

namespace engram {
namespace napi {

using quant::QuantConfig;
using quant::QuantKind;
using quant::Quantizer;

namespace {

const char* who_of(QuantKind k) {
  switch (k) {
    case QuantKind::TURBO: return "turboQuant";
    case QuantKind::QJL: return "qjl";
    case QuantKind::KIVI: return "kivi";
    case QuantKind::INT8: return "int8";
    default: return "quantizer";
  }
}

// A CPU f32 contiguous copy (or view) of a float tensor, every value finite.
Tensor f32_rows(const Tensor& t, const char* what) {
  ENGRAM_CHECK(is_float(t.dtype()), DTYPE, what, " must be f32, f16 or bf16, got ", dtype_name(t.dtype()));
  Tensor c = cpu::as_f32_contiguous(to_device(t, DeviceType::CPU));
  const float* p = c.data<float>();
  for (int64_t i = 0; i < c.numel(); ++i)
    ENGRAM_CHECK(std::isfinite(p[i]), NAN, what, " has a non-finite value at index ", i);
  return c;
}

void outliers_from(QuantConfig& c, const Attrs& a, const char* who, int n_out, const Tensor* calib) {
  std::vector<int64_t> flat = a.get_ints(who, "outlierChannels");
  const int64_t heads = a.get_int(who, "outlierHeads", 1);
  const bool per_head = a.get_bool(who, "perHead", true);
  const bool center = a.get_bool(who, "center", false);
  ENGRAM_CHECK(!center || calib, ARG, who, ": center needs calibration data (the per-channel means)");
  ENGRAM_CHECK(!(calib && !flat.empty()), ARG, who, ": give either outlierChannels or calibration, not both");
  if (!flat.empty()) {
    ENGRAM_CHECK(heads >= 1 && heads <= 4096 && (int64_t)flat.size() % heads == 0, ARG, who,
                 ": outlierChannels must hold the same number of channels for each of ", heads, " heads");
    c.heads = (int)heads;
    c.outliers.assign(flat.begin(), flat.end());
    for (int64_t v : flat) ENGRAM_CHECK(v >= 0 && v < c.dim, ARG, who, ": outlier channel ", v, " outside [0, ", c.dim, ")");
    if (c.kind == QuantKind::QJL && c.n_outliers == 0) c.n_outliers = (int)(flat.size() / heads);
    return;
  }
  if (!calib) return;
  const Tensor& t = *calib;
  ENGRAM_CHECK((t.ndim() == 2 || t.ndim() == 3) && t.size(-1) == c.dim, SHAPE, who,
               ": calibration must be [rows, dim] or [rows, heads, dim] with dim ", c.dim, ", got ", t.shape().str());
  Tensor x = f32_rows(t, "calibration");
  const int H = t.ndim() == 3 ? (int)t.size(1) : 1;
  ENGRAM_CHECK(H >= 1 && H <= 4096 && t.size(0) >= 1, SHAPE, who, ": calibration needs at least one row");
  const bool ph = per_head && H > 1;
  c.heads = ph ? H : 1;
  if (center) c.center = quant::channel_means(x.data<float>(), t.size(0), H, c.dim, ph);
  if (n_out > 0) c.outliers = quant::select_outliers(x.data<float>(), t.size(0), H, c.dim, n_out, ph, center);
}

QuantConfig parse_config(const std::string& kind, const Attrs& a, const Tensor* calib) {
  QuantConfig c;
  auto scalars = [&](const char* who, const char* key) {
    const std::string s = a.get_string(who, key, "f16");
    ENGRAM_CHECK(s == "f16" || s == "f32", ARG, who, ": ", key, " must be 'f16' or 'f32', got '", s, "'");
    c.f32_scalars = s == "f32";
  };
  auto seed = [&](const char* who) {
    const int64_t s = a.get_int(who, "seed", 0);
    ENGRAM_CHECK(s >= 0, ARG, who, ": seed must be a non-negative integer, got ", s);
    c.seed = (uint64_t)s;
  };
  if (kind == "turboquant") {
    const char* who = "turboQuant";
    c.kind = QuantKind::TURBO;
    c.dim = (int)a.get_int(who, "dim", 0);
    ENGRAM_CHECK(c.dim >= 2 && c.dim <= 8192, ARG, who, ": dim must be an integer in [2, 8192], got ", c.dim);
    c.bits = a.get_float(who, "bits", NAN);
    const std::string variant = a.get_string(who, "variant", "mse"), rot = a.get_string(who, "rotation", "dense");
    const std::string sk = a.get_string(who, "sketch", "gaussian");
    ENGRAM_CHECK(variant == "mse" || variant == "prod", ARG, who, ": variant must be 'mse' or 'prod', got '", variant, "'");
    ENGRAM_CHECK(rot == "dense" || rot == "hadamard", ARG, who, ": rotation must be 'dense' or 'hadamard', got '", rot, "'");
    ENGRAM_CHECK(sk == "gaussian" || sk == "orthogonal", ARG, who, ": sketch must be 'gaussian' or 'orthogonal', got '", sk, "'");
    c.prod = variant == "prod";
    c.hadamard = rot == "hadamard";
    c.orth_sketch = sk == "orthogonal";
    seed(who);
    scalars(who, "normDType");
    const int n_out = quant::turbo_split(c.bits, c.dim).n_out;  // validates bits
    outliers_from(c, a, who, n_out, calib);
    a.check_all_used(who);
  } else if (kind == "qjl") {
    const char* who = "qjl";
    c.kind = QuantKind::QJL;
    c.dim = (int)a.get_int(who, "dim", 0);
    ENGRAM_CHECK(c.dim >= 2 && c.dim <= 8192, ARG, who, ": dim must be an integer in [2, 8192], got ", c.dim);
    c.sketch = (int)a.get_int(who, "sketchDim", 2 * c.dim);
    c.n_outliers = (int)a.get_int(who, "outliers", 0);
    c.outlier_sketch = (int)a.get_int(who, "outlierSketchDim", 0);
    const std::string proj = a.get_string(who, "projection", "orthogonal");
    ENGRAM_CHECK(proj == "gaussian" || proj == "orthogonal", ARG, who, ": projection must be 'gaussian' or 'orthogonal'");
    c.orth_sketch = proj == "orthogonal";
    seed(who);
    scalars(who, "normDType");
    ENGRAM_CHECK(c.n_outliers >= 0 && c.n_outliers < c.dim, ARG, who, ": outliers must be in [0, dim), got ", c.n_outliers);
    outliers_from(c, a, who, c.n_outliers, calib);
    a.check_all_used(who);
  } else if (kind == "kivi") {
    const char* who = "kivi";
    c.kind = QuantKind::KIVI;
    c.dim = (int)a.get_int(who, "dim", 0);
    c.bits = a.get_float(who, "bits", NAN);
    c.group = (int)a.get_int(who, "groupSize", 32);
    c.residual = (int)a.get_int(who, "residual", 128);
    const std::string axis = a.get_string(who, "axis", "token");
    ENGRAM_CHECK(axis == "token" || axis == "channel", ARG, who, ": axis must be 'token' or 'channel', got '", axis, "'");
    c.channel_axis = axis == "channel";
    scalars(who, "scaleDType");
    a.check_all_used(who);
    ENGRAM_CHECK(!calib, ARG, who, ": takes no calibration");
  } else if (kind == "int8") {
    c.kind = QuantKind::INT8;
    c.dim = (int)a.get_int("int8", "dim", 0);
    scalars("int8", "scaleDType");
    a.check_all_used("int8");
    ENGRAM_CHECK(!calib, ARG, "int8: takes no calibration");
  } else {
    fail(ErrorCode::E_ARG, "unknown quantizer kind '", kind, "' (turboquant, qjl, kivi, int8)");
  }
  if (c.dim) quant::make_quantizer(c, c.dim);  // validate now (and warm the codebook cache)
  else if (c.kind == QuantKind::KIVI) quant::make_quantizer(c, 128);
  return c;
}

int64_t int_arg(const Napi::Value& v, const char* what, int64_t lo, int64_t hi) {
  ENGRAM_CHECK(v.IsNumber(), ARG, what, " must be an integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  ENGRAM_CHECK(std::isfinite(d) && d == std::floor(d) && d >= (double)lo && d <= (double)hi, ARG, what,
               " must be an integer in [", lo, ", ", hi, "], got ", d);
  return (int64_t)d;
}

// Encode job: inputs converted on the JS thread, the work runnable anywhere.
struct EncodeJob {
  std::shared_ptr<const Quantizer> q;
  Tensor x, out;
  int64_t rows = 0;
  void run() const {
    const int d = q->dim(), H = q->table_heads();
    const float* src = x.data<float>();
    uint8_t* dst = out.data<uint8_t>();
    if (H == 1) {
      q->encode(src, d, rows, 0, dst);
      return;
    }
    const int64_t per = rows / H, bb = q->block_bytes();
    std::vector<uint8_t> tmp((size_t)(per * bb));
    for (int h = 0; h < H; ++h) {
      q->encode(src + (int64_t)h * d, (int64_t)H * d, per, h, tmp.data());
      for (int64_t i = 0; i < per; ++i) std::memcpy(dst + (i * H + h) * bb, tmp.data() + i * bb, (size_t)bb);
    }
  }
};

}  // namespace

// ---- handle --------------------------------------------------------------------

void QuantizerHandle::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "QuantizerHandle",
                                 {InstanceMethod("info", &QuantizerHandle::Info), InstanceMethod("bits", &QuantizerHandle::Bits),
                                  InstanceMethod("encode", &QuantizerHandle::Encode),
                                  InstanceMethod("encodeAsync", &QuantizerHandle::EncodeAsync),
                                  InstanceMethod("decode", &QuantizerHandle::Decode), InstanceMethod("dot", &QuantizerHandle::Dot),
                                  InstanceMethod("matrix", &QuantizerHandle::Matrix)});
  addon_data(env).quantizer_ctor = Napi::Persistent(f);
  exports.Set("QuantizerHandle", f);
}

// new QuantizerHandle(kind, options, calibration?) from JS; Wrap() passes an External.
QuantizerHandle::QuantizerHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<QuantizerHandle>(info) {
  Napi::Env env = info.Env();
  if (info.Length() == 1 && info[0].IsExternal()) return;
  try {
    ENGRAM_CHECK(info.Length() >= 1 && info[0].IsString(), ARG, "quantizer: kind must be a string");
    const std::string kind = info[0].As<Napi::String>().Utf8Value();
    Attrs a = attrs_from_js(info.Length() > 1 ? info[1] : env.Undefined(), kind.c_str());
    Tensor calib;
    if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) calib = TensorHandle::Get(env, info[2], "calibration");
    cfg_ = parse_config(kind, a, calib.defined() ? &calib : nullptr);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_as_js(env);
  }
}

Napi::Object QuantizerHandle::Wrap(Napi::Env env, std::shared_ptr<const Quantizer> q) {
  Napi::Object o = addon_data(env).quantizer_ctor.New({Napi::External<void>::New(env, nullptr)});
  QuantizerHandle* h = Napi::ObjectWrap<QuantizerHandle>::Unwrap(o);
  h->cfg_ = q->config();
  if (h->cfg_.kind == QuantKind::PLAIN || h->cfg_.kind == QuantKind::KIVI || h->cfg_.kind == QuantKind::INT8)
    h->cfg_.dim = q->dim();
  h->built_[q->dim()] = std::move(q);
  return o;
}

QuantizerHandle* QuantizerHandle::Get(Napi::Env env, Napi::Value v, const char* what) {
  ENGRAM_CHECK(v.IsObject() && v.As<Napi::Object>().InstanceOf(addon_data(env).quantizer_ctor.Value()), ARG, what,
               " must be a quantizer (engram.quant.*) or 'f32' | 'f16' | 'bf16'");
  return Napi::ObjectWrap<QuantizerHandle>::Unwrap(v.As<Napi::Object>());
}

std::shared_ptr<const Quantizer> QuantizerHandle::get(int dim) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = built_.find(dim);
  if (it != built_.end()) return it->second;
  auto q = quant::make_quantizer(cfg_, dim);  // E_SHAPE when dim differs from a fixed one
  built_[dim] = q;
  return q;
}

Napi::Object bit_account_to_js(Napi::Env env, const quant::BitAccount& a) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("bitsPerValue", a.bits_per_value);
  o.Set("codeBits", a.code_bits);
  o.Set("overheadBits", a.overhead_bits);
  o.Set("paddingBits", a.padding_bits);
  o.Set("nominalBits", a.nominal_bits);
  o.Set("blockBytes", (double)a.block_bytes);
  o.Set("blockTokens", a.block_tokens);
  o.Set("compression", 16.0 / a.bits_per_value);
  o.Set("codeCompression", 16.0 / a.code_bits);
  return o;
}

Napi::Object quant_config_to_js(Napi::Env env, const QuantConfig& c) {
  Napi::Object o = Napi::Object::New(env);
  const char* kinds[] = {"plain", "turboquant", "qjl", "kivi", "int8"};
  o.Set("kind", kinds[(int)c.kind]);
  o.Set("dim", c.dim);
  switch (c.kind) {
    case QuantKind::PLAIN: o.Set("dtype", dtype_name(c.plain)); break;
    case QuantKind::TURBO:
      o.Set("bits", c.bits);
      o.Set("variant", c.prod ? "prod" : "mse");
      o.Set("rotation", c.hadamard ? "hadamard" : "dense");
      o.Set("sketch", c.orth_sketch ? "orthogonal" : "gaussian");
      break;
    case QuantKind::QJL:
      o.Set("sketchDim", c.sketch);
      o.Set("outlierSketchDim", c.outlier_sketch);
      o.Set("projection", c.orth_sketch ? "orthogonal" : "gaussian");
      break;
    case QuantKind::KIVI:
      o.Set("bits", c.bits);
      o.Set("groupSize", c.group);
      o.Set("residual", c.residual);
      o.Set("axis", c.channel_axis ? "channel" : "token");
      break;
    case QuantKind::INT8: break;
  }
  if (c.kind == QuantKind::TURBO || c.kind == QuantKind::QJL) {
    o.Set("seed", (double)c.seed);
    o.Set("centered", Napi::Boolean::New(env, !c.center.empty()));
    Napi::Array heads = Napi::Array::New(env);
    const int n = c.n_outliers;
    for (int h = 0; n && h < c.heads && (size_t)(h + 1) * n <= c.outliers.size(); ++h) {
      Napi::Array ch = Napi::Array::New(env, (size_t)n);
      for (int i = 0; i < n; ++i) ch.Set((uint32_t)i, c.outliers[(size_t)h * n + i]);
      heads.Set((uint32_t)h, ch);
    }
    o.Set("outlierChannels", heads);
  }
  if (c.kind != QuantKind::PLAIN) o.Set(c.kind == QuantKind::KIVI || c.kind == QuantKind::INT8 ? "scaleDType" : "normDType",
                                        c.f32_scalars ? "f32" : "f16");
  return o;
}

Napi::Value QuantizerHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    QuantConfig c = cfg_;
    if (c.dim && (c.kind == QuantKind::TURBO || c.kind == QuantKind::QJL)) c = get(c.dim)->config();  // resolved outliers
    Napi::Object o = quant_config_to_js(env, c);
    if (c.dim) {
      auto q = get(c.dim);
      o.Set("tDim", q->t_dim());
      o.Set("blockBytes", (double)q->block_bytes());
      o.Set("blockTokens", q->block_tokens());
      o.Set("tableHeads", q->table_heads());
    }
    return o;
  })
}

Napi::Value QuantizerHandle::Bits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    int dim = cfg_.dim;
    if (info.Length() > 0 && !info[0].IsUndefined()) dim = (int)int_arg(info[0], "bits(dim)", 1, 8192);
    ENGRAM_CHECK(dim > 0, ARG, who_of(cfg_.kind), ".bits(): pass the vector dimension");
    return bit_account_to_js(env, get(dim)->bits());
  })
}

static EncodeJob prepare_encode(Napi::Env env, QuantizerHandle& self, const Napi::CallbackInfo& info) {
  const Tensor& t = TensorHandle::Get(env, info[0], "encode(x)");
  ENGRAM_CHECK(t.ndim() >= 1, SHAPE, "encode(x): x must have a vector dimension");
  EncodeJob job;
  job.q = self.get((int)t.size(-1));
  const Quantizer& q = *job.q;
  job.rows = t.numel() / q.dim();
  const int H = q.table_heads();
  if (H > 1)
    ENGRAM_CHECK(t.ndim() >= 2 && t.size(-2) == H, SHAPE, "encode(x): the quantizer has per-head outlier channels for ", H,
                 " heads; x must be [..., ", H, ", ", q.dim(), "], got ", t.shape().str());
  Dims os;
  if (q.block_tokens() > 1) {
    ENGRAM_CHECK(t.ndim() == 2 && job.rows % q.block_tokens() == 0, SHAPE, "encode(x): per-channel KIVI needs x [rows, dim] with rows a multiple of groupSize ",
                 q.block_tokens(), ", got ", t.shape().str());
    os = Dims{job.rows / q.block_tokens(), q.block_bytes()};
  } else {
    for (int i = 0; i + 1 < t.ndim(); ++i) os.push_back(t.size(i));
    os.push_back(q.block_bytes());
  }
  job.x = f32_rows(t, "encode(x)");
  q.validate(job.x.data<float>(), q.dim(), job.rows);
  job.out = Tensor::empty(os, DType::U8);
  return job;
}

Napi::Value QuantizerHandle::Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    EncodeJob job = prepare_encode(env, *this, info);
    job.run();
    return TensorHandle::Wrap(env, job.out);
  })
}

Napi::Value QuantizerHandle::EncodeAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    auto job = std::make_shared<EncodeJob>(prepare_encode(env, *this, info));
    return PromiseJob::Start(
        env, "engram:quant.encode", [job] { job->run(); },
        [job](Napi::Env e) -> Napi::Value { return TensorHandle::Wrap(e, job->out); });
  })
}

// codes [..., blockBytes] -> (quantizer, rows, blocks); dim from the argument or the config.
static std::shared_ptr<const Quantizer> codes_arg(Napi::Env env, QuantizerHandle& self, const Napi::CallbackInfo& info,
                                                  size_t i_codes, size_t i_dim, const char* fn, Tensor* codes) {
  *codes = TensorHandle::Get(env, info[i_codes], fn);
  int dim = self.fixed_dim();
  if (info.Length() > i_dim && !info[i_dim].IsUndefined()) dim = (int)int_arg(info[i_dim], "dim", 1, 8192);
  ENGRAM_CHECK(dim > 0, ARG, fn, ": this quantizer has no fixed dimension; pass { dim }");
  auto q = self.get(dim);
  ENGRAM_CHECK(codes->dtype() == DType::U8, DTYPE, fn, ": codes must be u8, got ", dtype_name(codes->dtype()));
  ENGRAM_CHECK(codes->ndim() >= 1 && codes->size(-1) == q->block_bytes(), SHAPE, fn, ": codes must be [..., ",
               q->block_bytes(), "] (bytes per encoded block), got ", codes->shape().str());
  if (q->block_tokens() > 1) ENGRAM_CHECK(codes->ndim() == 2, SHAPE, fn, ": per-channel KIVI codes must be [blocks, bytes]");
  *codes = contiguous(to_device(*codes, DeviceType::CPU));
  return q;
}

Napi::Value QuantizerHandle::Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    Tensor codes;
    auto q = codes_arg(env, *this, info, 0, 1, "decode(codes)", &codes);
    const int64_t blocks = codes.numel() / q->block_bytes(), rows = blocks * q->block_tokens();
    const int H = q->table_heads();
    Dims os;
    if (q->block_tokens() > 1) {
      os = Dims{rows, q->dim()};
    } else {
      for (int i = 0; i + 1 < codes.ndim(); ++i) os.push_back(codes.size(i));
      os.push_back(q->dim());
    }
    if (H > 1) ENGRAM_CHECK(codes.ndim() >= 2 && codes.size(-2) == H, SHAPE, "decode(codes): per-head codes must be [..., ", H,
                            ", bytes], got ", codes.shape().str());
    Tensor out = Tensor::empty(os, DType::F32);
    const uint8_t* src = codes.data<uint8_t>();
    float* dst = out.data<float>();
    if (H == 1) {
      q->decode(src, rows, 0, dst, q->dim());
    } else {
      const int64_t bb = q->block_bytes();
      std::vector<uint8_t> tmp((size_t)bb);
      for (int64_t r = 0; r < rows; ++r) {
        std::memcpy(tmp.data(), src + r * bb, (size_t)bb);
        q->decode(tmp.data(), 1, (int)(r % H), dst + r * q->dim(), q->dim());
      }
    }
    return TensorHandle::Wrap(env, out);
  })
}

// dot(q [M, dim] | [dim], codes, dim?, head?) -> [M, N] | [N]
Napi::Value QuantizerHandle::Dot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    Tensor codes;
    auto q = codes_arg(env, *this, info, 1, 2, "dot(q, codes)", &codes);
    const Tensor& qt0 = TensorHandle::Get(env, info[0], "dot(q)");
    ENGRAM_CHECK((qt0.ndim() == 1 || qt0.ndim() == 2) && qt0.size(-1) == q->dim(), SHAPE, "dot(q, codes): q must be [", q->dim(),
                 "] or [M, ", q->dim(), "], got ", qt0.shape().str());
    int head = 0;
    if (info.Length() > 3 && !info[3].IsUndefined()) head = (int)int_arg(info[3], "head", 0, 4095);
    ENGRAM_CHECK(head < q->table_heads(), ARG, "dot: head ", head, " outside [0, ", q->table_heads(), ")");
    Tensor qx = f32_rows(qt0, "dot(q)");
    const int64_t M = qt0.ndim() == 2 ? qt0.size(0) : 1;
    const int64_t N = codes.numel() / q->block_bytes() * q->block_tokens();
    std::vector<float> qt((size_t)(M * q->t_dim()));
    q->transform_queries(qx.data<float>(), q->dim(), M, head, qt.data(), q->t_dim());
    Tensor out = Tensor::empty(qt0.ndim() == 2 ? Dims{M, N} : Dims{N}, DType::F32);
    quant::scores(q->desc(), qt.data(), q->t_dim(), (int)M, codes.data<uint8_t>(), N, out.data<float>(), N);
    return TensorHandle::Wrap(env, out);
  })
}

Napi::Value QuantizerHandle::Matrix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    ENGRAM_CHECK(cfg_.dim > 0, ARG, "matrix(): the quantizer has no fixed dimension");
    auto q = get(cfg_.dim);
    int head = 0;
    if (info.Length() > 0 && !info[0].IsUndefined()) head = (int)int_arg(info[0], "head", 0, q->table_heads() - 1);
    std::vector<float> a = q->matrix(head);
    Tensor t = Tensor::empty(Dims{q->t_dim(), q->dim()}, DType::F32);
    std::memcpy(t.data<float>(), a.data(), a.size() * sizeof(float));
    return TensorHandle::Wrap(env, t);
  })
}

void register_quant_functions(Napi::Env env, Napi::Object exports) { QuantizerHandle::Init(env, exports); }

}  // namespace napi
}  // namespace engram
