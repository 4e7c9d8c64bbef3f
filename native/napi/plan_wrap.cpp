// PlanHandle: the JS face of engram::Plan. `new PlanHandle(desc)` compiles
// (errors name the node); run(inputs, states) resolves off the JS thread,
// runSync runs on it. Also inferNode (the graph builder's per-node
// validation) and the registry of bindable state types (state_binding.h).
#include <napi.h>

#include <cmath>
#include <mutex>
#include <vector>

#include "async_job.h"
#include "engram/backend.h"
#include "engram/plan.h"
#include "errors.h"
#include "napi_util.h"
#include "state_binding.h"
#include "tensor_wrap.h"

namespace engram {
namespace napi {

namespace {

struct StateType {
  const napi_type_tag* tag;
  StateUnwrap fn;
};
std::mutex g_types_mu;
std::vector<StateType>& state_types() {
  static std::vector<StateType> t;
  return t;
}

std::string str_field(Napi::Object o, const char* key, const char* fn) {
  Napi::Value v = o.Get(key);
  ENGRAM_CHECK(v.IsString(), ARG, fn, ": '", key, "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

int int_value(Napi::Value v, const std::string& what) {
  ENGRAM_CHECK(v.IsNumber(), ARG, what, " must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  ENGRAM_CHECK(std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 2147483647.0, ARG, what,
               " must be an integer, got ", d);
  return (int)d;
}

TensorSpec spec_from_js(Napi::Value v, const std::string& what) {
  ENGRAM_CHECK(v.IsObject(), ARG, what, " must be {shape, dtype}");
  Napi::Object o = v.As<Napi::Object>();
  TensorSpec s;
  s.shape = parse_shape(o.Get("shape"), what.c_str());
  s.dtype = parse_dtype_arg(o.Get("dtype"), what.c_str());
  return s;
}

Napi::Object spec_to_js(Napi::Env env, const TensorSpec& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("shape", dims_to_js(env, s.shape));
  o.Set("dtype", dtype_name(s.dtype));
  return o;
}

PlanDesc desc_from_js(Napi::Env env, Napi::Value v) {
  const char* fn = "compilePlan";
  ENGRAM_CHECK(v.IsObject(), ARG, fn, ": expected a plan description object");
  Napi::Object o = v.As<Napi::Object>();
  PlanDesc d;
  d.device = parse_device_arg(o.Get("device"), fn);
  Napi::Value b = o.Get("bindings");
  d.bindings = b.IsUndefined() ? 0 : int_value(b, "compilePlan: bindings");
  Napi::Value rb = o.Get("reuseBuffers"), ka = o.Get("keepArena");
  if (!rb.IsUndefined()) d.reuse_buffers = rb.ToBoolean();
  if (!ka.IsUndefined()) d.keep_arena = ka.ToBoolean();
  auto arr = [&](const char* key) {
    Napi::Value a = o.Get(key);
    ENGRAM_CHECK(a.IsArray(), ARG, fn, ": '", key, "' must be an array");
    return a.As<Napi::Array>();
  };
  Napi::Array ins = arr("inputs");
  for (uint32_t i = 0; i < ins.Length(); ++i) {
    Napi::Value e = ins.Get(i);
    ENGRAM_CHECK(e.IsObject(), ARG, fn, ": inputs[", i, "] must be an object");
    PlanInput pi;
    pi.name = str_field(e.As<Napi::Object>(), "name", fn);
    pi.spec = spec_from_js(e, "compilePlan: input '" + pi.name + "'");
    d.inputs.push_back(pi);
  }
  Napi::Array ps = arr("params");
  for (uint32_t i = 0; i < ps.Length(); ++i) {
    Napi::Value e = ps.Get(i);
    ENGRAM_CHECK(e.IsObject(), ARG, fn, ": params[", i, "] must be an object");
    std::string name = str_field(e.As<Napi::Object>(), "name", fn);
    std::string what = "parameter '" + name + "'";
    d.params.emplace_back(name, TensorHandle::Get(env, e.As<Napi::Object>().Get("tensor"), what.c_str()));
  }
  Napi::Array ns = arr("nodes");
  for (uint32_t i = 0; i < ns.Length(); ++i) {
    Napi::Value e = ns.Get(i);
    ENGRAM_CHECK(e.IsObject(), ARG, fn, ": nodes[", i, "] must be an object");
    Napi::Object no = e.As<Napi::Object>();
    PlanNode n;
    n.name = str_field(no, "name", fn);
    n.op = str_field(no, "op", fn);
    n.attrs = attrs_from_js(no.Get("attrs"), n.name.c_str());
    Napi::Value ni = no.Get("inputs");
    ENGRAM_CHECK(ni.IsArray(), ARG, fn, ": node '", n.name, "' inputs must be an array");
    Napi::Array na = ni.As<Napi::Array>();
    for (uint32_t j = 0; j < na.Length(); ++j) n.inputs.push_back(int_value(na.Get(j), "node '" + n.name + "' input"));
    Napi::Value bind = no.Get("bind");
    if (!bind.IsUndefined() && !bind.IsNull()) n.bind = int_value(bind, "node '" + n.name + "' bind");
    d.nodes.push_back(std::move(n));
  }
  Napi::Array outs = arr("outputs");
  for (uint32_t i = 0; i < outs.Length(); ++i) d.outputs.push_back(int_value(outs.Get(i), "compilePlan: output"));
  return d;
}

class PlanHandle : public Napi::ObjectWrap<PlanHandle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "PlanHandle",
                                   {InstanceMethod("run", &PlanHandle::Run), InstanceMethod("runSync", &PlanHandle::RunSync),
                                    InstanceMethod("stats", &PlanHandle::Stats),
                                    InstanceMethod("outputSpecs", &PlanHandle::OutputSpecs),
                                    InstanceMethod("valueOffsets", &PlanHandle::ValueOffsets),
                                    InstanceMethod("releaseBuffers", &PlanHandle::ReleaseBuffers),
                                    InstanceMethod("dispose", &PlanHandle::Dispose)});
    exports.Set("PlanHandle", f);
  }

  explicit PlanHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PlanHandle>(info) {
    Napi::Env env = info.Env();
    try {
      plan_ = Plan::compile(desc_from_js(env, info.Length() ? info[0] : env.Undefined()));
    } catch (...) {
      throw_as_js(env);
    }
  }

 private:
  std::shared_ptr<Plan> live(const char* fn) const {
    ENGRAM_CHECK(plan_, DISPOSED, "plan.", fn, ": the plan was disposed");
    return plan_;
  }

  // (inputs: TensorHandle[], states: object[]) -> checked core arguments
  void args(const Napi::CallbackInfo& info, std::vector<Tensor>& ins, std::vector<std::shared_ptr<StateKernel>>& st) {
    Napi::Env env = info.Env();
    ENGRAM_CHECK(info.Length() >= 1 && info[0].IsArray(), ARG, "plan.run: inputs must be an array of tensors");
    Napi::Array a = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      std::string what = "plan.run: input " + std::to_string(i);
      ins.push_back(TensorHandle::Get(env, a.Get(i), what.c_str()));
    }
    if (info.Length() >= 2 && !info[1].IsUndefined()) {
      ENGRAM_CHECK(info[1].IsArray(), ARG, "plan.run: states must be an array");
      Napi::Array s = info[1].As<Napi::Array>();
      for (uint32_t i = 0; i < s.Length(); ++i) st.push_back(unwrap_state(env, s.Get(i), "plan.run: state " + std::to_string(i)));
    }
    plan_->check_inputs(ins, st);
  }

  static Napi::Array wrap_all(Napi::Env env, std::vector<Tensor>& outs) {
    Napi::Array r = Napi::Array::New(env, outs.size());
    for (size_t i = 0; i < outs.size(); ++i) r.Set((uint32_t)i, TensorHandle::Wrap(env, std::move(outs[i])));
    return r;
  }

  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      std::shared_ptr<Plan> p = live("run");
      auto ins = std::make_shared<std::vector<Tensor>>();
      auto st = std::make_shared<std::vector<std::shared_ptr<StateKernel>>>();
      args(info, *ins, *st);
      auto outs = std::make_shared<std::vector<Tensor>>();
      return PromiseJob::Start(
          env, "engram:plan",
          [p, ins, st, outs] {
            *outs = p->run(*ins, *st);
            if (p->device() != DeviceType::CPU) backend_for(p->device()).synchronize();
          },
          [outs](Napi::Env e) -> Napi::Value { return wrap_all(e, *outs); });
    })
  }

  Napi::Value RunSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      std::shared_ptr<Plan> p = live("runSync");
      std::vector<Tensor> ins;
      std::vector<std::shared_ptr<StateKernel>> st;
      args(info, ins, st);
      std::vector<Tensor> outs = p->run(ins, st);
      return wrap_all(env, outs);
    })
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      const PlanStats& s = live("stats")->stats();
      Napi::Object o = Napi::Object::New(env);
      auto num = [&](const char* k, int64_t v) { o.Set(k, Napi::Number::New(env, (double)v)); };
      num("nodes", s.nodes);
      num("opNodes", s.op_nodes);
      num("viewNodes", s.view_nodes);
      num("copiesInserted", s.copies_inserted);
      num("intermediates", s.intermediates);
      num("naiveBytes", s.naive_bytes);
      num("plannedBytes", s.planned_bytes);
      num("outputBytes", s.output_bytes);
      num("paramBytes", s.param_bytes);
      return o;
    })
  }

  Napi::Value OutputSpecs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      const auto& specs = live("outputSpecs")->output_specs();
      Napi::Array a = Napi::Array::New(env, specs.size());
      for (size_t i = 0; i < specs.size(); ++i) a.Set((uint32_t)i, spec_to_js(env, specs[i]));
      return a;
    })
  }

  Napi::Value ValueOffsets(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      const auto& off = live("valueOffsets")->value_offsets();
      Napi::Array a = Napi::Array::New(env, off.size());
      for (size_t i = 0; i < off.size(); ++i) a.Set((uint32_t)i, Napi::Number::New(env, (double)off[i]));
      return a;
    })
  }

  Napi::Value ReleaseBuffers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ENGRAM_NAPI_TRY(env, {
      live("releaseBuffers")->release_buffers();
      return env.Undefined();
    })
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (plan_) plan_->release_buffers();  // an in-flight run keeps its own reference
    plan_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Plan> plan_;
};

// inferNode(op, inputs: ({shape, dtype} | null)[], attrs) -> {shape, dtype}[]
Napi::Value InferNode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ENGRAM_NAPI_TRY(env, {
    ENGRAM_CHECK(info.Length() >= 2 && info[0].IsString() && info[1].IsArray(), ARG,
                 "inferNode(op, inputs, attrs): bad arguments");
    std::string op = info[0].As<Napi::String>().Utf8Value();
    Napi::Array a = info[1].As<Napi::Array>();
    std::vector<TensorSpec> specs(a.Length());
    std::vector<const TensorSpec*> ptrs;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value e = a.Get(i);
      if (e.IsNull() || e.IsUndefined()) {
        ptrs.push_back(nullptr);
        continue;
      }
      specs[i] = spec_from_js(e, op + " input " + std::to_string(i));
      ptrs.push_back(&specs[i]);
    }
    Attrs attrs = attrs_from_js(info.Length() > 2 ? info[2] : env.Undefined(), op.c_str());
    std::vector<TensorSpec> outs = infer_node(op, ptrs, attrs);
    Napi::Array r = Napi::Array::New(env, outs.size());
    for (size_t i = 0; i < outs.size(); ++i) r.Set((uint32_t)i, spec_to_js(env, outs[i]));
    return r;
  })
}

}  // namespace

void register_state_type(const napi_type_tag* tag, StateUnwrap fn) {
  std::lock_guard<std::mutex> lk(g_types_mu);
  for (const StateType& t : state_types())
    if (t.tag == tag) return;
  state_types().push_back({tag, fn});
}

std::shared_ptr<StateKernel> unwrap_state(Napi::Env env, Napi::Value v, const std::string& what) {
  if (v.IsObject()) {
    Napi::Object o = v.As<Napi::Object>();
    std::vector<StateType> types;
    {
      std::lock_guard<std::mutex> lk(g_types_mu);
      types = state_types();
    }
    for (const StateType& t : types)
      if (o.CheckTypeTag(t.tag)) return t.fn(o);
  }
  fail(ErrorCode::E_ARG, what, " is not a bindable state (a KV cache handle or another registered kind)");
}

void register_plan_functions(Napi::Env env, Napi::Object exports) {
  PlanHandle::Init(env, exports);
  exports.Set("inferNode", Napi::Function::New(env, InferNode, "inferNode"));
}

}  // namespace napi
}  // namespace engram
