// sdpaWindow: causal sliding-window attention.
//   q [B, T, H, D], k [B, S, H_kv, D], v [B, S, H_kv, Dv] -> o [B, T, H, Dv]
// The queries are the last T of S positions: query t sits at p = t + S - T and
// sees keys s with p - window < s <= p. window >= S - T + T is plain causal sdpa.
#include "../op_defs.h"
#include "engram/params_model.h"

namespace engram {

void parse_SDPA_WINDOW(OpCall& c, const Attrs& a) {
  SdpaWindowParams p;
  p.window = a.get_int("sdpaWindow", "window", 0);
  ENGRAM_CHECK(p.window >= 1, ARG, "sdpaWindow: option 'window' (>= 1) is required, got ", p.window);
  double sc = a.get_float("sdpaWindow", "scale", 0.0);
  ENGRAM_CHECK(sc >= 0, ARG, "sdpaWindow: scale must be > 0 (or 0 for 1/sqrt(D)), got ", sc);
  p.scale = (float)sc;
  c.params = p;
}

void infer_SDPA_WINDOW(const OpCall& c, std::vector<TensorSpec>& outs) {
  const Tensor &q = c.in[0], &k = c.in[1], &v = c.in[2];
  require_float("sdpaWindow", "q", q);
  require_same_dtype("sdpaWindow", "q", q, "k", k);
  require_same_dtype("sdpaWindow", "q", q, "v", v);
  require_rank("sdpaWindow", "q [B, T, H, D]", q, 4);
  require_rank("sdpaWindow", "k [B, S, H_kv, D]", k, 4);
  require_rank("sdpaWindow", "v [B, S, H_kv, Dv]", v, 4);
  ENGRAM_CHECK(k.size(0) == q.size(0) && v.size(0) == q.size(0), SHAPE, "sdpaWindow: batch sizes differ: q ",
               q.shape().str(), ", k ", k.shape().str(), ", v ", v.shape().str());
  ENGRAM_CHECK(k.size(3) == q.size(3), SHAPE, "sdpaWindow: q and k head dims differ: ", q.shape().str(), " vs ",
               k.shape().str());
  ENGRAM_CHECK(v.size(1) == k.size(1) && v.size(2) == k.size(2), SHAPE, "sdpaWindow: k ", k.shape().str(),
               " and v ", v.shape().str(), " differ in length or heads");
  ENGRAM_CHECK(k.size(2) > 0 && q.size(2) % k.size(2) == 0, SHAPE, "sdpaWindow: query heads (", q.size(2),
               ") must be a multiple of key/value heads (", k.size(2), ")");
  ENGRAM_CHECK(q.size(1) <= k.size(1), SHAPE, "sdpaWindow: more queries (", q.size(1), ") than keys (", k.size(1),
               ")");
  outs.push_back({Dims{q.size(0), q.size(1), q.size(2), v.size(3)}, q.dtype()});
}

}  // namespace engram
