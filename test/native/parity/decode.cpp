// Parity cases for decode-shaped attention: few (batch, head, query block)
// tasks and long key ranges, where the CPU kernel splits the keys across
// tasks and merges the partial softmax states (native/cpu/ops/sdpa.cpp).
// Causal rows see different key counts, so some parts see no key at all.
#include "../parity.h"

namespace engram {
namespace parity {

ENGRAM_PARITY_CASES(decode) {
  uint64_t seed = 800;
  struct Shape {
    int64_t b, t, h, hkv, s, d, dv;
  };
  const Shape shapes[] = {{1, 1, 1, 1, 1100, 64, 64},  {1, 5, 2, 1, 1500, 60, 33}, {1, 16, 1, 1, 2049, 16, 128},
                          {2, 1, 1, 1, 700, 128, 64},  {1, 3, 3, 3, 600, 63, 63}};
  for (DType dt : {DType::F32, DType::BF16})
    for (const Shape& s : shapes)
      for (int causal = 0; causal < 2; ++causal) {
        Attrs a;
        a.set_bool("causal", causal);
        cases.push_back({std::string("sdpa decode ") + dtype_name(dt) + (causal ? " causal" : "") + " B" +
                             std::to_string(s.b) + " T" + std::to_string(s.t) + " H" + std::to_string(s.h) + "/" +
                             std::to_string(s.hkv) + " S" + std::to_string(s.s),
                         OpId::SDPA,
                         {rnd(Dims{s.b, s.t, s.h, s.d}, seed++, dt), rnd(Dims{s.b, s.s, s.hkv, s.d}, seed++, dt, 2.0f),
                          rnd(Dims{s.b, s.s, s.hkv, s.dv}, seed++, dt)},
                         // bf16: outputs are rounded to bf16, so a value near a rounding boundary may
                         // round the other way on another backend (one ulp = 2^-8 relative).
                         a, dt == DType::F32 ? 1e-10 : 1e-6});
      }
  // A strided (permuted) K/V cache view.
  Attrs a;
  a.set_bool("causal", true);
  cases.push_back({"sdpa decode strided kv", OpId::SDPA,
                   {rnd(Dims{1, 2, 2, 32}, seed++), rnd(Dims{1, 2, 900, 32}, seed++).permute({0, 2, 1, 3}),
                    rnd(Dims{1, 2, 900, 32}, seed++).permute({0, 2, 1, 3})},
                   a, 1e-10});
}

}  // namespace parity
}  // namespace engram
