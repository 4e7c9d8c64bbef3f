/**
 * ops.gatedDeltaRule: the gated delta rule (Gated DeltaNet), fla row
 * convention. q, k [B, T, H, K], v [B, T, H, V]; g [B, T, H] is the log of
 * the decay (<= 0), beta [B, T, H] in (0, 1); state S [B, H, K, V] (f32).
 * Per token: S = exp(g) S;  S += k (beta (v - kᵀS))ᵀ;  o = (scale q)ᵀ S.
 * 'chunk' mode (WY/UT form) equals the recurrence for every chunk size.
 */
import type { Tensor } from '../tensor.js';
import { attrsOf, checkOptions, runMemory, runMemoryAsync, type MemoryResult } from './memory_common.js';

export interface GatedDeltaRuleInputs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** log of the per-token decay, <= 0, [B, T, H] */
  g: Tensor;
  /** writing strength in (0, 1), [B, T, H] */
  beta: Tensor;
}

export interface GatedDeltaRuleOptions {
  /** Chunk of the WY/UT form (any size gives the same result). Default 64. */
  chunkSize?: number;
  /** Query scale; default 1/sqrt(K). */
  scale?: number;
  /** S0 [B, H, K, V] (or [1, H, K, V]) f32; default zeros. */
  initialState?: Tensor | null;
  /** Return the final state (default true). */
  outputFinalState?: boolean;
  /** 'chunk' (default) or 'recurrent' (token loop; decoding). */
  mode?: 'recurrent' | 'chunk';
}

const KNOWN = ['chunkSize', 'scale', 'initialState', 'outputFinalState', 'mode'] as const;
const args = (x: GatedDeltaRuleInputs, o: GatedDeltaRuleOptions) => {
  checkOptions('gatedDeltaRule', o, KNOWN);
  return [
    [x.q, x.k, x.v, x.g, x.beta, ...(o.initialState ? [o.initialState] : [])],
    attrsOf({ chunkSize: o.chunkSize, scale: o.scale, outputFinalState: o.outputFinalState, mode: o.mode }),
  ] as const;
};

type S = { state: Tensor };

/** → { o [B, T, H, V], finalState [B, H, K, V] | null } */
export function gatedDeltaRule(x: GatedDeltaRuleInputs, o: GatedDeltaRuleOptions = {}): MemoryResult<Tensor> {
  const [ins, attrs] = args(x, o);
  const r = runMemory<S>('gatedDeltaRule', [...ins], attrs, ['state']);
  return { o: r.o, finalState: r.finalState?.state ?? null };
}

export async function gatedDeltaRuleAsync(
  x: GatedDeltaRuleInputs,
  o: GatedDeltaRuleOptions = {},
): Promise<MemoryResult<Tensor>> {
  const [ins, attrs] = args(x, o);
  const r = await runMemoryAsync<S>('gatedDeltaRule', [...ins], attrs, ['state']);
  return { o: r.o, finalState: r.finalState?.state ?? null };
}
