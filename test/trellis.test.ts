/**
 * ops.trellis against the float64 JS oracles of test/trellis_ref.ts and the
 * gatedDeltaRule op: chunkSize 1 == recurrence, chunk form == stale-anchor
 * loop (and != the recurrence for C > 1), φ = identity == a gated delta rule
 * per pass, presets (ABC, GSA) == their definitions, state size independent
 * of T, split-call continuation at any split, step == forward, odd shapes,
 * strided and bf16 inputs, compiled plans, async, bad inputs, no leaks.
 * (Kernel-vs-reference parity on many more shapes: test/native/parity/trellis.cpp.)
 */
import test from 'ava';

import { EngramError, graph, memory, ops, tensor, tidy, type Tensor } from 'engram';
import { T32, data, f32, rmsRatio, uniform, unitRows } from './memory_ref.js';
import { abcRef, gsaRef, trellisRef, type TrDims, type TrRefOpts } from './trellis_ref.js';

/** Named tolerances (relative RMS error). */
const F32_TOL = 2e-5; // f32 kernel vs float64 oracle
const BF16_VS_F32_TOL = 3e-2; // bf16 inputs vs the same values in f32

interface Problem {
  d: TrDims;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  alpha: Float64Array;
  beta: Float64Array;
  slotBeta: Float64Array;
  gamma: Float64Array;
  eta: Float64Array;
}

/** Unit-norm q/k/v rows (the OGD step is stable for γ‖w‖² < 2), codes ~ U(-1, 1). */
function problem(d: TrDims, seed: number, gmax = 0.6): Problem {
  const n = d.B * d.T * d.H;
  const beta = f32(uniform(n, seed + 4, 0.7, 1));
  const slotBeta = f32(uniform(n * d.m, seed + 5, 0.6, 1));
  for (let i = 5; i < n; i += 13) beta[i] = 0; // a full reset now and then
  for (let i = 3; i < n * d.m; i += 17) slotBeta[i] = 1;
  return {
    d,
    q: f32(unitRows(n, d.dk, seed)),
    k: f32(unitRows(n, d.dk, seed + 1)),
    v: f32(unitRows(n, d.dv, seed + 2)),
    alpha: f32(data(n * d.m, seed + 3)),
    beta,
    slotBeta,
    gamma: f32(uniform(n, seed + 6, 0.05, gmax)),
    eta: f32(uniform(n, seed + 7, 0.3, 0.9)),
  };
}

interface Use {
  beta?: 'scalar' | 'slot';
  gamma?: boolean;
  eta?: boolean;
}

function tensors(p: Problem, u: Use = {}) {
  const { B, T, H, dk, dv, m } = p.d;
  return {
    q: T32(p.q, [B, T, H, dk]),
    k: T32(p.k, [B, T, H, dk]),
    v: T32(p.v, [B, T, H, dv]),
    alpha: T32(p.alpha, [B, T, H, m]),
    beta: u.beta === 'slot' ? T32(p.slotBeta, [B, T, H, m]) : u.beta === 'scalar' ? T32(p.beta, [B, T, H]) : null,
    gamma: u.gamma === false ? null : T32(p.gamma, [B, T, H]),
    eta: u.eta ? T32(p.eta, [B, T, H]) : null,
  };
}

function oracle(p: Problem, u: Use, o: TrRefOpts) {
  return trellisRef(p.d, {
    q: p.q, k: p.k, v: p.v, alpha: p.alpha,
    beta: u.beta === 'slot' ? p.slotBeta : u.beta === 'scalar' ? p.beta : null,
    gamma: u.gamma === false ? null : p.gamma,
    eta: u.eta ? p.eta : null,
  }, { ...o, slotBeta: u.beta === 'slot' });
}

type Opts = Parameters<typeof ops.trellis>[1];
function run(p: Problem, u: Use, o: Opts) {
  return tidy(() => {
    const r = ops.trellis(tensors(p, u), o);
    const fs = r.finalState!;
    const g = (t: Tensor | null) => (t ? Float64Array.from(t.toFloat32()) : null);
    return { o: Float64Array.from(r.o.toFloat32()), MK: g(fs.MK)!, MV: g(fs.MV)!, SK: g(fs.SK), SV: g(fs.SV), AK: g(fs.AK),
      AV: g(fs.AV), offset: fs.offset.toArray()[0] as number };
  });
}

const CONFIGS: [string, Use, TrRefOpts][] = [
  ['defaults (φ identity, f layerNormSilu)', { beta: 'scalar' }, {}],
  ['φ siluNorm, f softmax, momentum', { beta: 'scalar', eta: true }, { phi: 'siluNorm', f: 'softmax', scale: 2 }],
  ['φ layerNorm, f siluNorm, per-slot β', { beta: 'slot' }, { phi: 'layerNorm', f: 'siluNorm' }],
  ['per-slot β + momentum, f identity', { beta: 'slot', eta: true }, { f: 'identity' }],
  ['additive writes, no gates (lr option)', { gamma: false }, { write: 'additive', f: 'softmax', lr: 0.3 }],
];

test('chunkSize 1 == the recurrence: chunk and recurrent modes vs the float64 oracle, every option family', (t) => {
  const p = problem({ B: 2, T: 41, H: 3, dk: 16, dv: 12, m: 8 }, 1);
  for (const [name, u, o] of CONFIGS) {
    const want = oracle(p, u, { ...o, C: 1 });
    for (const mode of ['chunk', 'recurrent'] as const) {
      const got = run(p, u, { ...o, chunkSize: 1, mode });
      t.true(rmsRatio(got.o, want.o) < F32_TOL, `${name} ${mode}: o ${rmsRatio(got.o, want.o)}`);
      t.true(rmsRatio(got.MK, want.MK) < F32_TOL, `${name} ${mode}: MK`);
      t.true(rmsRatio(got.MV, want.MV) < F32_TOL, `${name} ${mode}: MV`);
      if (u.eta) t.true(rmsRatio(got.SV!, want.SV) < F32_TOL, `${name} ${mode}: SV`);
      t.is(got.AK, null, 'no anchors at chunkSize 1');
    }
  }
});

test('chunk form == the stale-anchor loop for C in {4, 16, 64} (tails included), recurrent mode too', (t) => {
  const p = problem({ B: 1, T: 83, H: 2, dk: 16, dv: 20, m: 12 }, 2);
  for (const [name, u, o] of CONFIGS)
    for (const C of [4, 16, 64]) {
      const want = oracle(p, u, { ...o, C });
      for (const mode of ['chunk', 'recurrent'] as const) {
        const got = run(p, u, { ...o, chunkSize: C, mode });
        t.true(rmsRatio(got.o, want.o) < F32_TOL, `${name} C${C} ${mode}: o ${rmsRatio(got.o, want.o)}`);
        t.true(rmsRatio(got.MV, want.MV) < F32_TOL, `${name} C${C} ${mode}: MV`);
        t.true(rmsRatio(got.AK!, want.AK) < F32_TOL, `${name} C${C} ${mode}: AK`);
        t.is(got.offset, 83 % C);
      }
    }
});

test('stale anchors are semantic: C > 1 differs from the recurrence, less so as γ → 0 (oracles 3, 5)', (t) => {
  const u: Use = { beta: 'scalar' };
  const diff = (gmax: number) => {
    const p = problem({ B: 1, T: 64, H: 2, dk: 16, dv: 16, m: 8 }, 3, gmax);
    const a = run(p, u, { chunkSize: 16 }).o, b = run(p, u, { chunkSize: 1 }).o;
    return rmsRatio(a, b);
  };
  const big = diff(0.8), small = diff(0.05);
  t.true(big > 1e-3, `C=16 vs C=1 differ: ${big}`);
  t.true(small < big / 5, `shrinks with γ: ${small} vs ${big}`);
  // additive writes do not read the memory: the chunk form is exact for every C
  const p = problem({ B: 1, T: 50, H: 2, dk: 16, dv: 16, m: 8 }, 4);
  const o: Opts = { write: 'additive', f: 'softmax' };
  t.true(rmsRatio(run(p, u, { ...o, chunkSize: 16 }).o, run(p, u, { ...o, chunkSize: 1 }).o) < F32_TOL);
});

test('φ = identity: each pass is ops.gatedDeltaRule (g = log β, β_gdn = γ/β, v_gdn = β α, state = Mᵀ)', (t) => {
  const d: TrDims = { B: 1, T: 12, H: 2, dk: 16, dv: 10, m: 6 };
  const p = problem(d, 5);
  for (let i = 0; i < p.beta.length; i++) p.beta[i] = 0.75 + 0.25 * ((i * 7) % 10) / 10; // β in [0.75, 1) (log β finite)
  const u: Use = { beta: 'scalar' };
  tidy(() => {
    const x = tensors(p, u);
    const init = { MK: T32(data(2 * 6 * 16, 9, 0.3), [1, 2, 6, 16]), MV: T32(data(2 * 6 * 10, 10, 0.3), [1, 2, 6, 10]) };
    const tr = ops.trellis(x, { chunkSize: 1, f: 'identity', initialState: init });
    const g = ops.log(x.beta!), bg = ops.div(x.gamma!, x.beta!);
    const vg = ops.mul(x.alpha, x.beta!.reshape([1, 12, 2, 1]));
    const tT = (s: Tensor) => s.permute([0, 1, 3, 2]).contiguous(); // [B, H, m, d] <-> [B, H, d, m]
    // pass 1: keys k, "values" β α, query q: o = MK_t q_t (the pass-1 read), state MKᵀ
    const g1 = ops.gatedDeltaRule({ q: x.q, k: x.k, v: vg, g, beta: bg }, { scale: 1, chunkSize: 4, initialState: tT(init.MK) });
    t.true(rmsRatio(tT(g1.finalState!).toFloat32(), tr.finalState!.MK.toFloat32()) < F32_TOL, 'MK');
    // pass 2: keys v; its state after each prefix, contracted with s_t = MK_t q_t, is o_t
    const S = g1.o.toFloat32(), want = new Float64Array(12 * 2 * 10);
    for (let T = 1; T <= 12; T++) {
      const sl = (a: Tensor) => a.slice(1, 0, T);
      const g2 = ops.gatedDeltaRule({ q: sl(x.v), k: sl(x.v), v: sl(vg), g: sl(g), beta: sl(bg) },
        { scale: 1, mode: 'recurrent', initialState: tT(init.MV) });
      const MVt = g2.finalState!.toFloat32(); // [1, 2, dv, m]
      for (let h = 0; h < 2; h++)
        for (let j = 0; j < 10; j++) {
          let y = 0;
          for (let r = 0; r < 6; r++) y += MVt[(h * 10 + j) * 6 + r] * S[((T - 1) * 2 + h) * 6 + r];
          want[((T - 1) * 2 + h) * 10 + j] = y;
        }
      if (T === 12) t.true(rmsRatio(tT(g2.finalState!).toFloat32(), tr.finalState!.MV.toFloat32()) < F32_TOL, 'MV');
    }
    t.true(rmsRatio(tr.o.toFloat32(), want) < F32_TOL, `o ${rmsRatio(tr.o.toFloat32(), want)}`);
  });
});

test("presets: 'abc' and 'gsa' equal their definitions (chunked form, any C)", (t) => {
  const d: TrDims = { B: 2, T: 30, H: 2, dk: 8, dv: 6, m: 5 };
  const p = problem(d, 6);
  const phi = Float64Array.from(p.alpha, (x) => Math.abs(x) / 2);
  tidy(() => {
    const x = tensors(p);
    const A = T32(phi, [2, 30, 2, 5]), G = T32(p.slotBeta, [2, 30, 2, 5]);
    for (const C of [1, 7]) {
      const abc = ops.trellis({ q: x.q, k: x.k, v: x.v, alpha: A }, { preset: 'abc', scale: 3, chunkSize: C });
      t.true(rmsRatio(abc.o.toFloat32(), abcRef(d, p.q, p.k, p.v, phi, 3)) < F32_TOL, `abc C${C}`);
      const gsa = ops.trellis({ q: x.q, k: x.k, v: x.v, beta: G }, { preset: 'gsa', scale: 3, chunkSize: C });
      t.true(rmsRatio(gsa.o.toFloat32(), gsaRef(d, p.q, p.k, p.v, p.slotBeta, 3)) < F32_TOL, `gsa C${C}`);
    }
    t.throws(() => ops.trellis({ q: x.q, k: x.k, v: x.v }, { preset: 'gsa' }), { code: 'E_ARG', message: /per-slot forget gate/ } as never);
    t.throws(() => ops.trellis({ q: x.q, k: x.k, v: x.v, alpha: A, beta: G }, { preset: 'abc' }), { code: 'E_ARG', message: /no 'beta'/ } as never);
    t.throws(() => ops.trellis({ q: x.q, k: x.k, v: x.v, beta: G }, { preset: 'gsa', f: 'identity' }), { code: 'E_ARG', message: /fixes 'f'/ } as never);
  });
});

test('the default call works: ops.trellis({q, k, v}, {slots: 64}) (α = R k, no gates)', (t) => {
  const p = problem({ B: 1, T: 20, H: 2, dk: 16, dv: 16, m: 64 }, 7);
  tidy(() => {
    const { q, k, v } = tensors(p);
    const r = ops.trellis({ q, k, v }, { slots: 64 });
    t.deepEqual(r.o.shape, [1, 20, 2, 16]);
    t.deepEqual(r.finalState!.MK.shape, [1, 2, 64, 16]);
    t.true([...r.o.toFloat32()].every(Number.isFinite));
    // the same as passing the documented default code explicitly
    const alpha = ops.matmul(k, ops.trellisAlphaProjection(64, 16, 0), { transB: true });
    t.deepEqual([...ops.trellis({ q, k, v, alpha }).o.toFloat32()], [...r.o.toFloat32()]);
  });
});

test('state bytes do not depend on T (1K and 64K tokens through the op)', (t) => {
  const bytes = (T: number) =>
    tidy(() => {
      const [B, H, D, m] = [1, 1, 16, 8];
      const mk = (n: number, s: number) => ops.scale(ops.rmsNorm(tensor(data(B * T * H * n, s), [B, T, H, n]), null), 0.25);
      const r = ops.trellis({ q: mk(D, 1), k: mk(D, 2), v: mk(D, 3), alpha: mk(m, 4) }, { chunkSize: 64 });
      const fs = r.finalState!;
      return [fs.MK, fs.MV, fs.SK, fs.SV, fs.AK, fs.AV, fs.offset].reduce((a, x) => a + (x ? x.size * 4 : 0), 0);
    });
  const a = bytes(1024), b = bytes(65536);
  t.is(a, b);
  t.is(a, 4 * (2 * 8 * 16 + 2 * 8 * 16 + 1)); // MK, MV, AK, AV [1, 1, 8, 16] f32 + offset
});

test('split calls continue the sequence exactly at any split (anchors + offset carried)', (t) => {
  const p = problem({ B: 2, T: 70, H: 2, dk: 16, dv: 12, m: 8 }, 8);
  const u: Use = { beta: 'slot', eta: true };
  const o: Opts = { chunkSize: 16, phi: 'siluNorm', f: 'softmax' };
  tidy(() => {
    const x = tensors(p, u);
    const full = ops.trellis(x, o);
    const part = (a: number, b: number) =>
      Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v ? v.slice(1, a, b) : v])) as unknown as typeof x;
    for (const cuts of [[5], [16, 48], [1, 2, 33, 69]]) {
      let st = null as Parameters<typeof ops.trellis>[1] extends infer O ? (O extends { initialState?: infer S } ? S : never) : never;
      const outs: Tensor[] = [];
      const bounds = [0, ...cuts, 70];
      for (let i = 0; i + 1 < bounds.length; i++) {
        const r = ops.trellis(part(bounds[i], bounds[i + 1]), { ...o, initialState: st });
        outs.push(r.o);
        st = r.finalState;
      }
      const joined = ops.concat(outs, { axis: 1 });
      t.true(rmsRatio(joined.toFloat32(), full.o.toFloat32()) < F32_TOL, `cuts ${cuts}`);
      t.true(rmsRatio(st!.MV!.toFloat32(), full.finalState!.MV.toFloat32()) < F32_TOL);
      t.true(rmsRatio(st!.SK!.toFloat32(), full.finalState!.SK!.toFloat32()) < F32_TOL);
    }
  });
});

test('step == forward: prefill with the chunk form, then one token at a time (O(m·d) per token)', async (t) => {
  const p = problem({ B: 1, T: 40, H: 3, dk: 16, dv: 16, m: 12 }, 9);
  const u: Use = { beta: 'scalar', eta: true };
  const o = { chunkSize: 8, phi: 'layerNorm', f: 'softmax', scale: 2 } as const;
  const x = tensors(p, u);
  const full = ops.trellis(x, o);
  const F = full.o.toFloat32();
  const sl = (a: number, b: number) =>
    Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v ? v.slice(1, a, b) : v])) as unknown as typeof x;
  let r = ops.trellis(sl(0, 13), o);
  r.o.dispose();
  for (let s = 13; s < 40; s++) {
    const next = s % 2 ? ops.trellisStep(sl(s, s + 1), r.finalState, o) : await ops.trellisStepAsync(sl(s, s + 1), r.finalState, o);
    for (const v of Object.values(r.finalState!)) v?.dispose();
    const got = next.o.toFloat32(), want = F.slice(s * 3 * 16, (s + 1) * 3 * 16);
    t.true(rmsRatio(got, want) < F32_TOL, `token ${s}: ${rmsRatio(got, want)}`);
    next.o.dispose();
    r = next;
  }
  t.true(rmsRatio(r.finalState!.MK.toFloat32(), full.finalState!.MK.toFloat32()) < F32_TOL);
  t.is(r.finalState!.offset.toArray()[0], 40 % 8);
  for (const v of [...Object.values(r.finalState!), ...Object.values(full.finalState!), full.o, ...Object.values(x)]) v?.dispose();
});

test('odd shapes: T = 1, m = 1, dk != dv, B = 3; strided views; bf16 inputs', (t) => {
  for (const d of [{ B: 3, T: 1, H: 1, dk: 8, dv: 5, m: 1 }, { B: 1, T: 63, H: 3, dk: 60, dv: 16, m: 33 }]) {
    const p = problem(d, 10);
    const u: Use = { beta: 'scalar' };
    const want = oracle(p, u, { C: 16, phi: 'siluNorm' });
    const got = run(p, u, { chunkSize: 16, phi: 'siluNorm' });
    t.true(rmsRatio(got.o, want.o) < F32_TOL, `${JSON.stringify(d)}: ${rmsRatio(got.o, want.o)}`);
  }
  const d = { B: 1, T: 40, H: 3, dk: 16, dv: 16, m: 8 };
  const p = problem(d, 11);
  tidy(() => {
    const x = tensors(p, { beta: 'slot' });
    const o: Opts = { chunkSize: 8, f: 'softmax' };
    const base = ops.trellis(x, o).o.toFloat32();
    // strided: q/k/v as permuted views of [B, T, D, H] data
    const perm = (a: Tensor) => a.permute([0, 1, 3, 2]).contiguous().permute([0, 1, 3, 2]);
    const sx = { ...x, q: perm(x.q), k: perm(x.k), v: perm(x.v), alpha: perm(x.alpha) };
    t.false(sx.q.isContiguous);
    t.deepEqual([...ops.trellis(sx, o).o.toFloat32()], [...base]);
    const bf = (a: Tensor) => ops.cast(a, 'bf16');
    const b = ops.trellis({ ...x, q: bf(x.q), k: bf(x.k), v: bf(x.v), alpha: bf(x.alpha) }, o);
    t.is(b.o.dtype, 'bf16');
    t.true(rmsRatio(b.o.toFloat32(), base) < BF16_VS_F32_TOL);
    t.is(b.finalState!.MK.dtype, 'f32');
  });
});

test('a trellis node in a compiled plan: shapes at compile time, NaN slot codes rejected at run time', async (t) => {
  const [B, T, H, D, m] = [1, 12, 2, 8, 4];
  const g = new graph.Graph();
  const q = g.input('q', [B, T, H, D]), k = g.input('k', [B, T, H, D]), v = g.input('v', [B, T, H, D]);
  const al = g.input('alpha', [B, T, H, m]), be = g.input('beta', [B, T, H]);
  const outs = g.op('trellis', [q, k, v, al, be], { chunkSize: 4 });
  t.is(outs.length, 8);
  t.deepEqual(outs[1].shape, [B, H, m, D]);
  g.output('o', outs[0]);
  const plan = g.compile({ device: 'cpu' });
  const p = problem({ B, T, H, dk: D, dv: D, m }, 12);
  const x = tensors(p, { beta: 'scalar' });
  const { o } = await plan.run({ q: x.q, k: x.k, v: x.v, alpha: x.alpha, beta: x.beta! });
  const [want] = ops.runOp('trellis', [x.q, x.k, x.v, x.alpha, x.beta], { chunkSize: 4 });
  t.deepEqual(o.toFloat32(), want.toFloat32());
  const bad = T32(Float64Array.from(p.alpha, (a, i) => (i === 7 ? NaN : a)), [B, T, H, m]);
  await t.throwsAsync(plan.run({ q: x.q, k: x.k, v: x.v, alpha: bad, beta: x.beta! }), { instanceOf: EngramError, code: 'E_NAN' } as never);
  for (const y of [...Object.values(x), o, want, bad]) y?.dispose();
  plan.dispose();
});

test('trellisRead(state, q) is the op\'s read: it equals the output of the last token, for every f', (t) => {
  const p = problem({ B: 2, T: 9, H: 3, dk: 16, dv: 12, m: 7 }, 16);
  tidy(() => {
    const x = tensors(p, { beta: 'scalar' });
    for (const f of ['softmax', 'siluNorm', 'layerNormSilu', 'identity'] as const) {
      const r = ops.trellis(x, { f, scale: 1.5, chunkSize: 4 });
      const y = ops.trellisRead(r.finalState!, x.q.slice(1, 8, 9), { f, scale: 1.5 });
      t.deepEqual(y.shape, [2, 1, 3, 12]);
      t.true(rmsRatio(y.toFloat32(), r.o.slice(1, 8, 9).contiguous().toFloat32()) < F32_TOL, f);
    }
  });
});

test('trellisAsync equals trellis', async (t) => {
  const p = problem({ B: 1, T: 30, H: 2, dk: 16, dv: 16, m: 8 }, 13);
  const x = tensors(p, { beta: 'slot', eta: true });
  const a = ops.trellis(x, { chunkSize: 8 }), b = await ops.trellisAsync(x, { chunkSize: 8 });
  t.deepEqual([...b.o.toFloat32()], [...a.o.toFloat32()]);
  t.deepEqual([...b.finalState!.SV!.toFloat32()], [...a.finalState!.SV!.toFloat32()]);
  for (const y of [...Object.values(x), a.o, b.o, ...Object.values(a.finalState!), ...Object.values(b.finalState!)]) y?.dispose();
});

test('bad inputs are EngramErrors naming the argument', (t) => {
  const p = problem({ B: 1, T: 6, H: 2, dk: 8, dv: 8, m: 4 }, 14);
  tidy(() => {
    const x = tensors(p, { beta: 'scalar' });
    const bad = (fn: () => unknown, code: string, message: RegExp) => t.throws(fn, { instanceOf: EngramError, code, message } as never);
    const withArr = (src: Float64Array, i: number, val: number, shape: number[]) => T32(Float64Array.from(src, (a, j) => (j === i ? val : a)), shape);
    bad(() => ops.trellis(x, { slots: 0 }), 'E_ARG', /slots must be an integer >= 1/);
    bad(() => ops.runOp('trellis', [x.q, x.k, x.v, x.alpha], { slots: -3 }), 'E_ARG', /slots must be in \[1, 65536\]/);
    bad(() => ops.trellis(x, { slots: 5 }), 'E_SHAPE', /slots is 5 but 'alpha' has 4/);
    bad(() => ops.trellis({ ...x, k: x.k.slice(1, 0, 5) }), 'E_SHAPE', /must agree in B, T and H/);
    bad(() => ops.trellis({ ...x, alpha: x.alpha.slice(1, 0, 5) }), 'E_SHAPE', /'alpha' must be \[B, T, H, m\]/);
    bad(() => ops.trellis({ ...x, beta: x.beta!.slice(1, 0, 5) }), 'E_SHAPE', /gate 'beta' must be \[B, T, H\]/);
    bad(() => ops.trellis({ ...x, alpha: withArr(p.alpha, 3, NaN, [1, 6, 2, 4]) }), 'E_NAN', /'alpha' is NaN at \[0, 0, 0, 3\]/);
    bad(() => ops.trellis({ ...x, alpha: withArr(p.alpha, 3, Infinity, [1, 6, 2, 4]) }), 'E_ARG', /'alpha' must be finite/);
    bad(() => ops.trellis({ ...x, beta: withArr(p.beta, 2, NaN, [1, 6, 2]) }), 'E_NAN', /gate 'beta' is NaN/);
    bad(() => ops.trellis({ ...x, beta: withArr(p.beta, 2, 1.5, [1, 6, 2]) }), 'E_ARG', /gate 'beta' must be in \[0, 1\]/);
    bad(() => ops.trellis({ ...x, beta: T32(new Float64Array(48).fill(-0.1), [1, 6, 2, 4]) }), 'E_ARG', /'beta' must be in \[0, 1\]/);
    bad(() => ops.trellis({ ...x, gamma: withArr(p.gamma, 0, -1, [1, 6, 2]) }), 'E_ARG', /gate 'gamma' must be finite and >= 0/);
    bad(() => ops.trellis({ ...x, eta: withArr(p.eta, 0, 2, [1, 6, 2]) }), 'E_ARG', /gate 'eta' must be in \[0, 1\]/);
    bad(() => ops.trellis(x, { phi: 'tanh' as never }), 'E_ARG', /phi must be one of identity, siluNorm, layerNorm/);
    bad(() => ops.trellis(x, { f: 'relu' as never }), 'E_ARG', /f must be one of softmax/);
    bad(() => ops.trellis(x, { write: 'additive', phi: 'siluNorm' }), 'E_ARG', /phi has no effect/);
    bad(() => ops.trellis(x, { chunkSize: 0 }), 'E_ARG', /chunkSize must be in \[1, 4096\]/);
    bad(() => ops.trellis(x, { scale: 0 }), 'E_ARG', /scale must be finite and > 0/);
    bad(() => ops.trellis(x, { lr: Infinity }), 'E_ARG', /lr must be finite/);
    bad(() => ops.trellis(x, { lr: NaN }), 'E_NAN', /option 'lr' is NaN/);
    bad(() => ops.trellis(x, { mode: 'fast' as never }), 'E_ARG', /mode must be 'chunk' or 'recurrent'/);
    bad(() => ops.trellis(x, { chunk: 4 } as never), 'E_ARG', /unknown option 'chunk'/);
    bad(() => ops.trellis(x, { initialState: { memory: x.q } as never }), 'E_ARG', /unknown initialState key 'memory'/);
    bad(() => ops.trellis(x, { initialState: { MK: T32(new Float64Array(64), [1, 2, 4, 8]).reshape([1, 2, 8, 4]) } }), 'E_SHAPE',
      /state 'initialState.MK' must be \[1, 2, 4, 8\]/);
    bad(() => ops.trellis(x, { initialState: { MK: ops.cast(T32(new Float64Array(64), [1, 2, 4, 8]), 'bf16') } }), 'E_DTYPE', /must be f32/);
    bad(() => ops.trellis(x, { initialState: { SK: T32(new Float64Array(64), [1, 2, 4, 8]) } }), 'E_ARG', /no 'eta' gate/);
    const off = (n: number) => tensor(Int32Array.of(n), [1]);
    bad(() => ops.trellis(x, { chunkSize: 4, initialState: { offset: off(4) } }), 'E_ARG', /offset must be in \[0, chunkSize = 4\)/);
    bad(() => ops.trellis(x, { chunkSize: 4, initialState: { offset: off(2) } }), 'E_ARG', /needs the anchors/);
    bad(() => ops.trellis(x, { initialState: { offset: tensor([1], [1]) } }), 'E_DTYPE', /offset must be i32/);
    bad(() => ops.runOp('trellis', [x.q, x.k, x.v]), 'E_ARG', /./);
    bad(() => ops.trellis({ ...x, q: ops.cast(x.q, 'f16') }), 'E_DTYPE', /./);
  });
});

test.serial('no tensors leak through trellis, its defaults and presets', (t) => {
  const p = problem({ B: 1, T: 10, H: 2, dk: 8, dv: 8, m: 4 }, 15);
  const x = tensors(p, { beta: 'slot' });
  const m0 = memory();
  const a = ops.trellis({ q: x.q, k: x.k, v: x.v }, { slots: 4 });
  const b = ops.trellis({ q: x.q, k: x.k, v: x.v, beta: x.beta }, { preset: 'gsa' });
  for (const r of [a, b]) for (const y of [r.o, ...Object.values(r.finalState!)]) y?.dispose();
  t.throws(() => ops.trellis({ q: x.q, k: x.k, v: x.v }, { slots: 4, lr: -1 }));
  const m1 = memory();
  t.is(m1.tensors, m0.tensors);
  for (const y of Object.values(x)) y?.dispose();
});
