/**
 * ops.titans against the float64 JS stale-anchor loop (test/memory_ref.ts):
 * algorithms.md §12.1 oracles 1-3 and 5, §12.2 oracle 7, split-call
 * continuation, odd shapes, strided and bf16 inputs. ENGRAM_BIG_TESTS=1 adds
 * long sequences.
 */
import test from 'ava';

import { ops, tidy, type Tensor } from 'engram';
import {
  T32,
  data,
  f32,
  rmsRatio,
  titansRef,
  uniform,
  type Act,
  type Dims,
} from './memory_ref.js';

const BIG = !!process.env.ENGRAM_BIG_TESTS;
/** Named tolerances (relative RMS error). */
const F32_TOL = 2e-5; // f32 kernel vs float64 oracle
const BF16_VS_F32_TOL = 3e-2; // bf16 inputs vs f32 inputs, same values before rounding

interface Problem {
  d: Dims;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  theta: Float64Array;
  alpha: Float64Array;
  eta: Float64Array;
}

function problem(d: Dims, seed: number, thetaMax = 0.3): Problem {
  const n = d.B * d.T * d.H;
  const sk = 1 / Math.sqrt(d.dk);
  const alpha = f32(uniform(n, seed + 4, 0, 0.2));
  const eta = f32(uniform(n, seed + 5, 0.5, 0.95));
  for (let i = 6; i < n; i += 11) alpha[i] = 1; // a full reset now and then
  for (let i = 4; i < n; i += 7) eta[i] = 0; // and momentum cut
  return {
    d,
    q: f32(data(n * d.dk, seed, sk * 1.7)),
    k: f32(data(n * d.dk, seed + 1, sk * 1.7)),
    v: f32(data(n * d.dv, seed + 2)),
    theta: f32(uniform(n, seed + 3, 0.05 * (thetaMax / 0.3), thetaMax)),
    alpha,
    eta,
  };
}

function tensors(p: Problem) {
  const { B, T, H, dk, dv } = p.d;
  return {
    q: T32(p.q, [B, T, H, dk]),
    k: T32(p.k, [B, T, H, dk]),
    v: T32(p.v, [B, T, H, dv]),
    theta: T32(p.theta, [B, T, H]),
    alpha: T32(p.alpha, [B, T, H]),
    eta: T32(p.eta, [B, T, H]),
  };
}

function runLinear(p: Problem, C: number, extra: Record<string, unknown> = {}) {
  return tidy(() => {
    const x = tensors(p);
    const r = ops.titans(x, { chunkSize: C, ...extra });
    return {
      o: Float64Array.from(r.o.toFloat32()),
      M: Float64Array.from(r.finalState!.memory.toFloat32()),
      S: Float64Array.from(r.finalState!.momentum.toFloat32()),
    };
  });
}

test('linear memory: chunk dual form == stale-anchor token loop for C in {1, 4, 16, 64} (oracles 1, 2)', (t) => {
  const p = problem({ B: 2, T: 63, H: 3, dk: 16, dv: 12 }, 1);
  for (const C of [1, 4, 16, 64]) {
    const got = runLinear(p, C);
    const want = titansRef(p.d, p.q, p.k, p.v, p.theta, p.alpha, p.eta, { C, momentum: true, decay: true });
    t.true(rmsRatio(got.o, want.o) < F32_TOL, `o C=${C}: ${rmsRatio(got.o, want.o)}`);
    t.true(rmsRatio(got.M, want.state[0]) < F32_TOL, `M C=${C}`);
    t.true(rmsRatio(got.S, want.state[1]) < F32_TOL, `S C=${C}`);
    // the recurrent mode computes the same function
    const rec = runLinear(p, C, { mode: 'recurrent' });
    t.true(rmsRatio(rec.o, want.o) < F32_TOL, `recurrent o C=${C}`);
  }
});

test('linear memory without momentum / decay matches the loop', (t) => {
  const p = problem({ B: 1, T: 40, H: 2, dk: 16, dv: 16 }, 2);
  for (const [momentum, decay] of [
    [false, false],
    [false, true],
    [true, false],
  ]) {
    const got = tidy(() => {
      const x = tensors(p);
      const r = ops.titans(
        { q: x.q, k: x.k, v: x.v, theta: x.theta, alpha: decay ? x.alpha : null, eta: momentum ? x.eta : null },
        { chunkSize: 8, momentum, decay },
      );
      return { o: r.o.toFloat32(), S: r.finalState!.momentum.toFloat32() };
    });
    const want = titansRef(p.d, p.q, p.k, p.v, p.theta, p.alpha, p.eta, { C: 8, momentum, decay });
    t.true(rmsRatio(got.o, want.o) < F32_TOL, `o mom=${momentum} decay=${decay}`);
    t.true(rmsRatio(got.S, want.state[1]) < F32_TOL, `S mom=${momentum} decay=${decay}`);
  }
});

test('chunk size is semantic: C > 1 differs from the exact recurrence, less as theta -> 0 (oracle 3)', (t) => {
  const gaps: number[] = [];
  for (const thetaMax of [0.4, 0.1, 0.025]) {
    const p = problem({ B: 1, T: 64, H: 2, dk: 16, dv: 16 }, 3, thetaMax);
    const exact = runLinear(p, 1).o, stale = runLinear(p, 16).o;
    gaps.push(rmsRatio(stale, exact));
  }
  t.true(gaps[0] > 1e-2, `C=16 should differ visibly from C=1 at theta 0.4, gap ${gaps[0]}`);
  t.true(gaps[1] < gaps[0] / 3 && gaps[2] < gaps[1] / 3, `gaps must shrink with theta: ${gaps}`);
  // oracle 5: one chunk of 2C differs from two chunks of C for a stale-anchor memory
  const p = problem({ B: 1, T: 32, H: 1, dk: 16, dv: 16 }, 4);
  t.true(rmsRatio(runLinear(p, 32).o, runLinear(p, 16).o) > 1e-3);
});

test('Titans (eta = 0, alpha = 0, C = 1) == DeltaNet with beta = 2 theta (oracle 7)', (t) => {
  const d: Dims = { B: 1, T: 50, H: 2, dk: 16, dv: 16 };
  const n = d.B * d.T * d.H;
  const q = f32(data(n * 16, 11, 0.3)), k = f32(data(n * 16, 12, 0.3)), v = f32(data(n * 16, 13));
  const theta = f32(uniform(n, 14, 0.05, 0.45));
  const [oT, oG, M, S] = tidy(() => {
    const shp = [d.B, d.T, d.H, 16];
    const tq = T32(q, shp), tk = T32(k, shp), tv = T32(v, shp), th = T32(theta, [d.B, d.T, d.H]);
    const a = ops.titans({ q: tq, k: tk, v: tv, theta: th }, { chunkSize: 1, momentum: false, decay: false });
    const g = ops.gatedDeltaRule(
      { q: tq, k: tk, v: tv, g: ops.scale(th, 0), beta: ops.scale(th, 2) },
      { scale: 1, chunkSize: 16 },
    );
    return [a.o.toFloat32(), g.o.toFloat32(), a.finalState!.memory.toFloat32(), g.finalState!.toFloat32()];
  });
  t.true(rmsRatio(oT, oG) < 1e-5, `o ${rmsRatio(oT, oG)}`);
  // M [Dv, Dk] (column convention) is the transpose of S [Dk, Dv] (row convention)
  const Mt = new Float32Array(M.length);
  for (let h = 0; h < 2; h++)
    for (let j = 0; j < 16; j++) for (let e = 0; e < 16; e++) Mt[h * 256 + e * 16 + j] = M[h * 256 + j * 16 + e];
  t.true(rmsRatio(Mt, S) < 1e-5);
});

test('split calls continue exactly at chunk-aligned boundaries (final state = memory + momentum)', (t) => {
  for (const mlp of [false, true]) {
    const d: Dims = { B: 1, T: 96, H: 2, dk: 16, dv: 16 };
    const p = problem(d, 5, mlp ? 0.1 : 0.3);
    const memory = mlp ? ({ kind: 'mlp', hidden: 32 } as const) : ('linear' as const);
    const res = tidy(() => {
      const x = tensors(p);
      const init = mlp
        ? { W1: T32(data(2 * 16 * 32, 20, 0.18), [1, 2, 16, 32]), W2: T32(data(2 * 32 * 16, 21, 0.25), [1, 2, 32, 16]) }
        : { memory: T32(data(2 * 256, 22, 0.2), [1, 2, 16, 16]) };
      const opts = { chunkSize: 16, memory } as const;
      const full = ops.titans(x, { ...opts, initialState: init } as never) as ReturnType<typeof ops.titansMlp>;
      const cut = (tt: Tensor, a: number, b: number) => tt.slice(1, a, b);
      const part = (a: number, b: number, init2: unknown) =>
        ops.titans(
          { q: cut(x.q, a, b), k: cut(x.k, a, b), v: cut(x.v, a, b), theta: cut(x.theta, a, b), alpha: cut(x.alpha, a, b), eta: cut(x.eta, a, b) },
          { ...opts, initialState: init2 } as never,
        ) as ReturnType<typeof ops.titansMlp>;
      const first = part(0, 48, init);
      const second = part(48, 96, first.finalState);
      const joined = new Float32Array([...first.o.toFloat32(), ...second.o.toFloat32()]);
      // o is [1, T, H, D]: concatenating along T is concatenating the flat arrays (B = 1)
      const states = Object.keys(full.finalState!).map((key) => [
        (full.finalState as unknown as Record<string, Tensor>)[key].toFloat32(),
        (second.finalState as unknown as Record<string, Tensor>)[key].toFloat32(),
      ]);
      return { full: full.o.toFloat32(), joined, states };
    });
    t.true(rmsRatio(res.joined, res.full) < 1e-6, `${mlp ? 'mlp' : 'linear'} o ${rmsRatio(res.joined, res.full)}`);
    for (const [a, b] of res.states) t.true(rmsRatio(b, a) < 1e-6, `${mlp ? 'mlp' : 'linear'} state`);
  }
});

test('MLP memory: dual form == stale-anchor loop for C in {1, 4, 16} and every activation', (t) => {
  const d: Dims = { B: 1, T: 33, H: 2, dk: 12, dv: 12 };
  const dh = 24;
  const p = problem(d, 6, 0.1);
  for (let i = 0; i < p.alpha.length; i++) p.alpha[i] = Math.min(p.alpha[i], 0.05);
  const W1 = f32(data(d.H * 12 * dh, 30, 0.2)), W2 = f32(data(d.H * dh * 12, 31, 0.3));
  const cases: [number, Act][] = [
    [1, 'gelu'],
    [4, 'gelu'],
    [16, 'gelu'],
    [4, 'geluTanh'],
    [4, 'silu'],
    [4, 'relu'],
    [4, 'tanh'],
  ];
  for (const [C, a] of cases) {
    const got = tidy(() => {
      const r = ops.titans(tensors(p), {
        chunkSize: C,
        memory: { kind: 'mlp', hidden: dh, activation: a },
        initialState: { W1: T32(W1, [1, 2, 12, dh]), W2: T32(W2, [1, 2, dh, 12]) },
      });
      return [r.o.toFloat32(), r.finalState!.W1.toFloat32(), r.finalState!.S2.toFloat32()];
    });
    const want = titansRef(p.d, p.q, p.k, p.v, p.theta, p.alpha, p.eta, { C, momentum: true, decay: true, mlp: { dh, act: a } }, [W1, W2]);
    t.true(rmsRatio(got[0], want.o) < 1e-4, `o C=${C} ${a}: ${rmsRatio(got[0], want.o)}`);
    t.true(rmsRatio(got[1], want.state[0]) < 1e-4, `W1 C=${C} ${a}`);
    t.true(rmsRatio(got[2], want.state[3]) < 1e-4, `S2 C=${C} ${a}: ${rmsRatio(got[2], want.state[3])}`);
  }
});

test('odd shapes: T in {1, 63, 500}, D in {16, 60, 64, 128}, H in {1, 3}, strided inputs', (t) => {
  const shapes: [number, number, number, number][] = [
    [1, 1, 16, 16],
    [63, 3, 60, 60],
    [500, 1, 16, 16],
    [63, 1, 64, 64],
    [40, 3, 128, 128],
    ...(BIG ? ([[500, 3, 64, 64], [2000, 1, 128, 128]] as [number, number, number, number][]) : []),
  ];
  for (const [T, H, dk, dv] of shapes) {
    const p = problem({ B: 1, T, H, dk, dv }, 7 + T + dk);
    const want = titansRef(p.d, p.q, p.k, p.v, p.theta, p.alpha, p.eta, { C: 16, momentum: true, decay: true });
    const got = tidy(() => {
      const x = tensors(p);
      // strided views: q/k from [B, T, D, H] storage, v through a transposed copy
      const qs = T32(transposeLast2(p.q, [1, T, H, dk]), [1, T, dk, H]).permute([0, 1, 3, 2]);
      const r = ops.titans({ ...x, q: qs }, { chunkSize: 16 });
      return r.o.toFloat32();
    });
    t.true(rmsRatio(got, want.o) < F32_TOL, `T${T} H${H} dk${dk}: ${rmsRatio(got, want.o)}`);
  }
});

function transposeLast2(x: Float64Array, s: [number, number, number, number]): Float64Array {
  const [B, T, H, D] = s;
  const out = new Float64Array(x.length);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let h = 0; h < H; h++) for (let i = 0; i < D; i++) out[((b * T + t) * D + i) * H + h] = x[((b * T + t) * H + h) * D + i];
  return out;
}

test('bf16 inputs stay within the named tolerance of f32 inputs', (t) => {
  const p = problem({ B: 1, T: 63, H: 2, dk: 64, dv: 64 }, 8);
  const [a, b] = tidy(() => {
    const x = tensors(p);
    const xb = { ...x, q: x.q.cast('bf16'), k: x.k.cast('bf16'), v: x.v.cast('bf16') };
    const r32 = ops.titans(x, { chunkSize: 16 });
    const r16 = ops.titans(xb, { chunkSize: 16 });
    t.is(r16.o.dtype, 'bf16');
    t.is(r16.finalState!.memory.dtype, 'f32');
    return [r32.o.toFloat32(), r16.o.toFloat32()];
  });
  t.true(rmsRatio(b, a) < BF16_VS_F32_TOL, `bf16 vs f32 ${rmsRatio(b, a)}`);
});

test('async twin and outputFinalState: false', async (t) => {
  const p = problem({ B: 1, T: 20, H: 1, dk: 16, dv: 16 }, 9);
  const x = tensors(p);
  const r = await ops.titansAsync(x, { chunkSize: 4, outputFinalState: false });
  t.is(r.finalState, null);
  t.deepEqual(r.o.shape, [1, 20, 1, 16]);
  const s = ops.titans(x, { chunkSize: 4 });
  t.true(rmsRatio(r.o.toFloat32(), s.o.toFloat32()) === 0);
  for (const y of [...Object.values(x), r.o, s.o, s.finalState!.memory, s.finalState!.momentum]) y.dispose();
});
