/**
 * ops.trellis: Trellis compressed KV memory — a reconstruction of
 * algorithms.md §5 (the paper's equations are not public; docs/trellis.md
 * lists every open choice and the defaults picked here). m slots per head:
 * key memory MK [B, H, m, dk], value memory MV [B, H, m, dv], written by
 * online gradient descent with a forget gate and read in two passes:
 *   z = MK_anchor k;  u = J_φ(z)ᵀ(φ(z) − α);  MK ← β ⊙ MK − γ u kᵀ      (pass 1)
 *   s = f(scale · MK q)                                                 (slot scores)
 *   z₂ = MV_anchor v; u₂ = J_φ(z₂)ᵀ(φ(z₂) − α); MV ← β ⊙ MV − γ u₂ vᵀ   (pass 2)
 *   o = MVᵀ s
 * (momentum: S ← η S − γ u wᵀ; M ← β ⊙ M + S). The gradients of a chunk are
 * taken at its anchor (the memory at the chunk start: stale anchor,
 * chunkSize 1 = the exact recurrence). The state carries the anchors and the
 * position inside the chunk, so splitting a sequence anywhere (and `step`)
 * continues it exactly. Inputs [B, T, H, D] f32/bf16/f16; states f32.
 */
import { EngramError } from '../errors.js';
import { Tensor, randn, tidy } from '../tensor.js';
import { cast, layerNorm, matmul, rmsNorm, scale as scaleOp, silu, softmax } from './basic.js';
import { attrsOf, checkOptions, checkStateKeys, runMemory, runMemoryAsync, type MemoryResult } from './memory_common.js';

export interface TrellisInputs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** Slot code α [B, T, H, m] (finite): the target of both passes. Default: see TrellisOptions.preset. */
  alpha?: Tensor | null;
  /** Forget gate β in [0, 1]: [B, T, H] (scalar per head) or [B, T, H, m] (per slot). Default 1 (no forgetting). */
  beta?: Tensor | null;
  /** Per-token learning rate γ >= 0, [B, T, H]. Default: options.lr. */
  gamma?: Tensor | null;
  /** Momentum decay η in [0, 1], [B, T, H]. Momentum is on iff eta is given. */
  eta?: Tensor | null;
}

/**
 * The memory state (f32, [B, H, m, dk] / [B, H, m, dv]): memories MK, MV,
 * momenta SK, SV (with eta), anchors AK, AV (chunkSize > 1) and `offset`
 * (i32 [1]: tokens of the current chunk already consumed).
 */
export interface TrellisState {
  MK: Tensor;
  MV: Tensor;
  SK: Tensor | null;
  SV: Tensor | null;
  AK: Tensor | null;
  AV: Tensor | null;
  offset: Tensor;
}

export type TrellisPhi = 'identity' | 'siluNorm' | 'layerNorm';
export type TrellisF = 'softmax' | 'siluNorm' | 'layerNormSilu' | 'identity';
export type TrellisPreset = 'trellis' | 'abc' | 'gsa';

export interface TrellisOptions {
  /** Slots m (default: alpha's last dim, else 64). */
  slots?: number;
  /** Tokens per chunk; semantic (gradients at the chunk anchor). Default 64 ('chunk'), 1 ('recurrent'). */
  chunkSize?: number;
  /** 'chunk' (the chunk-parallel form) or 'recurrent' (a token loop computing the same function). */
  mode?: 'chunk' | 'recurrent';
  /** Write non-linearity φ (default 'identity'). */
  phi?: TrellisPhi;
  /** Inter-pass map f of the slot scores (default 'layerNormSilu'). */
  f?: TrellisF;
  /** 'ogd' (default): one gradient step on ½‖φ(Mw) − α‖²; 'additive': M ← β ⊙ M + γ α wᵀ. */
  write?: 'ogd' | 'additive';
  /**
   * 'trellis' (default; the options above), or a slot-memory relative that is a special case:
   * 'abc' — ABC: additive writes, f softmax, no gates (alpha required: the control vectors φ_t);
   * 'gsa' — Gated Slot Attention: additive writes of (1 − β) (alpha defaults to 1 − β), per-slot
   * forget gate β [B, T, H, m] required, f softmax.
   */
  preset?: TrellisPreset;
  /** s = f(scale · MK q). Default 1. */
  scale?: number;
  /** γ when no gamma input is given. Default 1. */
  lr?: number;
  /** Of the normalisations in φ and f. Default 1e-6. */
  eps?: number;
  /** Seed of the fixed projection R [m, dk] ~ N(0, 1) of the default slot code α = R k. Default 0. */
  alphaSeed?: number;
  /** Continue from a state (parts may be omitted: zeros; offset 0). */
  initialState?: Partial<TrellisState> | null;
  /** Return the final state (default true). */
  outputFinalState?: boolean;
}

const KNOWN = ['slots', 'chunkSize', 'mode', 'phi', 'f', 'write', 'preset', 'scale', 'lr', 'eps', 'alphaSeed',
  'initialState', 'outputFinalState'] as const;
const STATE_KEYS = ['MK', 'MV', 'SK', 'SV', 'AK', 'AV', 'offset'] as const;

/** The fixed projection of the default slot code: R [m, dk] ~ N(0, 1), in k's dtype and device. */
export function trellisAlphaProjection(m: number, dk: number, seed = 0, like?: Tensor): Tensor {
  const R = randn([m, dk], { seed, device: like?.device ?? 'cpu' });
  if (!like || like.dtype === 'f32') return R;
  const c = cast(R, like.dtype);
  R.dispose();
  return c;
}

function presetOptions(x: TrellisInputs, o: TrellisOptions): { x: TrellisInputs; o: TrellisOptions; owned: Tensor[] } {
  const preset = o.preset ?? 'trellis';
  const owned: Tensor[] = [];
  const m = o.slots ?? x.alpha?.shape[3] ?? (x.beta && x.beta.shape.length === 4 ? x.beta.shape[3] : 64);
  const fixed = (keys: (keyof TrellisOptions)[]) => {
    for (const k of keys)
      if (o[k] !== undefined) throw new EngramError(`trellis: preset '${preset}' fixes '${k}' (do not pass it)`, 'E_ARG');
  };
  const none = (keys: (keyof TrellisInputs)[]) => {
    for (const k of keys)
      if (x[k]) throw new EngramError(`trellis: preset '${preset}' has no '${k}' input`, 'E_ARG');
  };
  let alpha = x.alpha ?? null;
  if (preset === 'trellis') {
    if (!alpha) {
      const { k } = x;
      if (!(k instanceof Tensor) || k.shape.length !== 4)
        throw new EngramError('trellis: k must be a [B, T, H, dk] Tensor', 'E_SHAPE');
      check(Number.isInteger(m) && m >= 1, `trellis: slots must be an integer >= 1, got ${m}`);
      alpha = tidy(() => matmul(k, trellisAlphaProjection(m, k.shape[3], o.alphaSeed ?? 0, k), { transB: true }));
      owned.push(alpha);
    }
    return { x: { ...x, alpha }, o, owned };
  }
  if (o.alphaSeed !== undefined) throw new EngramError(`trellis: alphaSeed has no use with preset '${preset}'`, 'E_ARG');
  fixed(['phi', 'f', 'write', 'lr']);
  if (preset === 'abc') {
    none(['beta', 'gamma', 'eta']);
    if (!alpha) throw new EngramError("trellis: preset 'abc' needs alpha (the control vectors φ_t, [B, T, H, m])", 'E_ARG');
  } else if (preset === 'gsa') {
    none(['gamma', 'eta']);
    const b = x.beta;
    if (!b || b.shape.length !== 4)
      throw new EngramError("trellis: preset 'gsa' needs a per-slot forget gate beta [B, T, H, m]", 'E_ARG');
    if (!alpha) {
      alpha = scaleOp(b, -1, 1);  // GSA writes (1 − α_t) with its forget gate α_t (our β)
      owned.push(alpha);
    }
  } else {
    throw new EngramError(`trellis: preset must be 'trellis', 'abc' or 'gsa', got '${String(preset)}'`, 'E_ARG');
  }
  return { x: { ...x, alpha }, o: { ...o, write: 'additive', f: 'softmax' }, owned };
}

function check(ok: boolean, msg: string): void {
  if (!ok) throw new EngramError(msg, 'E_ARG');
}

function args(x0: TrellisInputs, o0: TrellisOptions) {
  checkOptions('trellis', o0, KNOWN);
  checkStateKeys('trellis', o0.initialState, [...STATE_KEYS]);
  if (o0.slots !== undefined)
    check(Number.isInteger(o0.slots) && o0.slots >= 1, `trellis: slots must be an integer >= 1, got ${o0.slots}`);
  const { x, o, owned } = presetOptions(x0, o0);
  const s = o.initialState ?? {};
  const inputs = [x.q, x.k, x.v, x.alpha, x.beta ?? null, x.gamma ?? null, x.eta ?? null, s.MK ?? null, s.MV ?? null,
    s.SK ?? null, s.SV ?? null, s.AK ?? null, s.AV ?? null, s.offset ?? null];
  const attrs = attrsOf({
    slots: o.slots, chunkSize: o.chunkSize, mode: o.mode, phi: o.phi, f: o.f, write: o.write, scale: o.scale, lr: o.lr,
    eps: o.eps, outputFinalState: o.outputFinalState,
  });
  return { inputs, attrs, owned };
}

/** → { o [B, T, H, dv] (q's dtype), finalState | null } */
export function trellis(x: TrellisInputs, o: TrellisOptions = {}): MemoryResult<TrellisState> {
  const a = args(x, o);
  try {
    return runMemory<TrellisState>('trellis', a.inputs, a.attrs, [...STATE_KEYS]);
  } finally {
    for (const t of a.owned) t.dispose();
  }
}

export async function trellisAsync(x: TrellisInputs, o: TrellisOptions = {}): Promise<MemoryResult<TrellisState>> {
  const a = args(x, o);
  try {
    return await runMemoryAsync<TrellisState>('trellis', a.inputs, a.attrs, [...STATE_KEYS]);
  } finally {
    for (const t of a.owned) t.dispose();
  }
}

/**
 * Decoding: continues `state` by the tokens of x (usually T = 1) with the
 * token loop — O(m·(dk + dv)) work per token whatever the context length —
 * computing exactly what the forward over the whole sequence computes (pass
 * the forward's chunkSize and options). The old state is not disposed.
 */
export function trellisStep(
  x: TrellisInputs,
  state: Partial<TrellisState> | null,
  o: Omit<TrellisOptions, 'initialState' | 'mode'> = {},
): MemoryResult<TrellisState> {
  return trellis(x, { chunkSize: 64, ...o, mode: 'recurrent', initialState: state });
}

export function trellisStepAsync(
  x: TrellisInputs,
  state: Partial<TrellisState> | null,
  o: Omit<TrellisOptions, 'initialState' | 'mode'> = {},
): Promise<MemoryResult<TrellisState>> {
  return trellisAsync(x, { chunkSize: 64, ...o, mode: 'recurrent', initialState: state });
}

export interface TrellisReadOptions {
  f?: TrellisF;
  scale?: number;
  eps?: number;
}

/**
 * Reads memories without writing: o = MVᵀ f(scale · MK q) for queries
 * q [B, Q, H, dk] → [B, Q, H, dv] (f32), with the op's f/scale/eps. The op's
 * own output at token t equals this read of its state after t (write before
 * read). Built from matmul/softmax/norm ops (any device).
 */
export function trellisRead(state: Pick<TrellisState, 'MK' | 'MV'>, q: Tensor, o: TrellisReadOptions = {}): Tensor {
  checkOptions('trellisRead', o, ['f', 'scale', 'eps']);
  const f = o.f ?? 'layerNormSilu', sc = o.scale ?? 1, eps = o.eps ?? 1e-6;
  return tidy(() => {
    const m = state.MK.shape[2];
    const qp = q.dtype === 'f32' ? q : cast(q, 'f32');
    const r = scaleOp(matmul(qp.permute([0, 2, 1, 3]), state.MK, { transB: true }), sc); // [B, H, Q, m]
    let s: Tensor;
    if (f === 'softmax') s = softmax(r);
    else if (f === 'identity') s = r;
    else if (f === 'siluNorm') s = scaleOp(rmsNorm(silu(r), null, { eps: eps / m }), 1 / Math.sqrt(m));
    else if (f === 'layerNormSilu') s = layerNorm(silu(r), null, null, { eps });
    else throw new EngramError(`trellisRead: f must be softmax, siluNorm, layerNormSilu or identity; got '${String(f)}'`, 'E_ARG');
    return matmul(s, state.MV).permute([0, 2, 1, 3]).contiguous();
  });
}
