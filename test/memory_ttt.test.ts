/**
 * ops.ttt (TTT-Linear / TTT-MLP) against the float64 JS primal mini-batch
 * loop (its LN gradient by finite differences): C = 1 == online GD, dual
 * form == primal for C in {1, 4, 16, 64} (oracles 1, 2), Theorem 1 (oracle
 * 8), split-call continuation, options.
 */
import test from 'ava';

import { ops, tidy } from 'engram';
import { T32, data, f32, rmsRatio, tttRef, uniform, type Dims, type TttRefOpts } from './memory_ref.js';

const TOL = 2e-5; // relative RMS; the oracle's LN gradient is a finite difference

interface P {
  d: Dims;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  eta: Float64Array;
}
function problem(d: Dims, seed: number, etaMax = 0.5): P {
  const n = d.B * d.T * d.H;
  return {
    d,
    q: f32(data(n * d.dk, seed, 1.7 / Math.sqrt(d.dk))),
    k: f32(data(n * d.dk, seed + 1, 1.7 / Math.sqrt(d.dk))),
    v: f32(data(n * d.dv, seed + 2, 0.5)),
    eta: f32(uniform(n, seed + 3, 0.05, etaMax)),
  };
}
const shp = (p: P) => {
  const { B, T, H, dk, dv } = p.d;
  return { q: T32(p.q, [B, T, H, dk]), k: T32(p.k, [B, T, H, dk]), v: T32(p.v, [B, T, H, dv]), eta: T32(p.eta, [B, T, H]) };
};

test('TTT-Linear (LN + residual): dual form == primal loop for C in {1, 4, 16, 64}', (t) => {
  const p = problem({ B: 1, T: 63, H: 2, dk: 16, dv: 16 }, 1);
  const gamma = f32(uniform(32, 5, 0.8, 1.2)), beta = f32(data(32, 6, 0.1));
  const W0 = f32(data(2 * 256, 7, 0.25)), b0 = f32(data(32, 8, 0.1));
  for (const C of [1, 4, 16, 64]) {
    const o: TttRefOpts = { C, ln: true, residual: true, bias: true, gamma, beta };
    const want = tttRef(p.d, p.q, p.k, p.v, p.eta, o, [W0, b0]);
    const got = tidy(() => {
      const r = ops.ttt(
        { ...shp(p), lnWeight: T32(gamma, [2, 16]), lnBias: T32(beta, [2, 16]) },
        { chunkSize: C, initialState: { W: T32(W0, [1, 2, 16, 16]), b: T32(b0, [1, 2, 16]) } },
      );
      return [r.o.toFloat32(), r.finalState!.W.toFloat32(), r.finalState!.b!.toFloat32()];
    });
    t.true(rmsRatio(got[0], want.o) < TOL, `o C=${C}: ${rmsRatio(got[0], want.o)}`);
    t.true(rmsRatio(got[1], want.state[0]) < TOL, `W C=${C}`);
    t.true(rmsRatio(got[2], want.state[1]) < TOL, `b C=${C}`);
  }
});

test('TTT-Linear options: no LN / no residual / no bias / tokenIdx', (t) => {
  const p = problem({ B: 1, T: 24, H: 1, dk: 16, dv: 16 }, 2);
  for (const [ln, residual, bias, tokenIdx] of [
    [false, true, true, false],
    [true, false, false, false],
    [true, true, true, true],
    [false, false, false, true],
  ]) {
    const o: TttRefOpts = { C: 8, ln, residual, bias, tokenIdx };
    const want = tttRef(p.d, p.q, p.k, p.v, p.eta, o);
    const got = tidy(() => ops.ttt(shp(p), { chunkSize: 8, layerNorm: ln, residual, bias, tokenIdx }).o.toFloat32());
    t.true(rmsRatio(got, want.o) < TOL, `ln ${ln} res ${residual} bias ${bias} idx ${tokenIdx}: ${rmsRatio(got, want.o)}`);
  }
});

test('TTT Theorem 1: f = Wx, batch GD over the sequence, eta = 1/2, W0 = 0 == linear attention (oracle 8)', (t) => {
  const d: Dims = { B: 1, T: 48, H: 2, dk: 16, dv: 12 };
  const p = problem(d, 3);
  p.eta.fill(0.5);
  const got = tidy(() =>
    ops.ttt(shp(p), { chunkSize: d.T, layerNorm: false, residual: false, bias: false }).o.toFloat32(),
  );
  const want = new Float64Array(got.length);
  for (let h = 0; h < d.H; h++)
    for (let tt = 0; tt < d.T; tt++)
      for (let s = 0; s <= tt; s++) {
        let qk = 0;
        for (let e = 0; e < d.dk; e++) qk += p.q[(tt * d.H + h) * d.dk + e] * p.k[(s * d.H + h) * d.dk + e];
        for (let j = 0; j < d.dv; j++) want[(tt * d.H + h) * d.dv + j] += qk * p.v[(s * d.H + h) * d.dv + j];
      }
  t.true(rmsRatio(got, want) < 1e-6, `${rmsRatio(got, want)}`);
});

test('TTT-MLP: dual form == primal loop (C in {1, 4, 16}), split-call continuation', (t) => {
  const d: Dims = { B: 1, T: 40, H: 2, dk: 12, dv: 12 };
  const dh = 24;
  const p = problem(d, 4, 0.3);
  const W1 = f32(data(2 * 12 * dh, 10, 0.3)), W2 = f32(data(2 * dh * 12, 11, 0.2));
  const b1 = f32(data(2 * dh, 12, 0.1)), b2 = f32(data(2 * 12, 13, 0.1));
  const init = () => ({
    W1: T32(W1, [1, 2, 12, dh]),
    b1: T32(b1, [1, 2, dh]),
    W2: T32(W2, [1, 2, dh, 12]),
    b2: T32(b2, [1, 2, 12]),
  });
  for (const C of [1, 4, 16]) {
    const want = tttRef(p.d, p.q, p.k, p.v, p.eta, { C, ln: true, residual: true, bias: true, mlp: { dh, act: 'geluTanh' } }, [W1, b1, W2, b2]);
    const got = tidy(() => {
      const r = ops.ttt(shp(p), { chunkSize: C, model: { kind: 'mlp', hidden: dh }, initialState: init() });
      return [r.o.toFloat32(), r.finalState!.W2.toFloat32()];
    });
    t.true(rmsRatio(got[0], want.o) < 1e-4, `o C=${C}: ${rmsRatio(got[0], want.o)}`);
    t.true(rmsRatio(got[1], want.state[2]) < 1e-4, `W2 C=${C}: ${rmsRatio(got[1], want.state[2])}`);
  }
  const res = tidy(() => {
    const x = shp(p);
    const opts = { chunkSize: 8, model: { kind: 'mlp', hidden: dh } } as const;
    const full = ops.ttt(x, { ...opts, initialState: init() });
    const cut = (a: number, b: number) => ({
      q: x.q.slice(1, a, b),
      k: x.k.slice(1, a, b),
      v: x.v.slice(1, a, b),
      eta: x.eta.slice(1, a, b),
    });
    const first = ops.ttt(cut(0, 16), { ...opts, initialState: init() });
    const second = ops.ttt(cut(16, 40), { ...opts, initialState: first.finalState });
    return [full.o.toFloat32(), new Float32Array([...first.o.toFloat32(), ...second.o.toFloat32()]), full.finalState!.b1!.toFloat32(), second.finalState!.b1!.toFloat32()];
  });
  t.true(rmsRatio(res[1], res[0]) < 1e-6 && rmsRatio(res[3], res[2]) < 1e-6, 'split continuation');
});

test('async twin; state without bias is null', async (t) => {
  const p = problem({ B: 1, T: 10, H: 1, dk: 16, dv: 16 }, 5);
  const x = shp(p);
  const r = await ops.tttAsync(x, { bias: false });
  t.is(r.finalState!.b, null);
  const s = ops.ttt(x, { bias: false });
  t.is(rmsRatio(r.o.toFloat32(), s.o.toFloat32()), 0);
  for (const y of [...Object.values(x), r.o, s.o, r.finalState!.W, s.finalState!.W]) y.dispose();
});
