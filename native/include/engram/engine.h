// The core entry points: build an OpCall, then run it. run_op validates the
// inputs (arity, devices, dtypes, shapes), allocates the outputs and dispatches
// to the backend of the inputs' device.
#pragma once
#include <string>
#include <vector>

#include "attrs.h"
#include "ops.h"
#include "params.h"
#include "tensor.h"

namespace engram {

struct OpCall {
  OpId op = OpId::COUNT;
  std::vector<Tensor> in;   // an undefined Tensor marks an absent optional input
  std::vector<Tensor> out;  // empty before run_op allocates; or pre-assigned (plans)
  OpParams params;

  template <class P>
  const P& p() const { return params.get<P>(); }
  const Tensor& input(int i) const;  // defined-or-undefined; E_ARG past arity
  bool has_input(int i) const { return i < (int)in.size() && in[i].defined(); }
};

using ParseFn = void (*)(OpCall& call, const Attrs& attrs);
using InferFn = void (*)(const OpCall& call, std::vector<TensorSpec>& outs);

struct OpDef {
  ParseFn parse;
  InferFn infer;
};

bool find_op(const std::string& name, OpId* out);
const OpDef& op_def(OpId id);

// attrs -> call.params (E_ARG on unknown/ill-typed options)
void parse_op(OpCall& call, const Attrs& attrs);
// Validates inputs and returns the output specs (E_SHAPE/E_DTYPE/E_DEVICE ...).
std::vector<TensorSpec> infer_op(const OpCall& call);
// infer + allocate outputs (unless pre-assigned and matching) + backend check.
void prepare_op(OpCall& call);
// Runs a prepared call on its backend (may be called off the JS thread).
void execute_op(OpCall& call);
// prepare_op + execute_op.
void run_op(OpCall& call);

// Convenience for C++ callers and tests.
std::vector<Tensor> call_op(OpId id, const std::vector<Tensor>& inputs, const Attrs& attrs = {});
Tensor call_op1(OpId id, const std::vector<Tensor>& inputs, const Attrs& attrs = {});

// Contiguous copy on the same device (COPY op), and device transfer.
Tensor contiguous(const Tensor& t);
Tensor to_device(const Tensor& t, DeviceType dev);

// Deterministic N(0,1) / U[0,1) fill (Philox4x32-10 + Box-Muller): the same
// seed gives the same values on every device and thread count.
Tensor randn(const Dims& shape, uint64_t seed, DType dtype = DType::F32,
             DeviceType dev = DeviceType::CPU);
Tensor rand_uniform(const Dims& shape, uint64_t seed, DType dtype = DType::F32,
                    DeviceType dev = DeviceType::CPU);

}  // namespace engram
