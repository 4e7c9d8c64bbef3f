/**
 * ops.gatedDeltaRule against the float64 JS recurrence (fla's
 * naive_recurrent): chunk == recurrence for every chunk size (oracle 4) with
 * fla's RMS-ratio metric, gate normalisers and masked gates, odd T/D,
 * non-aligned split calls, bf16, defaults. ENGRAM_BIG_TESTS=1 adds long runs.
 */
import test from 'ava';

import { ops, tidy } from 'engram';
import { T32, data, f32, gdnRef, rmsRatio, uniform, unitRows, type Dims } from './memory_ref.js';

const BIG = !!process.env.ENGRAM_BIG_TESTS;
const F32_TOL = 1e-5; // relative RMS, f32 kernel vs float64 recurrence
const BF16_VS_F32_TOL = 2e-2;

interface P {
  d: Dims;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  g: Float64Array;
  beta: Float64Array;
}

/** fla's gate setup: g = logsigmoid(x) / normalizer, a fraction mask_p of gates zeroed. */
function problem(d: Dims, seed: number, normalizer = 1, maskP = 0): P {
  const n = d.B * d.T * d.H;
  const x = data(n, seed + 3, 4);
  const g = f32(Float64Array.from(x, (z, i) => (uniform(1, seed + i, 0, 1)[0] < maskP ? 0 : -Math.log1p(Math.exp(-z)) / normalizer)));
  return {
    d,
    q: f32(unitRows(n, d.dk, seed)),
    k: f32(unitRows(n, d.dk, seed + 1)),
    v: f32(data(n * d.dv, seed + 2)),
    g,
    beta: f32(uniform(n, seed + 4, 0.05, 0.95)),
  };
}

function run(p: P, o: Parameters<typeof ops.gatedDeltaRule>[1] = {}, S0?: Float64Array) {
  const { B, T, H, dk, dv } = p.d;
  return tidy(() => {
    const r = ops.gatedDeltaRule(
      {
        q: T32(p.q, [B, T, H, dk]),
        k: T32(p.k, [B, T, H, dk]),
        v: T32(p.v, [B, T, H, dv]),
        g: T32(p.g, [B, T, H]),
        beta: T32(p.beta, [B, T, H]),
      },
      { ...o, initialState: S0 ? T32(S0, [B, H, dk, dv]) : null },
    );
    return { o: r.o.toFloat32(), S: r.finalState!.toFloat32() };
  });
}

test('chunk form == recurrence for every chunk size (oracle 4)', (t) => {
  const p = problem({ B: 2, T: 75, H: 3, dk: 16, dv: 20 }, 1);
  const S0 = f32(data(2 * 3 * 16 * 20, 9, 0.5));
  const want = gdnRef(p.d, p.q, p.k, p.v, p.g, p.beta, 0.25, S0);
  for (const C of [1, 3, 8, 16, 32, 64, 100]) {
    const got = run(p, { chunkSize: C }, S0);
    t.true(rmsRatio(got.o, want.o) < F32_TOL, `o C=${C}: ${rmsRatio(got.o, want.o)}`);
    t.true(rmsRatio(got.S, want.S) < F32_TOL, `S C=${C}`);
  }
  const rec = run(p, { mode: 'recurrent' }, S0);
  t.true(rmsRatio(rec.o, want.o) < F32_TOL && rmsRatio(rec.S, want.S) < F32_TOL, 'recurrent mode');
});

test('gate normalisers 0.1 ... 10 and masked (zero) gates', (t) => {
  for (const [norm, mask] of [
    [0.1, 0],
    [1, 0.5],
    [10, 0],
    [1, 1],
  ]) {
    const p = problem({ B: 1, T: 63, H: 2, dk: 32, dv: 32 }, 2, norm, mask);
    const want = gdnRef(p.d, p.q, p.k, p.v, p.g, p.beta, 1 / Math.sqrt(32));
    const got = run(p, { chunkSize: 16 });
    t.true(rmsRatio(got.o, want.o) < F32_TOL, `norm ${norm} mask ${mask}: ${rmsRatio(got.o, want.o)}`);
  }
});

test('odd shapes: T in {1, 63, 500}, D in {16, 60, 64, 128}, H in {1, 3}', (t) => {
  const shapes: [number, number, number, number][] = [
    [1, 1, 64, 64],
    [63, 3, 60, 64],
    [500, 1, 16, 16],
    [63, 1, 128, 128],
    ...(BIG ? ([[2000, 3, 64, 64], [4096, 1, 128, 128]] as [number, number, number, number][]) : []),
  ];
  for (const [T, H, dk, dv] of shapes) {
    const p = problem({ B: 1, T, H, dk, dv }, 3 + T);
    const want = gdnRef(p.d, p.q, p.k, p.v, p.g, p.beta, 1 / Math.sqrt(dk));
    const got = run(p, { chunkSize: 64 });
    t.true(rmsRatio(got.o, want.o) < F32_TOL, `T${T} H${H} dk${dk}: ${rmsRatio(got.o, want.o)}`);
  }
});

test('split calls continue exactly at any split (the chunk form is exact)', (t) => {
  const p = problem({ B: 1, T: 90, H: 2, dk: 16, dv: 16 }, 4);
  const full = run(p, { chunkSize: 16 });
  const cut = (x: Float64Array, D: number, a: number, b: number) => x.slice(a * 2 * D, b * 2 * D); // B = 1
  const part = (a: number, b: number, S0?: Float64Array) =>
    run(
      {
        d: { ...p.d, T: b - a },
        q: cut(p.q, 16, a, b),
        k: cut(p.k, 16, a, b),
        v: cut(p.v, 16, a, b),
        g: cut(p.g, 1, a, b),
        beta: cut(p.beta, 1, a, b),
      },
      { chunkSize: 16 },
      S0,
    );
  const first = part(0, 37);
  const second = part(37, 90, Float64Array.from(first.S));
  t.true(rmsRatio(new Float32Array([...first.o, ...second.o]), full.o) < 1e-6);
  t.true(rmsRatio(second.S, full.S) < 1e-6);
});

test('bf16 inputs within the named tolerance; scale defaults to K^-1/2', (t) => {
  const p = problem({ B: 1, T: 63, H: 2, dk: 64, dv: 64 }, 5);
  const { B, T, H, dk, dv } = p.d;
  const [a, b, c] = tidy(() => {
    const x = {
      q: T32(p.q, [B, T, H, dk]),
      k: T32(p.k, [B, T, H, dk]),
      v: T32(p.v, [B, T, H, dv]),
      g: T32(p.g, [B, T, H]),
      beta: T32(p.beta, [B, T, H]),
    };
    const r32 = ops.gatedDeltaRule(x);
    const r16 = ops.gatedDeltaRule({ ...x, q: x.q.cast('bf16'), k: x.k.cast('bf16'), v: x.v.cast('bf16') });
    const rs = ops.gatedDeltaRule(x, { scale: 1 / 8 });
    t.is(r16.o.dtype, 'bf16');
    return [r32.o.toFloat32(), r16.o.toFloat32(), rs.o.toFloat32()];
  });
  t.true(rmsRatio(b, a) < BF16_VS_F32_TOL, `bf16 ${rmsRatio(b, a)}`);
  t.true(rmsRatio(c, a) === 0);
});
