// The parity harness's "cuda-emu" pass: the token-loop bodies of the CUDA
// memory kernels (cuda/hd/*_body.h: titansMlp, tttMlp, the titansLinear and
// gatedDeltaRule token loops, the TNT token loop), wired by the launchers'
// own argument builders (cuda/hd/memory_args.h) and run on a CPU emulation of
// a 5-thread block (block_emu.h), on every parity case of those ops. No GPU
// needed; what remains for a GPU is the warp-level dot product and the launch.
#include <vector>

#include "../../../cuda/hd/memory_args.h"
#include "../block_emu.h"
#include "../parity.h"

namespace engram {
namespace parity {

bool run_cuda_emulation(OpCall& c) {
  using namespace cuda;
  constexpr int kThreads = 5;
  const int BH = (int)(c.in[0].size(0) * c.in[0].size(2));
  switch (c.op) {
    case OpId::TITANS_MLP: {
      TitansMlpArgs a = titans_mlp_args(c);
      std::vector<float> ws((size_t)BH * 6 * a.d * a.dh, NAN);
      a.ws = ws.data();
      emulate_blocks(BH, titans_mlp_smem_floats(a.d, a.dh), kThreads,
                     [&](int bh, float* sm, const EmuExec& x) { titans_mlp_block(a, bh, sm, x); });
      if (c.out[7].numel()) *c.out[7].data<int32_t>() = (int32_t)((a.offset + (int64_t)a.T) % a.C);
      return true;
    }
    case OpId::TTT_MLP: {
      TttMlpArgs a = ttt_mlp_args(c);
      std::vector<float> ws((size_t)(BH * ttt_mlp_ws_floats(a.dk, a.dv, a.dh)), NAN);
      a.ws = ws.data();
      emulate_blocks(BH, ttt_mlp_smem_floats(a.dk, a.dv, a.dh), kThreads,
                     [&](int bh, float* sm, const EmuExec& x) { ttt_mlp_block(a, bh, sm, x); });
      return true;
    }
    case OpId::TITANS_LINEAR: {
      LinTokArgs a = titans_linear_token_args(c);
      std::vector<float> ws((size_t)BH * 3 * a.dk * a.dv, NAN);
      a.ws = ws.data();
      emulate_blocks(BH, lin_token_smem_floats(a.dk), kThreads,
                     [&](int bh, float* sm, const EmuExec& x) { titans_linear_token_block(a, bh, sm, x); });
      if (c.out[4].numel()) *c.out[4].data<int32_t>() = (int32_t)((a.offset + (int64_t)a.T) % a.C);
      return true;
    }
    case OpId::GATED_DELTA_RULE: {
      GdnTokArgs a = gdn_token_args(c);
      std::vector<float> ws((size_t)BH * a.dk * a.dv, NAN);
      a.ws = ws.data();
      emulate_blocks(BH, gdn_token_smem_floats(a.dk), kThreads,
                     [&](int bh, float* sm, const EmuExec& x) { gdn_token_block(a, bh, sm, x); });
      return true;
    }
    case OpId::TNT: {
      const TntParams& p = c.p<TntParams>();
      if (p.devices > 0) return false;  // simulated devices: a CPU feature
      Tensor keep;
      int dh_max = 0;
      TntTokArgs a = tnt_token_args(c, &keep, &dh_max);
      const TntLayout L = tnt_layout(p, a.B, a.H, a.dk, a.dv);
      std::vector<float> ws;
      if (c.out[1].numel()) {
        a.st = c.out[1].data<float>();
      } else {
        ws.assign((size_t)L.total, NAN);
        a.st = ws.data();
      }
      emulate_blocks(BH, tnt_token_smem_floats(a.dk, a.dv, dh_max), kThreads,
                     [&](int bh, float* sm, const EmuExec& x) { tnt_token_block(a, bh, sm, dh_max, x); });
      if (c.out[1].numel()) tnt_write_header(a.st, a.pos0 + a.T, (int64_t)p.mods.size(), L.total);
      return true;
    }
    default:
      return false;
  }
}

}  // namespace parity
}  // namespace engram
