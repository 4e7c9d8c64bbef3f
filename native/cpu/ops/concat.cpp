// concat on the CPU. The output is contiguous, so for input i and each outer
// index (dims before the axis) the destination is one contiguous run of
// size_i(axis) * inner elements: a memcpy when the input is contiguous too.
#include <cstring>

#include "../cpu_common.h"
#include "../kernels.h"
#include "engram/params_model.h"

namespace engram {
namespace cpu {

namespace {
struct Geometry {
  int ax = 0;
  int64_t outer = 1, inner = 1, out_run = 0;  // out_run: output elements per outer index
  std::vector<int64_t> base;                  // element offset of input i inside an output run
};

Geometry geometry(const OpCall& c) {
  Geometry g;
  const Tensor& O = c.out[0];
  g.ax = norm_axis(c.p<ConcatParams>().axis, O.ndim(), "concat");
  for (int d = 0; d < g.ax; ++d) g.outer *= O.size(d);
  for (int d = g.ax + 1; d < O.ndim(); ++d) g.inner *= O.size(d);
  g.out_run = O.size(g.ax) * g.inner;
  int64_t acc = 0;
  for (const Tensor& t : c.in) {
    g.base.push_back(acc * g.inner);
    acc += t.size(g.ax);
  }
  return g;
}
}  // namespace

void cpu_concat(OpCall& c) {
  const Tensor& O = c.out[0];
  const Geometry g = geometry(c);
  const int64_t es = (int64_t)elem_size(O.dtype());
  char* out = static_cast<char*>(O.raw());
  const int64_t n_in = (int64_t)c.in.size();
  parallel_for(g.outer * n_in, 1, [&](int64_t b, int64_t e) {
    for (int64_t task = b; task < e; ++task) {
      const int64_t o = task / n_in, i = task % n_in;
      const Tensor& X = c.in[(size_t)i];
      const int64_t run = X.size(g.ax) * g.inner;
      if (run == 0) continue;
      char* dst = out + (o * g.out_run + g.base[(size_t)i]) * es;
      if (X.is_contiguous()) {
        std::memcpy(dst, static_cast<const char*>(X.raw()) + o * run * es, (size_t)(run * es));
        continue;
      }
      // Strided input: walk the run's elements (dims from the axis on).
      Dims sub, sub_str;
      for (int d = g.ax; d < X.ndim(); ++d) {
        sub.push_back(X.size(d));
        sub_str.push_back(X.stride(d));
      }
      Dims lead, lead_str;
      for (int d = 0; d < g.ax; ++d) {
        lead.push_back(X.size(d));
        lead_str.push_back(X.stride(d));
      }
      const char* src = static_cast<const char*>(X.raw()) + strided_offset(lead, lead_str, o) * es;
      for (int64_t j = 0; j < run; ++j) std::memcpy(dst + j * es, src + strided_offset(sub, sub_str, j) * es, (size_t)es);
    }
  });
}

void ref_concat(OpCall& c) {
  const Tensor& O = c.out[0];
  const int ax = norm_axis(c.p<ConcatParams>().axis, O.ndim(), "concat");
  const int64_t es = (int64_t)elem_size(O.dtype());
  int64_t at = 0;  // offset of the current input along the axis
  for (const Tensor& X : c.in) {
    for (int64_t i = 0; i < X.numel(); ++i) {
      // multi-index of element i of X, shifted along the axis, in the output
      int64_t rem = i, out_off = 0, out_stride = 1;
      for (int d = X.ndim() - 1; d >= 0; --d) {
        int64_t idx = rem % X.size(d);
        rem /= X.size(d);
        out_off += (d == ax ? idx + at : idx) * out_stride;
        out_stride *= O.size(d);
      }
      std::memcpy(static_cast<char*>(O.raw()) + out_off * es,
                  static_cast<const char*>(X.raw()) + strided_offset(X.shape(), X.strides(), i) * es, (size_t)es);
    }
    at += X.size(ax);
  }
}

}  // namespace cpu
}  // namespace engram
