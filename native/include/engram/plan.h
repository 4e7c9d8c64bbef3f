// Compiled model graphs. A PlanDesc (built by lib/graph from the TypeScript
// graph) lists the inputs, the constant parameters and the nodes in
// topological order; Plan::compile validates every node with the op's own
// infer step (errors name the node), resolves views, runs a liveness analysis
// and assigns the intermediates to offsets in one arena so buffers whose
// lifetimes do not overlap share memory. Plan::run then executes all nodes in
// one call (off the JS thread through the N-API wrapper).
//
// Value ids: inputs 0..I-1, params I..I+P-1, then each node's outputs in order.
// Node ops: any op of the table (ops.h), or a view:
//   view.reshape {shape}  view.permute {perm}  view.transpose {dim0, dim1}
//   view.slice {dim, start, end}  view.select {dim, index}  view.unsqueeze {dim}
// Views cost nothing at run time; a reshape of a non-contiguous value gets a
// copy inserted by the compiler.
//
// Bound nodes (node.bind = slot >= 0) are validated like their op but run by a
// StateKernel passed to run() in that slot: this is how stateful objects (KV
// caches today; quantized caches and recurrent memories later) take part in a
// plan without changing its fixed shapes.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine.h"

namespace engram {

// A stateful object a plan node can be bound to. run_bound receives the node
// as an OpCall: inputs and parsed params of the node's op, outputs already
// allocated (contiguous, the op's inferred specs). It may update its state.
// Implementations: PlainKVCache (attention_cache.h); see docs/graphs.md for
// the contract other memory kinds implement.
class StateKernel {
 public:
  virtual ~StateKernel() = default;
  virtual const char* kind() const = 0;
  virtual void run_bound(OpCall& call) = 0;
};

struct PlanNode {
  std::string name;         // for error messages: "block0.attn.q_proj"
  std::string op;           // op name or view.* (above)
  Attrs attrs;
  std::vector<int> inputs;  // value ids; -1 marks an absent optional input
  int bind = -1;            // >= 0: run by the StateKernel in this slot of run()
};

struct PlanInput {
  std::string name;
  TensorSpec spec;
};

struct PlanDesc {
  DeviceType device = DeviceType::CPU;
  std::vector<PlanInput> inputs;
  std::vector<std::pair<std::string, Tensor>> params;  // constants (moved to `device` at compile)
  std::vector<PlanNode> nodes;
  std::vector<int> outputs;
  int bindings = 0;           // number of StateKernel slots run() takes
  bool reuse_buffers = true;  // false: every intermediate gets its own range (the naive plan)
  bool keep_arena = true;     // keep the arena between runs (else allocated and freed per run)
};

struct PlanStats {
  int64_t nodes = 0, op_nodes = 0, view_nodes = 0, copies_inserted = 0;
  int64_t intermediates = 0;   // planned buffers
  int64_t naive_bytes = 0;     // sum of the intermediates' sizes (one buffer each)
  int64_t planned_bytes = 0;   // the arena after buffer sharing
  int64_t output_bytes = 0;    // fresh buffers of the outputs, per run
  int64_t param_bytes = 0;
};

class Plan {
 public:
  static std::shared_ptr<Plan> compile(PlanDesc desc);

  // Validates inputs/bindings (E_ARG/E_SHAPE/E_DTYPE/E_DEVICE naming the input);
  // cheap, meant for the JS thread before an async run.
  void check_inputs(const std::vector<Tensor>& inputs,
                    const std::vector<std::shared_ptr<StateKernel>>& bound) const;
  // Runs every node; returns the outputs (fresh tensors, not views of the arena).
  std::vector<Tensor> run(const std::vector<Tensor>& inputs,
                          const std::vector<std::shared_ptr<StateKernel>>& bound);

  // Frees the kept arena (it is allocated again by the next run).
  void release_buffers();

  const PlanStats& stats() const { return stats_; }
  const std::vector<TensorSpec>& output_specs() const { return out_specs_; }
  DeviceType device() const { return device_; }
  int bindings() const { return bindings_; }
  // Per desc value id: arena byte offset of a planned intermediate, -1 for
  // inputs, params, outputs and views (tests, debugging).
  std::vector<int64_t> value_offsets() const;

 private:
  enum class Kind : uint8_t { INPUT, PARAM, OP_OUT, VIEW };
  struct Step {
    std::string name;
    bool is_view = false;
    OpCall call;              // op, params (inputs/outputs filled per run)
    std::string view;         // view kind
    std::vector<int64_t> view_args;
    std::vector<int> inputs;  // value ids (-1 absent)
    std::vector<int> outs;    // value ids produced
    int bind = -1;
  };
  struct Value {
    Kind kind = Kind::OP_OUT;
    TensorSpec spec;
    int root = -1;           // value owning the memory (itself for OP_OUT)
    bool is_output = false;  // OP_OUT root returned to the caller: fresh buffer per run
  };

  Plan() = default;
  Tensor acquire_arena();
  void release_arena(Tensor arena);

  DeviceType device_ = DeviceType::CPU;
  std::vector<PlanInput> inputs_;
  std::vector<Tensor> params_;
  std::vector<Step> steps_;
  std::vector<Value> values_;
  std::vector<int64_t> offset_;  // per value: arena byte offset (planned roots) or -1
  std::vector<int> ext_;         // desc value id -> internal value id
  std::vector<int> outputs_;
  std::vector<TensorSpec> out_specs_;
  int bindings_ = 0;
  bool keep_arena_ = true;
  PlanStats stats_;
  std::mutex arena_mu_;
  std::vector<std::shared_ptr<Storage>> arena_pool_;
};

// The graph builder's validation step: output specs of one node (an op or a
// view) from its input specs (nullptr = absent optional input), with the op's
// own infer rules. Errors are the op's (E_SHAPE, E_DTYPE, E_ARG, ...).
std::vector<TensorSpec> infer_node(const std::string& op, const std::vector<const TensorSpec*>& inputs,
                                   const Attrs& attrs);

// True for "view.*" node ops.
bool is_view_op(const std::string& op);

}  // namespace engram
