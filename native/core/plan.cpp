// Plan: graph compilation (validation, views, liveness, buffer assignment)
// and execution. See engram/plan.h for the model.
#include "engram/plan.h"

#include <algorithm>

#include "engram/backend.h"

namespace engram {

namespace {

constexpr int64_t kAlign = 64;  // byte alignment of every arena buffer

int64_t align_up(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

int64_t spec_bytes(const TensorSpec& s) {
  int64_t n = checked_numel(s.shape);
  const auto& tr = traits(s.dtype);
  if ((uint64_t)n > (~(uint64_t)0 >> 4) / (uint64_t)tr.block_bytes)
    fail(ErrorCode::E_OVERFLOW, "shape ", s.shape.str(), " of ", dtype_name(s.dtype), " overflows a byte count");
  return (int64_t)dtype_bytes(s.dtype, (size_t)n);
}

// A shape-only tensor: no memory behind it, for the ops' infer steps.
Tensor meta_tensor(const TensorSpec& s, DeviceType dev) {
  auto st = std::make_shared<Storage>(dev, nullptr, (size_t)spec_bytes(s), nullptr);
  return Tensor::view_of(st, s.shape, contiguous_strides(s.shape), 0, s.dtype);
}

// A contiguous tensor at byte offset `off` of the arena.
Tensor arena_view(const std::shared_ptr<Storage>& arena, const TensorSpec& s, int64_t off) {
  const auto& tr = traits(s.dtype);
  int64_t elem_off = off / tr.block_bytes * tr.block;
  return Tensor::view_of(arena, s.shape, contiguous_strides(s.shape), elem_off, s.dtype);
}

struct ViewSpec {
  std::string kind;
  std::vector<int64_t> args;
};

ViewSpec parse_view(const std::string& op, const Attrs& a) {
  ViewSpec v;
  v.kind = op.substr(5);
  const char* nm = op.c_str();
  if (v.kind == "reshape") {
    ENGRAM_CHECK(a.has("shape"), ARG, op, ": option 'shape' is required");
    v.args = a.get_ints(nm, "shape");
  } else if (v.kind == "permute") {
    ENGRAM_CHECK(a.has("perm"), ARG, op, ": option 'perm' is required");
    v.args = a.get_ints(nm, "perm");
  } else if (v.kind == "transpose") {
    v.args = {a.get_int(nm, "dim0", -2), a.get_int(nm, "dim1", -1)};
  } else if (v.kind == "slice") {
    ENGRAM_CHECK(a.has("start") && a.has("end"), ARG, op, ": options 'start' and 'end' are required");
    v.args = {a.get_int(nm, "dim", 0), a.get_int(nm, "start", 0), a.get_int(nm, "end", 0)};
  } else if (v.kind == "select") {
    ENGRAM_CHECK(a.has("index"), ARG, op, ": option 'index' is required");
    v.args = {a.get_int(nm, "dim", 0), a.get_int(nm, "index", 0)};
  } else if (v.kind == "unsqueeze") {
    v.args = {a.get_int(nm, "dim", 0)};
  } else {
    fail(ErrorCode::E_ARG, "unknown view '", op,
         "' (view.reshape, view.permute, view.transpose, view.slice, view.select, view.unsqueeze)");
  }
  a.check_all_used(nm);
  return v;
}

Tensor apply_view(const Tensor& t, const ViewSpec& v) {
  const auto& a = v.args;
  if (v.kind == "reshape") return t.reshape(Dims(a));
  if (v.kind == "permute") return t.permute(std::vector<int>(a.begin(), a.end()));
  if (v.kind == "transpose") return t.transpose((int)a[0], (int)a[1]);
  if (v.kind == "slice") return t.slice((int)a[0], a[1], a[2]);
  if (v.kind == "select") return t.select((int)a[0], a[1]);
  return t.unsqueeze((int)a[0]);
}

// Re-throws the current engram::Error with the node named in front.
[[noreturn]] void rethrow_named(const std::string& name, const std::string& op) {
  try {
    throw;
  } catch (const Error& e) {
    throw Error(e.code(), "graph node '" + name + "' (" + op + "): " + e.what());
  }
}

}  // namespace

bool is_view_op(const std::string& op) { return op.rfind("view.", 0) == 0; }

std::vector<TensorSpec> infer_node(const std::string& op, const std::vector<const TensorSpec*>& inputs,
                                   const Attrs& attrs) {
  std::vector<Tensor> metas;
  for (const TensorSpec* s : inputs) metas.push_back(s ? meta_tensor(*s, DeviceType::CPU) : Tensor());
  if (is_view_op(op)) {
    ViewSpec v = parse_view(op, attrs);
    ENGRAM_CHECK(metas.size() == 1 && metas[0].defined(), ARG, op, ": takes exactly one input");
    return {apply_view(metas[0], v).spec()};
  }
  OpCall c;
  ENGRAM_CHECK(find_op(op, &c.op), ARG, "unknown op '", op, "'");
  c.in = std::move(metas);
  parse_op(c, attrs);
  return infer_op(c);
}

std::shared_ptr<Plan> Plan::compile(PlanDesc desc) {
  std::shared_ptr<Plan> p(new Plan());
  Plan& P = *p;
  P.device_ = desc.device;
  P.bindings_ = desc.bindings;
  P.keep_arena_ = desc.keep_arena;
  require_available(desc.device);
  ENGRAM_CHECK(desc.bindings >= 0, ARG, "plan: bindings must be >= 0");
  std::vector<Tensor> meta;  // per value: a tensor with the value's layout (no memory for intermediates)
  std::vector<int> ext;      // desc value id -> internal id (inserted copies have no desc id)
  auto add_value = [&](Kind k, const Tensor& m, int root) {
    Value v;
    v.kind = k;
    v.spec = m.spec();
    v.root = root == -2 ? (int)P.values_.size() : root;
    P.values_.push_back(v);
    meta.push_back(m);
    return (int)P.values_.size() - 1;
  };
  for (const PlanInput& in : desc.inputs) {
    P.inputs_.push_back(in);
    ext.push_back(add_value(Kind::INPUT, meta_tensor(in.spec, P.device_), -1));
  }
  for (auto& pr : desc.params) {
    ENGRAM_CHECK(pr.second.defined(), ARG, "plan: parameter '", pr.first, "' is undefined");
    Tensor t = to_device(pr.second, P.device_);
    P.stats_.param_bytes += (int64_t)t.nbytes();
    P.params_.push_back(t);
    ext.push_back(add_value(Kind::PARAM, t, -1));
  }
  auto value_id = [&](int id, const PlanNode& n) {
    ENGRAM_CHECK(id >= -1 && id < (int)ext.size(), ARG, "graph node '", n.name, "' (", n.op,
                 "): input value ", id, " does not exist (yet)");
    return id < 0 ? -1 : ext[id];
  };
  for (const PlanNode& n : desc.nodes) {
    try {
      if (is_view_op(n.op)) {
        ViewSpec v = parse_view(n.op, n.attrs);
        ENGRAM_CHECK(n.inputs.size() == 1 && value_id(n.inputs[0], n) >= 0, ARG, "takes exactly one input");
        ENGRAM_CHECK(n.bind < 0, ARG, "a view cannot be bound to a state");
        int src = value_id(n.inputs[0], n);
        if (v.kind == "reshape" && !meta[src].is_contiguous()) {
          Step cp;
          cp.name = n.name + ".contiguous";
          cp.call.op = OpId::COPY;
          parse_op(cp.call, Attrs());
          cp.inputs = {src};
          int id = add_value(Kind::OP_OUT, meta_tensor(meta[src].spec(), P.device_), -2);
          cp.outs = {id};
          P.steps_.push_back(std::move(cp));
          P.stats_.copies_inserted++;
          src = id;
        }
        Step s;
        s.name = n.name;
        s.is_view = true;
        s.view = v.kind;
        s.view_args = v.args;
        s.inputs = {src};
        s.outs = {add_value(Kind::VIEW, apply_view(meta[src], v), P.values_[src].root)};
        ext.push_back(s.outs[0]);
        P.steps_.push_back(std::move(s));
        P.stats_.view_nodes++;
        continue;
      }
      Step s;
      s.name = n.name;
      ENGRAM_CHECK(find_op(n.op, &s.call.op), ARG, "unknown op '", n.op, "'");
      parse_op(s.call, n.attrs);
      ENGRAM_CHECK(n.bind < desc.bindings, ARG, "bound to slot ", n.bind, " but the plan has ", desc.bindings,
                   " binding slots");
      s.bind = n.bind;
      for (int id : n.inputs) {
        int iid = value_id(id, n);
        s.inputs.push_back(iid);
        s.call.in.push_back(iid >= 0 ? meta[iid] : Tensor());
      }
      std::vector<TensorSpec> specs = infer_op(s.call);
      if (s.bind < 0) {
        Backend& be = backend_for(P.device_);
        ENGRAM_CHECK(be.supports_op(s.call), UNSUPPORTED, "not supported on ", device_name(P.device_));
      }
      s.call.in.clear();
      for (const TensorSpec& sp : specs) {
        s.outs.push_back(add_value(Kind::OP_OUT, meta_tensor(sp, P.device_), -2));
        ext.push_back(s.outs.back());
      }
      P.steps_.push_back(std::move(s));
      P.stats_.op_nodes++;
    } catch (const Error&) {
      rethrow_named(n.name, n.op);
    }
  }
  P.stats_.nodes = (int64_t)desc.nodes.size();

  // Outputs: op results get fresh buffers per run; anything else (an input,
  // a parameter, a view) is copied out so no output aliases plan memory.
  for (int eid : desc.outputs) {
    ENGRAM_CHECK(eid >= 0 && eid < (int)ext.size(), ARG, "plan: output value ", eid, " does not exist");
    int id = ext[eid];
    if (P.values_[id].kind != Kind::OP_OUT) {
      Step cp;
      cp.name = "output." + std::to_string(P.outputs_.size()) + ".copy";
      cp.call.op = OpId::COPY;
      parse_op(cp.call, Attrs());
      cp.inputs = {id};
      id = add_value(Kind::OP_OUT, meta_tensor(P.values_[id].spec, P.device_), -2);
      cp.outs = {id};
      P.steps_.push_back(std::move(cp));
      P.stats_.copies_inserted++;
    }
    P.values_[id].is_output = true;
    P.outputs_.push_back(id);
    P.out_specs_.push_back(P.values_[id].spec);
  }

  // Liveness: [def, last use] in step indices, per root buffer.
  const int nv = (int)P.values_.size();
  std::vector<int> def(nv, -1), last(nv, -1);
  for (int i = 0; i < (int)P.steps_.size(); ++i) {
    for (int id : P.steps_[i].inputs)
      if (id >= 0 && P.values_[id].root >= 0) last[P.values_[id].root] = std::max(last[P.values_[id].root], i);
    for (int id : P.steps_[i].outs)
      if (P.values_[id].kind == Kind::OP_OUT) def[id] = last[id] = i;
  }
  // Greedy by size: biggest first, each at the best-fitting gap among the
  // already placed buffers whose lifetimes overlap its own.
  struct Placed {
    int64_t off, size;
    int def, last;
  };
  std::vector<int> order;
  P.offset_.assign(nv, -1);
  for (int id = 0; id < nv; ++id) {
    const Value& v = P.values_[id];
    if (v.kind != Kind::OP_OUT) continue;
    if (v.is_output) {
      P.stats_.output_bytes += spec_bytes(v.spec);
      continue;
    }
    order.push_back(id);
    P.stats_.naive_bytes += spec_bytes(v.spec);
  }
  P.stats_.intermediates = (int64_t)order.size();
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return spec_bytes(P.values_[a].spec) > spec_bytes(P.values_[b].spec);
  });
  std::vector<Placed> placed;
  int64_t arena = 0;
  for (int id : order) {
    const int64_t size = align_up(std::max<int64_t>(spec_bytes(P.values_[id].spec), 1));
    int64_t off = arena;
    if (desc.reuse_buffers) {
      std::vector<Placed> live;
      for (const Placed& q : placed)
        if (!(q.last < def[id] || last[id] < q.def)) live.push_back(q);
      std::sort(live.begin(), live.end(), [](const Placed& a, const Placed& b) { return a.off < b.off; });
      int64_t cur = 0, best = -1, best_slack = INT64_MAX;
      for (const Placed& q : live) {
        if (q.off - cur >= size && q.off - cur - size < best_slack) {
          best = cur;
          best_slack = q.off - cur - size;
        }
        cur = std::max(cur, q.off + q.size);
      }
      off = best >= 0 ? best : cur;
    }
    placed.push_back({off, size, def[id], last[id]});
    P.offset_[id] = off;
    arena = std::max(arena, off + size);
  }
  P.stats_.planned_bytes = arena;
  P.ext_ = std::move(ext);
  return p;
}

std::vector<int64_t> Plan::value_offsets() const {
  std::vector<int64_t> r;
  for (int id : ext_) r.push_back(values_[id].kind == Kind::OP_OUT ? offset_[id] : -1);
  return r;
}

void Plan::check_inputs(const std::vector<Tensor>& inputs,
                        const std::vector<std::shared_ptr<StateKernel>>& bound) const {
  ENGRAM_CHECK(inputs.size() == inputs_.size(), ARG, "plan.run: expected ", inputs_.size(), " inputs, got ",
               inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    const PlanInput& in = inputs_[i];
    ENGRAM_CHECK(t.defined(), ARG, "plan.run: input '", in.name, "' is missing");
    ENGRAM_CHECK(t.dtype() == in.spec.dtype, DTYPE, "plan.run: input '", in.name, "' must be ",
                 dtype_name(in.spec.dtype), ", got ", dtype_name(t.dtype()));
    ENGRAM_CHECK(t.shape() == in.spec.shape, SHAPE, "plan.run: input '", in.name, "' must be ", in.spec.shape.str(),
                 ", got ", t.shape().str(), " (compile a plan for this shape)");
    ENGRAM_CHECK(t.device() == device_, DEVICE, "plan.run: input '", in.name, "' is on ", device_name(t.device()),
                 " but the plan runs on ", device_name(device_));
  }
  ENGRAM_CHECK((int)bound.size() == bindings_, ARG, "plan.run: expected ", bindings_, " bound states, got ",
               bound.size());
  for (size_t i = 0; i < bound.size(); ++i) ENGRAM_CHECK(bound[i], ARG, "plan.run: bound state ", i, " is missing");
}

Tensor Plan::acquire_arena() {
  std::shared_ptr<Storage> st;
  {
    std::lock_guard<std::mutex> lk(arena_mu_);
    if (!arena_pool_.empty()) {
      st = arena_pool_.back();
      arena_pool_.pop_back();
    }
  }
  if (!st) st = std::make_shared<Storage>(device_, (size_t)stats_.planned_bytes);
  Tensor t = Tensor::view_of(st, Dims{(int64_t)st->bytes}, Dims{1}, 0, DType::U8);
  return t;
}

void Plan::release_arena(Tensor arena) {
  std::lock_guard<std::mutex> lk(arena_mu_);
  if (arena_pool_.empty() && keep_arena_) arena_pool_.push_back(arena.storage());
}

void Plan::release_buffers() {
  std::lock_guard<std::mutex> lk(arena_mu_);
  arena_pool_.clear();
}

std::vector<Tensor> Plan::run(const std::vector<Tensor>& inputs,
                              const std::vector<std::shared_ptr<StateKernel>>& bound) {
  check_inputs(inputs, bound);
  Tensor arena = acquire_arena();
  struct Release {
    Plan* p;
    Tensor* a;
    ~Release() { p->release_arena(*a); }
  } release{this, &arena};
  const std::shared_ptr<Storage>& st = arena.storage();
  std::vector<Tensor> vals(values_.size());
  size_t k = 0;
  for (const Tensor& t : inputs) vals[k++] = t.is_contiguous() ? t : contiguous(t);  // views were planned on contiguous inputs
  for (const Tensor& t : params_) vals[k++] = t;
  for (Step& s : steps_) {
    try {
      if (s.is_view) {
        vals[s.outs[0]] = apply_view(vals[s.inputs[0]], ViewSpec{s.view, s.view_args});
        continue;
      }
      OpCall c;
      c.op = s.call.op;
      c.params = s.call.params;
      for (int id : s.inputs) c.in.push_back(id >= 0 ? vals[id] : Tensor());
      for (int id : s.outs) {
        const Value& v = values_[id];
        c.out.push_back(v.is_output ? Tensor::empty(v.spec.shape, v.spec.dtype, device_)
                                    : arena_view(st, v.spec, offset_[id]));
      }
      if (s.bind >= 0) {
        (void)infer_op(c);  // validated like its op; the bound object picks the kernels
        bound[s.bind]->run_bound(c);
      } else {
        prepare_op(c);
        execute_op(c);
      }
      for (size_t i = 0; i < s.outs.size(); ++i) vals[s.outs[i]] = std::move(c.out[i]);
    } catch (const Error&) {
      rethrow_named(s.name, s.is_view ? "view." + s.view : op_name(s.call.op));
    }
  }
  std::vector<Tensor> outs;
  for (int id : outputs_) outs.push_back(vals[id]);
  return outs;
}

}  // namespace engram
