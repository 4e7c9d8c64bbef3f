/**
 * State continuation of the memory ops at any split: a sequence cut into
 * calls at arbitrary points (not chunk-aligned), and fed one token per call
 * (decoding), must equal one call over the whole sequence. Titans carries the
 * anchor of the chunk in progress and the offset inside it (linear and MLP
 * memory, momentum/decay on and off, chunk and recurrent modes); Gated
 * DeltaNet's chunk form is exact, so its plain state suffices.
 */
import test from 'ava';

import { EngramError, ops, tensor, tidy, type Tensor } from 'engram';
import { T32, data, f32, rmsRatio, uniform, unitRows } from './memory_ref.js';

const B = 1, H = 2, D = 16, DH = 32, T = 45, C = 8;
const TOL = 2e-5; // f32 regrouping of the same chunk sums

interface Seq {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  theta: Tensor;
  alpha?: Tensor;
  eta?: Tensor;
}

function titansInputs(seed: number, mom: boolean, decay: boolean, mlp: boolean): Seq {
  const n = B * T * H, s = 1.7 / Math.sqrt(D);
  return {
    q: T32(f32(data(n * D, seed, s)), [B, T, H, D]),
    k: T32(f32(data(n * D, seed + 1, s)), [B, T, H, D]),
    v: T32(f32(data(n * D, seed + 2)), [B, T, H, D]),
    theta: T32(f32(uniform(n, seed + 3, 0.02, mlp ? 0.1 : 0.3)), [B, T, H]),
    ...(decay ? { alpha: T32(f32(uniform(n, seed + 4, 0, mlp ? 0.05 : 0.2)), [B, T, H]) } : {}),
    ...(mom ? { eta: T32(f32(uniform(n, seed + 5, 0.4, 0.9)), [B, T, H]) } : {}),
  };
}

const cut = (x: Seq, a: number, b: number): Seq =>
  Object.fromEntries(Object.entries(x).map(([k, t]) => [k, (t as Tensor).slice(1, a, b)])) as unknown as Seq;

type State = Record<string, Tensor> | null;

/** Runs the op over [0, T) in calls ending at `ends`; returns o (concatenated) and the final state. */
function runSplit(run: (x: Seq, init: State) => { o: Tensor; finalState: State }, x: Seq, ends: number[], init: State) {
  const outs: Float32Array[] = [];
  let st = init, a = 0;
  for (const b of ends) {
    const r = run(cut(x, a, b), st);
    outs.push(r.o.toFloat32());
    st = r.finalState;
    a = b;
  }
  const o = new Float32Array(outs.reduce((n, y) => n + y.length, 0));
  let off = 0;
  for (const y of outs) o.set(y, off), (off += y.length);
  return { o, state: st! };
}

function compare(t: import('ava').ExecutionContext, label: string, full: { o: Tensor; finalState: State },
  got: { o: Float32Array; state: Record<string, Tensor> }) {
  const e = rmsRatio(got.o, full.o.toFloat32());
  t.true(e < TOL, `${label}: o ${e}`);
  t.deepEqual(Object.keys(got.state), Object.keys(full.finalState!), label);
  for (const [k, v] of Object.entries(full.finalState!)) {
    if (k === 'offset') t.deepEqual([...got.state[k].toArray()], [...v.toArray()], `${label}: offset`);
    else t.true(rmsRatio(got.state[k].toFloat32(), v.toFloat32()) < TOL, `${label}: ${k} ${rmsRatio(got.state[k].toFloat32(), v.toFloat32())}`);
  }
}

const SPLITS = [[3, 11, 12, 29, 45], [1, 2, 9, 17, 40, 44, 45], [7, 45]];
const STEPS = Array.from({ length: T }, (_, i) => i + 1);

for (const mlp of [false, true])
  for (const [mom, decay] of [[true, true], [false, true], [true, false], [false, false]])
    test(`titans ${mlp ? 'mlp' : 'linear'}${mom ? '' : ' nomom'}${decay ? '' : ' nodecay'}: any split and T = 1 steps == one call`, (t) => {
      tidy(() => {
        const x = titansInputs(100 + (mlp ? 50 : 0) + (mom ? 10 : 0) + (decay ? 20 : 0), mom, decay, mlp);
        const init: State = mlp
          ? { W1: T32(data(H * D * DH, 7, 0.18), [1, H, D, DH]), W2: T32(data(H * DH * D, 8, 0.25), [1, H, DH, D]) }
          : { memory: T32(data(H * D * D, 9, 0.2), [1, H, D, D]) };
        const modes = mlp ? ['chunk'] : ['chunk', 'recurrent'];
        for (const mode of modes) {
          const opts = mlp
            ? { chunkSize: C, momentum: mom, decay, memory: { kind: 'mlp', hidden: DH } as const }
            : { chunkSize: C, momentum: mom, decay, mode: mode as 'chunk' | 'recurrent' };
          const run = (xs: Seq, st: State) => ops.titans(xs, { ...opts, initialState: st } as never) as unknown as { o: Tensor; finalState: State };
          const full = run(x, init);
          t.deepEqual([...full.finalState!.offset.toArray()], [T % C]);
          for (const ends of SPLITS) compare(t, `${mode} split ${ends.join(',')}`, full, runSplit(run, x, ends, init));
          compare(t, `${mode} steps`, full, runSplit(run, x, STEPS, init));
        }
      });
    });

test('titans: the stale anchor is kept across a mid-chunk split (a memory-only state would differ)', (t) => {
  tidy(() => {
    const x = titansInputs(300, true, true, false);
    const run = (xs: Seq, st: State) => ops.titans(xs, { chunkSize: C, initialState: st }) as unknown as { o: Tensor; finalState: State };
    const full = run(x, null);
    const a = run(cut(x, 0, 5), null);
    const withAnchor = run(cut(x, 5, T), a.finalState);
    const { memory, momentum } = a.finalState!;
    const without = run(cut(x, 5, T), { memory, momentum }); // offset 0: a new chunk would start at token 5
    const fullTail = full.o.toFloat32().slice(5 * H * D);
    t.true(rmsRatio(withAnchor.o.toFloat32(), fullTail) < TOL);
    t.true(rmsRatio(without.o.toFloat32(), fullTail) > 1e-3, 'the split matters at C > 1');
  });
});

test('titans: bad offset / anchor states are EngramErrors', (t) => {
  tidy(() => {
    const off = (v: number) => tensor(new Int32Array([v]), [1]);
    const bad = (mlp: boolean, initialState: object, code: EngramError["code"], re: RegExp) => {
      const x = titansInputs(400, true, true, mlp);
      const memory = mlp ? { kind: 'mlp', hidden: DH } : 'linear';
      const e = t.throws(() => ops.titans(x, { memory, chunkSize: C, initialState } as never), { instanceOf: EngramError });
      t.is(e?.code, code, e?.message);
      t.regex(e?.message ?? '', re);
    };
    bad(false, { offset: off(C) }, 'E_ARG', /offset.*\[0, 8\)/);
    bad(false, { offset: off(-1) }, 'E_ARG', /offset/);
    bad(false, { offset: T32([1], [1]) }, 'E_DTYPE', /offset.*i32/);
    bad(false, { offset: tensor(new Int32Array([1, 2]), [2]) }, 'E_SHAPE', /offset/);
    bad(false, { anchor: T32(new Float32Array(D * D), [1, 1, D, D]), offset: off(1) }, 'E_SHAPE', /anchor/);
    bad(true, { A2: T32(new Float32Array(H * D * D), [1, H, D, D]), offset: off(2) }, 'E_SHAPE', /A2/);
    bad(true, { offset: off(9) }, 'E_ARG', /offset/);
  });
});

test('gated delta rule: any split and T = 1 steps == one call (chunk and recurrent)', (t) => {
  tidy(() => {
    const n = B * T * H;
    const x = {
      q: T32(unitRows(n, D, 500), [B, T, H, D]),
      k: T32(unitRows(n, D, 501), [B, T, H, D]),
      v: T32(f32(data(n * D, 502)), [B, T, H, D]),
      g: T32(f32(uniform(n, 503, -0.5, 0)), [B, T, H]),
      beta: T32(f32(uniform(n, 504, 0.05, 0.95)), [B, T, H]),
    };
    for (const mode of ['chunk', 'recurrent'] as const) {
      const run = (xs: typeof x, st: State) => {
        const r = ops.gatedDeltaRule(xs, { chunkSize: C, mode, initialState: st?.state ?? null });
        return { o: r.o, finalState: { state: r.finalState! } };
      };
      const full = run(x, null);
      const cutG = (a: number, b: number) =>
        Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v.slice(1, a, b)])) as typeof x;
      for (const ends of [...SPLITS, STEPS]) {
        const outs: number[] = [];
        let st: State = null, a = 0;
        for (const b of ends) {
          const r = run(cutG(a, b), st);
          outs.push(...r.o.toFloat32());
          st = r.finalState;
          a = b;
        }
        t.true(rmsRatio(outs, full.o.toFloat32()) < TOL, `${mode} ${ends.length} calls`);
        t.true(rmsRatio(st!.state.toFloat32(), full.finalState.state.toFloat32()) < TOL);
      }
    }
  });
});
