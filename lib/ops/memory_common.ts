/** Shared plumbing of the test-time memory wrappers (gatedDeltaRule, titans, ttt). */
import type { Attrs } from '../binding.js';
import { EngramError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { runOp, runOpAsync, type MaybeTensor } from './run.js';

/** Activation of an MLP memory. */
export type MemoryActivation = 'gelu' | 'geluTanh' | 'silu' | 'relu' | 'tanh';

/** Outputs of a memory op: per-token outputs and (unless outputFinalState: false) the final state. */
export interface MemoryResult<S> {
  o: Tensor;
  finalState: S | null;
}

/** Drops undefined options (the addon rejects unknown keys, not undefined ones). */
export function attrsOf(o: Record<string, unknown>): Attrs {
  const a: Attrs = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) a[k] = v as Attrs[string];
  return a;
}

/** Runs the op and splits its outputs into o and the named state tensors. */
export function runMemory<S>(name: string, inputs: MaybeTensor[], attrs: Attrs, keys: (keyof S)[]): MemoryResult<S> {
  return split(runOp(name, inputs, attrs), keys);
}
export async function runMemoryAsync<S>(
  name: string,
  inputs: MaybeTensor[],
  attrs: Attrs,
  keys: (keyof S)[],
): Promise<MemoryResult<S>> {
  return split(await runOpAsync(name, inputs, attrs), keys);
}

function split<S>(outs: Tensor[], keys: (keyof S)[]): MemoryResult<S> {
  const [o, ...rest] = outs;
  // A [0] tensor marks a state that was not requested (or a bias that is off).
  if (rest.every((t) => t.size === 0)) {
    for (const t of rest) t.dispose();
    return { o, finalState: null };
  }
  const st = {} as Record<keyof S, Tensor | null>;
  keys.forEach((k, i) => {
    const t = rest[i];
    if (t.size === 0) {
      t.dispose();
      st[k] = null;
    } else {
      st[k] = t;
    }
  });
  return { o, finalState: st as unknown as S };
}

/** E_ARG unless the initial state has only the expected keys. */
export function checkStateKeys(op: string, state: object | null | undefined, keys: string[]): void {
  if (!state) return;
  for (const k of Object.keys(state))
    if (!keys.includes(k))
      throw new EngramError(`${op}: unknown initialState key '${k}' (expected ${keys.join(', ')})`, 'E_ARG');
}

/** E_ARG for option keys the op does not know (a typo must not be ignored). */
export function checkOptions(op: string, o: object, known: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!known.includes(k))
      throw new EngramError(`${op}: unknown option '${k}' (known options: ${known.join(', ')})`, 'E_ARG');
}
