// sdpa: scaled dot-product attention.
//   q [B, T, H, D], k [B, S, H_kv, D], v [B, S, H_kv, Dv] -> o [B, T, H, Dv]
// H must be a multiple of H_kv (grouped-query attention). causal: query t
// sees keys s <= t + (S - T) (the queries are the last T positions).
#include "../op_defs.h"

namespace engram {

void parse_SDPA(OpCall& c, const Attrs& a) {
  SdpaParams p;
  p.causal = a.get_bool("sdpa", "causal", true);
  double sc = a.get_float("sdpa", "scale", 0.0);
  ENGRAM_CHECK(sc >= 0, ARG, "sdpa: scale must be > 0 (or 0 for 1/sqrt(D)), got ", sc);
  p.scale = (float)sc;
  c.params = p;
}

void infer_SDPA(const OpCall& c, std::vector<TensorSpec>& outs) {
  const Tensor &q = c.in[0], &k = c.in[1], &v = c.in[2];
  require_float("sdpa", "q", q);
  require_same_dtype("sdpa", "q", q, "k", k);
  require_same_dtype("sdpa", "q", q, "v", v);
  require_rank("sdpa", "q [B, T, H, D]", q, 4);
  require_rank("sdpa", "k [B, S, H_kv, D]", k, 4);
  require_rank("sdpa", "v [B, S, H_kv, Dv]", v, 4);
  ENGRAM_CHECK(k.size(0) == q.size(0) && v.size(0) == q.size(0), SHAPE, "sdpa: batch sizes differ: q ",
               q.shape().str(), ", k ", k.shape().str(), ", v ", v.shape().str());
  ENGRAM_CHECK(k.size(3) == q.size(3), SHAPE, "sdpa: q and k head dims differ: ", q.shape().str(), " vs ",
               k.shape().str());
  ENGRAM_CHECK(v.size(1) == k.size(1) && v.size(2) == k.size(2), SHAPE, "sdpa: k ", k.shape().str(), " and v ",
               v.shape().str(), " differ in length or heads");
  ENGRAM_CHECK(k.size(2) > 0 && q.size(2) % k.size(2) == 0, SHAPE, "sdpa: query heads (", q.size(2),
               ") must be a multiple of key/value heads (", k.size(2), ")");
  if (c.p<SdpaParams>().causal)
    ENGRAM_CHECK(q.size(1) <= k.size(1), SHAPE, "sdpa: causal attention with more queries (", q.size(1),
                 ") than keys (", k.size(1), ")");
  outs.push_back({Dims{q.size(0), q.size(1), q.size(2), v.size(3)}, q.dtype()});
}

}  // namespace engram
