// trellis: Trellis compressed KV memory (a reconstruction of algorithms.md §5;
// docs/trellis.md). m slots per head: key memory MK [m, dk], value memory
// MV [m, dv], written by online gradient descent with a forget gate, read in
// two passes.
//   inputs  q, k [B, T, H, dk], v [B, T, H, dv], alpha [B, T, H, m] (slot code),
//           beta? ([B, T, H] or [B, T, H, m], forget gate in [0, 1]; absent: 1),
//           gamma? ([B, T, H], lr >= 0; absent: option lr), eta? ([B, T, H],
//           momentum decay in [0, 1]; absent: no momentum),
//           MK0?, MV0?, SK0?, SV0?, AK0?, AV0? (f32 [B or 1, H, m, d]),
//           offset? (i32 [1]: tokens of the current chunk already consumed)
//   outputs o [B, T, H, dv] (q's dtype), MK, MV, SK, SV, AK, AV (f32 [B, H, m, d]
//           or [0]), offset (i32 [1] or [0])
// Per token (position p = offset + t; the anchors A* take the memories' value
// whenever p % chunkSize == 0):
//   z = AK k; u = J_phi(z)^T (phi(z) - alpha)  (write 'additive': u = -alpha)
//   SK = eta SK - gamma u k^T; MK = beta MK + SK   (no momentum: MK = beta MK - gamma u k^T)
//   s = f(scale MK q)
//   the same with AV, v, SV, MV;  o = MV^T s
// Gate values are read here (every backend rejects the same inputs); for
// shape-only tensors (plan compile) they are checked when the plan runs.
#include <cmath>
#include <string>

#include "engram/trellis_params.h"
#include "memory_common.h"

namespace engram {

namespace {

const char* kOp = "trellis";

template <class E>
E parse_enum(const Attrs& a, const char* key, E def, const char* const* names, int n) {
  std::string s = a.get_string(kOp, key, names[(int)def]);
  for (int i = 0; i < n; ++i)
    if (s == names[i]) return (E)i;
  std::string all;
  for (int i = 0; i < n; ++i) all += std::string(i ? ", " : "") + names[i];
  fail(ErrorCode::E_ARG, kOp, ": ", key, " must be one of ", all, "; got '", s, "'");
}

float read_value(const Tensor& g, int64_t off) {
  const void* p = g.raw();
  switch (g.dtype()) {
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(p)[off]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[off]);
    default: return static_cast<const float*>(p)[off];
  }
}

// A per-slot tensor [B, T, H, m]: shape, dtype, and (when it holds data)
// values: NaN -> E_NAN; unit: outside [0, 1] -> E_ARG; else Inf -> E_ARG.
void check_slot_tensor(const char* name, const Tensor& x, const mem::SeqDims& d, int64_t m, bool unit) {
  require_float(kOp, name, x);
  ENGRAM_CHECK(x.ndim() == 4 && x.size(0) == d.B && x.size(1) == d.T && x.size(2) == d.H && x.size(3) == m, SHAPE,
               kOp, ": '", name, "' must be [B, T, H, m] = [", d.B, ", ", d.T, ", ", d.H, ", ", m, "], got ",
               x.shape().str());
  if (!x.has_data()) return;  // shape-only (plan compile): checked when the plan runs
  Tensor c = x.device() == DeviceType::CPU ? x : to_device(x, DeviceType::CPU);
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t t = 0; t < d.T; ++t)
      for (int64_t h = 0; h < d.H; ++h)
        for (int64_t r = 0; r < m; ++r) {
          const float v = read_value(c, b * c.stride(0) + t * c.stride(1) + h * c.stride(2) + r * c.stride(3));
          ENGRAM_CHECK(!std::isnan(v), NAN, kOp, ": '", name, "' is NaN at [", b, ", ", t, ", ", h, ", ", r, "]");
          const bool ok = unit ? (v >= 0.0f && v <= 1.0f) : std::isfinite(v);
          ENGRAM_CHECK(ok, ARG, kOp, ": '", name, "' must be ", unit ? "in [0, 1]" : "finite", ", got ", v, " at [",
                       b, ", ", t, ", ", h, ", ", r, "]");
        }
}

}  // namespace

void parse_TRELLIS(OpCall& c, const Attrs& a) {
  static const char* phis[] = {"identity", "siluNorm", "layerNorm"};
  static const char* fs[] = {"softmax", "siluNorm", "layerNormSilu", "identity"};
  static const char* writes[] = {"ogd", "additive"};
  TrellisParams p;
  if (a.has("slots")) {
    p.slots = a.get_int(kOp, "slots", 0);
    ENGRAM_CHECK(p.slots >= 1 && p.slots <= 65536, ARG, kOp, ": slots must be in [1, 65536], got ", p.slots);
  }
  p.recurrent = mem::parse_mode(kOp, a);
  p.chunk = mem::parse_chunk(kOp, a, p.recurrent ? 1 : 64);
  p.write = parse_enum(a, "write", TrellisWrite::OGD, writes, 2);
  if (p.write == TrellisWrite::ADDITIVE)
    ENGRAM_CHECK(!a.has("phi"), ARG, kOp, ": phi has no effect with write: 'additive' (the write ignores the loss)");
  p.phi = parse_enum(a, "phi", TrellisPhi::IDENTITY, phis, 3);
  p.f = parse_enum(a, "f", TrellisF::LAYER_NORM_SILU, fs, 4);
  const double sc = a.get_float(kOp, "scale", 1.0), lr = a.get_float(kOp, "lr", 1.0), eps = a.get_float(kOp, "eps", 1e-6);
  ENGRAM_CHECK(std::isfinite(sc) && sc > 0, ARG, kOp, ": scale must be finite and > 0, got ", sc);
  ENGRAM_CHECK(std::isfinite(lr) && lr >= 0, ARG, kOp, ": lr must be finite and >= 0, got ", lr);
  ENGRAM_CHECK(std::isfinite(eps) && eps > 0 && eps <= 1, ARG, kOp, ": eps must be in (0, 1], got ", eps);
  p.scale = (float)sc;
  p.lr = (float)lr;
  p.eps = (float)eps;
  p.final_state = a.get_bool(kOp, "outputFinalState", true);
  c.params = p;
}

void infer_TRELLIS(const OpCall& c, std::vector<TensorSpec>& outs) {
  namespace I = trellis_in;
  const TrellisParams& p = c.p<TrellisParams>();
  mem::SeqDims d = mem::check_qkv(kOp, c.in[I::Q], c.in[I::K], c.in[I::V]);
  ENGRAM_CHECK(c.has_input(I::ALPHA), ARG, kOp, ": 'alpha' (the slot code [B, T, H, m]) is required");
  const Tensor& al = c.in[I::ALPHA];
  ENGRAM_CHECK(al.ndim() == 4 && al.size(3) >= 1, SHAPE, kOp, ": 'alpha' must be [B, T, H, m] with m >= 1, got ",
               al.shape().str());
  const int64_t m = al.size(3);
  ENGRAM_CHECK(p.slots == 0 || p.slots == m, SHAPE, kOp, ": slots is ", p.slots, " but 'alpha' has ", m,
               " slots (", al.shape().str(), ")");
  ENGRAM_CHECK(m <= 65536, ARG, kOp, ": at most 65536 slots, got ", m);
  check_slot_tensor("alpha", al, d, m, false);
  if (c.has_input(I::BETA)) {
    const Tensor& be = c.in[I::BETA];
    if (be.ndim() == 4) check_slot_tensor("beta", be, d, m, true);
    else mem::check_gate(kOp, "beta", be, d, mem::GateRange::UNIT_CLOSED);
  }
  if (c.has_input(I::GAMMA)) mem::check_gate(kOp, "gamma", c.in[I::GAMMA], d, mem::GateRange::NONNEG);
  const bool mom = c.has_input(I::ETA);
  if (mom) mem::check_gate(kOp, "eta", c.in[I::ETA], d, mem::GateRange::UNIT_CLOSED);
  const Dims sk{m, d.Dk}, sv{m, d.Dv};
  mem::check_state(kOp, "initialState.MK", c.input(I::MK), d, sk);
  mem::check_state(kOp, "initialState.MV", c.input(I::MV), d, sv);
  ENGRAM_CHECK(mom || (!c.has_input(I::SK) && !c.has_input(I::SV)), ARG, kOp,
               ": initialState.SK/SV (momentum) given but no 'eta' gate (momentum is on iff eta is given)");
  mem::check_state(kOp, "initialState.SK", c.input(I::SK), d, sk);
  mem::check_state(kOp, "initialState.SV", c.input(I::SV), d, sv);
  mem::check_state(kOp, "initialState.AK", c.input(I::AK), d, sk);
  mem::check_state(kOp, "initialState.AV", c.input(I::AV), d, sv);
  if (c.has_input(I::OFFSET)) {
    const Tensor& off = c.in[I::OFFSET];
    ENGRAM_CHECK(off.dtype() == DType::I32, DTYPE, kOp, ": initialState.offset must be i32, got ", dtype_name(off.dtype()));
    ENGRAM_CHECK(off.numel() == 1 && off.ndim() <= 1, SHAPE, kOp, ": initialState.offset must be [1], got ",
                 off.shape().str());
    if (off.has_data()) {
      Tensor h = off.device() == DeviceType::CPU ? off : to_device(off, DeviceType::CPU);
      const int32_t o = *static_cast<const int32_t*>(h.raw());
      ENGRAM_CHECK(o >= 0 && o < p.chunk, ARG, kOp, ": initialState.offset must be in [0, chunkSize = ", p.chunk,
                   "), got ", o, " (pass the chunkSize the state was made with)");
      ENGRAM_CHECK(o == 0 || (c.has_input(I::AK) && c.has_input(I::AV)), ARG, kOp,
                   ": initialState.offset ", o, " > 0 needs the anchors initialState.AK and initialState.AV");
    }
  }
  const bool fs = p.final_state;
  outs.push_back({Dims{d.B, d.T, d.H, d.Dv}, c.in[I::Q].dtype()});
  outs.push_back(mem::state_spec(fs, d, sk));
  outs.push_back(mem::state_spec(fs, d, sv));
  outs.push_back(mem::state_spec(fs && mom, d, sk));
  outs.push_back(mem::state_spec(fs && mom, d, sv));
  outs.push_back(mem::state_spec(fs && p.chunk > 1, d, sk));
  outs.push_back(mem::state_spec(fs && p.chunk > 1, d, sv));
  outs.push_back({fs ? Dims{1} : Dims{0}, DType::I32});
}

}  // namespace engram
