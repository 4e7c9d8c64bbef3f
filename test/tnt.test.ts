/**
 * ops.tnt (TNT hierarchical memory, algorithms.md §4): §12.2 oracle 12 (a)–(e),
 * step() == forward, split-call continuation at aligned and unaligned splits,
 * the simulated context-parallel devices (bit-identical), thread-count
 * invariance, the double-precision reference, and bad configurations.
 */
import test from 'ava';

import { EngramError, type ErrorCode, getNumThreads, memory, ops, setNumThreads, tensor, type Tensor } from 'engram';
import type { TntInputs, TntOptions, TntResult } from '../lib/ops/tnt.js';
import { assertClose } from './helpers.js';
import { T32, data, f32, rmsRatio, titansRef, uniform, unitRows, type Dims } from './memory_ref.js';

interface Prob {
  d: Dims;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  lr: Float64Array[]; // [global?, locals...]
}

function prob(d: Dims, nlr: number, seed: number, unit = false, lrMax = 0.3): Prob {
  const n = d.B * d.T * d.H;
  const s = 1.7 / Math.sqrt(d.dk);
  return {
    d,
    q: f32(data(n * d.dk, seed, s)),
    k: unit ? f32(unitRows(n, d.dk, seed + 1)) : f32(data(n * d.dk, seed + 1, s)),
    v: f32(data(n * d.dv, seed + 2)),
    lr: Array.from({ length: nlr }, (_, i) => f32(uniform(n, seed + 10 + i, 0.02, lrMax))),
  };
}

interface Ts {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  lr: Tensor[];
}
function ts(p: Prob): Ts {
  const { B, T, H, dk, dv } = p.d;
  return {
    q: T32(p.q, [B, T, H, dk]),
    k: T32(p.k, [B, T, H, dk]),
    v: T32(p.v, [B, T, H, dv]),
    lr: p.lr.map((x) => T32(x, [B, T, H])),
  };
}
function free(x: Ts) {
  for (const t of [x.q, x.k, x.v, ...x.lr]) t.dispose();
}
function freeRes(...rs: TntResult[]) {
  for (const r of rs) {
    r.o.dispose();
    r.finalState?.dispose();
  }
}
/** Inputs with a global (lr[0]) and locals (the rest), or locals only. */
const inputs = (x: Ts, global: boolean): TntInputs =>
  global ? { q: x.q, k: x.k, v: x.v, etaGlobal: x.lr[0], etaLocal: x.lr.slice(1) } : { q: x.q, k: x.k, v: x.v, etaLocal: x.lr };

/** Rows [t0, t1) of a [B, T, H, ...] f32 array. */
function rows(a: Float32Array, d: { B: number; T: number }, per: number, t0: number, t1: number): Float32Array {
  const out: number[] = [];
  for (let b = 0; b < d.B; b++) out.push(...a.subarray((b * d.T + t0) * per, (b * d.T + t1) * per));
  return Float32Array.from(out);
}

test('oracle 12(a): one shard, no global, no projection == ops.titans exactly (linear and MLP)', (t) => {
  for (const [H, T, C] of [[1, 63, 8], [3, 63, 16], [2, 100, 1]]) {
    const p = prob({ B: 1, T, H, dk: 16, dv: 16 }, 1, 10 + H);
    const x = ts(p);
    const zero = ops.scale(x.lr[0], 0);
    const M0 = T32(f32(data(H * 256, 3, 0.3)), [1, H, 16, 16]);
    const a = ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]] },
      { locals: [{ chunkSize: C, shardLength: 1 << 20, initialState: { memory: M0 } }], qkProjection: false });
    const b = ops.titans({ q: x.q, k: x.k, v: x.v, theta: x.lr[0], alpha: zero, eta: zero }, { chunkSize: C, initialState: { memory: M0 } });
    const c = ops.titans({ q: x.q, k: x.k, v: x.v, theta: x.lr[0] }, { chunkSize: C, momentum: false, decay: false, initialState: { memory: M0 } });
    if (C > 1) {
      t.deepEqual(a.o.toFloat32(), b.o.toFloat32(), `H${H} C${C} vs titans(alpha = eta = 0)`);
      t.deepEqual(a.o.toFloat32(), c.o.toFloat32(), `H${H} C${C} vs titans(momentum/decay off)`);
    } else {
      // C_L = 1 runs a token loop, Titans its chunk form at C = 1: the same function to rounding
      t.true(rmsRatio(a.o.toFloat32(), c.o.toFloat32()) < 1e-6);
    }
    const fin = a.finalState!.view(0, 'memory');
    assertClose(t, fin.toFloat32(), c.finalState!.memory.toFloat32(), 1e-5, 1e-6, 'final memory');
    fin.dispose();
    for (const r of [b, c]) {
      r.o.dispose();
      r.finalState?.memory.dispose();
      r.finalState?.momentum.dispose();
    }
    freeRes(a);
    for (const z of [zero, M0]) z.dispose();
    free(x);
  }
  // MLP memory
  const p = prob({ B: 1, T: 40, H: 2, dk: 16, dv: 16 }, 1, 33, false, 0.1);
  const x = ts(p);
  const W1 = T32(f32(data(2 * 16 * 32, 5, 0.18)), [1, 2, 16, 32]), W2 = T32(f32(data(2 * 32 * 16, 6, 0.25)), [1, 2, 32, 16]);
  const a = ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]] }, {
    locals: [{ chunkSize: 8, shardLength: 64, memory: { kind: 'mlp', hidden: 32, activation: 'silu' }, initialState: { W1, W2 } }],
    qkProjection: false,
  });
  const c = ops.titans({ q: x.q, k: x.k, v: x.v, theta: x.lr[0] },
    { chunkSize: 8, momentum: false, decay: false, memory: { kind: 'mlp', hidden: 32, activation: 'silu' }, initialState: { W1, W2 } });
  t.deepEqual(a.o.toFloat32(), c.o.toFloat32(), 'MLP vs titansMlp');
  freeRes(a);
  c.o.dispose();
  for (const s of Object.values(c.finalState!)) s.dispose();
  for (const z of [W1, W2]) z.dispose();
  free(x);
});

test('oracle 12(b): perturbing one shard leaves the other shards\' outputs bit-identical', (t) => {
  const d = { B: 1, T: 96, H: 2, dk: 16, dv: 16 };
  const opts: TntOptions = { locals: [{ chunkSize: 8, shardLength: 32 }, { chunkSize: 4, shardLength: 16, momentum: true }] };
  const p = prob(d, 2, 40);
  const mom = T32(f32(uniform(96 * 2, 50, 0.3, 0.9)), [1, 96, 2]);
  const run = (pp: Prob) => {
    const x = ts(pp);
    const r = ops.tnt({ ...inputs(x, false), momentumLocal: [null, mom] }, opts);
    const o = r.o.toFloat32();
    freeRes(r);
    free(x);
    return o;
  };
  const base = run(p);
  const q2 = Float64Array.from(p.q), k2 = Float64Array.from(p.k);
  for (let tt = 40; tt < 44; tt++) for (let h = 0; h < 2; h++) for (let i = 0; i < 16; i++) {
    q2[(tt * 2 + h) * 16 + i] += 0.5;
    k2[(tt * 2 + h) * 16 + i] -= 0.3;
  }
  const pert = run({ ...p, q: q2, k: k2 });
  const per = 2 * 16;
  // tokens 40..43 lie in shard [32, 64) of local 0 and [32, 48) of local 1
  t.deepEqual(rows(pert, d, per, 0, 32), rows(base, d, per, 0, 32));
  t.deepEqual(rows(pert, d, per, 64, 96), rows(base, d, per, 64, 96));
  t.notDeepEqual(rows(pert, d, per, 32, 64), rows(base, d, per, 32, 64));
  mom.dispose();
});

test('oracle 12(c): the global output of chunk n depends only on chunks < n (frozen chunk-start read)', (t) => {
  const d = { B: 1, T: 64, H: 2, dk: 16, dv: 16 };
  const p = prob(d, 1, 60);
  const run = (pp: Prob) => {
    const x = ts(pp);
    const r = ops.tnt({ q: x.q, k: x.k, v: x.v, etaGlobal: x.lr[0] }, { global: { chunkSize: 16 } });
    const o = r.o.toFloat32();
    freeRes(r);
    free(x);
    return o;
  };
  const base = run(p);
  const k2 = Float64Array.from(p.k), v2 = Float64Array.from(p.v);
  for (let tt = 32; tt < 48; tt++) for (let i = 0; i < 32; i++) {  // every token of chunk 2
    k2[tt * 32 + i] += 0.2;
    v2[tt * 32 + i] -= 0.5;
  }
  const pert = run({ ...p, k: k2, v: v2 });
  t.deepEqual(rows(pert, d, 32, 0, 48), rows(base, d, 32, 0, 48), 'chunks 0..2 unchanged');
  t.notDeepEqual(rows(pert, d, 32, 48, 64), rows(base, d, 32, 48, 64), 'chunk 3 reads the update');
});

test('oracle 12(d): Π q == Σ_{τ ∈ shard, τ ≤ t} k_τ (k_τᵀ q_t) / |k_τ|², resetting at shard starts', (t) => {
  // W_init = I and lr = 0: the local output is exactly Π_t q_t.
  const d = { B: 1, T: 40, H: 2, dk: 8, dv: 8 };
  for (const unit of [true, false])
    for (const mode of ['shard', 'chunk', 'sequence'] as const) {
      const p = prob(d, 1, 70);
      if (unit) p.k = f32(unitRows(40 * 2, 8, 71));
      const x = ts(p);
      const zero = ops.scale(x.lr[0], 0);
      const eye = tensor(Float32Array.from({ length: 2 * 64 }, (_, i) => ((i % 64) % 9 === 0 ? 1 : 0)), [1, 2, 8, 8]);
      const r = ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [zero] },
        { locals: [{ chunkSize: 4, shardLength: 16, initialState: { memory: eye } }], qkProjection: mode });
      const got = r.o.toFloat32();
      const want = new Float64Array(got.length);
      for (let h = 0; h < 2; h++)
        for (let tt = 0; tt < 40; tt++) {
          const start = mode === 'shard' ? tt - (tt % 16) : mode === 'chunk' ? tt - (tt % 4) : 0;
          for (let s = start; s <= tt; s++) {
            const k = p.k.subarray((s * 2 + h) * 8, (s * 2 + h) * 8 + 8), q = p.q.subarray((tt * 2 + h) * 8, (tt * 2 + h) * 8 + 8);
            let kq = 0, kk = 0;
            for (let i = 0; i < 8; i++) (kq += k[i] * q[i]), (kk += k[i] * k[i]);
            for (let i = 0; i < 8; i++) want[(tt * 2 + h) * 8 + i] += (k[i] * kq) / (unit ? 1 : kk);
          }
        }
      assertClose(t, got, want, 1e-5, 1e-6, `${mode} unit=${unit}`);
      freeRes(r);
      for (const z of [zero, eye]) z.dispose();
      free(x);
    }
});

test('oracle 12(e): C_L = 1 is exact online GD (JS float64 loop); C_L = 8 is not', (t) => {
  const d = { B: 1, T: 30, H: 2, dk: 8, dv: 8 };
  const p = prob(d, 1, 80);
  const x = ts(p);
  const r = ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]] }, { locals: [{ chunkSize: 1, shardLength: 64 }], qkProjection: false });
  const want = titansRef(d, p.q, p.k, p.v, p.lr[0], null, null, { C: 1, momentum: false, decay: false });
  t.true(rmsRatio(r.o.toFloat32(), want.o) < 2e-6, 'vs online GD');
  // the C_L = 8 chunked memory is a different function (stale anchor)
  const r8 = ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]] }, { locals: [{ chunkSize: 8, shardLength: 64 }], qkProjection: false });
  t.true(rmsRatio(r8.o.toFloat32(), want.o) > 1e-3);
  freeRes(r, r8);
  free(x);
});

/** Steps token by token from the state; returns the concatenated outputs and the last state. */
async function stepAll(x: Ts, global: boolean, opts: TntOptions, T: number, async = false) {
  const { B, H } = { B: x.q.shape[0], H: x.q.shape[2] };
  const out: number[][] = Array.from({ length: B }, () => []);
  let st = opts.initialState ?? null;
  for (let tt = 0; tt < T; tt++) {
    const sl = (y: Tensor) => y.slice(1, tt, tt + 1);
    const xs: Ts = { q: sl(x.q), k: sl(x.k), v: sl(x.v), lr: x.lr.map(sl) };
    const inp = inputs(xs, global);
    const r = async ? await ops.tntStepAsync(inp, { ...opts, initialState: st }) : ops.tntStep(inp, { ...opts, initialState: st });
    const o = r.o.toFloat32();
    for (let b = 0; b < B; b++) out[b].push(...o.subarray(b * H * x.v.shape[3], (b + 1) * H * x.v.shape[3]));
    r.o.dispose();
    if (tt > 0) (st as { dispose(): void }).dispose();
    st = r.finalState;
    free(xs);
  }
  return { o: Float32Array.from(out.flat()), state: st as NonNullable<TntOptions['initialState']> };
}

test('step() == forward: C_L = 1 (stage 2) and a chunked C_L = 8 (mid-chunk anchors); O(1) state', async (t) => {
  const d = { B: 1, T: 40, H: 2, dk: 16, dv: 16 };
  const p = prob(d, 3, 90);
  const x = ts(p);
  for (const C of [1, 8]) {
    const opts: TntOptions = {
      global: { chunkSize: 16 },
      locals: [{ chunkSize: C, shardLength: 16 }, { chunkSize: C, shardLength: 32, momentum: false }],
    };
    const full = ops.tnt(inputs(x, true), opts);
    const st = await stepAll(x, true, opts, 40, C === 8);
    assertClose(t, st.o, full.o.toFloat32(), 1e-5, 1e-6, `C_L ${C} outputs`);
    const s = st.state as ops.TntState;
    t.is(s.position, 40);
    t.is(s.packed.size, full.finalState!.packed.size);
    assertClose(t, s.packed.toFloat32(), full.finalState!.packed.toFloat32(), 1e-5, 1e-6, `C_L ${C} state`);
    s.dispose();
    freeRes(full);
  }
  free(x);
});

test('split calls continue exactly: aligned splits bit-identical, any split to rounding (linear, MLP, momentum)', (t) => {
  const d = { B: 2, T: 96, H: 2, dk: 16, dv: 16 };
  const p = prob(d, 3, 100, false, 0.1);
  const x = ts(p);
  const eta = T32(f32(uniform(2 * 96 * 2, 101, 0.2, 0.9)), [2, 96, 2]);
  const W1 = T32(f32(data(2 * 16 * 32, 7, 0.18)), [1, 2, 16, 32]), W2 = T32(f32(data(2 * 32 * 16, 8, 0.25)), [1, 2, 32, 16]);
  const configs: TntOptions[] = [
    { global: { chunkSize: 32 }, locals: [{ chunkSize: 8, shardLength: 16 }, { chunkSize: 4, shardLength: 48, momentum: true }] },
    { global: { chunkSize: 32, memory: { kind: 'mlp', hidden: 32 }, initialState: { W1, W2 }, momentum: true },
      locals: [{ chunkSize: 8, shardLength: 16, memory: { kind: 'mlp', hidden: 32 }, initialState: { W1, W2 } }, { chunkSize: 4, shardLength: 48, momentum: true }],
      qkProjection: 'sequence' },
  ];
  const sl = (y: Tensor, a: number, b: number) => y.slice(1, a, b);
  for (const [ci, opts] of configs.entries()) {
    const ins = (a: number, b: number): TntInputs => ({
      q: sl(x.q, a, b), k: sl(x.k, a, b), v: sl(x.v, a, b), etaGlobal: sl(x.lr[0], a, b), etaLocal: [sl(x.lr[1], a, b), sl(x.lr[2], a, b)],
      momentumGlobal: ci === 1 ? sl(eta, a, b) : null, momentumLocal: [null, sl(eta, a, b)],
    });
    const all = ins(0, 96);
    const full = ops.tnt(all, opts);
    const F = full.o.toFloat32();
    for (const split of [32, 37, 1]) {
      const a = ins(0, split), b = ins(split, 96);
      const r1 = ops.tnt(a, opts);
      const r2 = ops.tnt(b, { ...opts, initialState: r1.finalState });
      const got = new Float32Array(F.length);
      const o1 = r1.o.toFloat32(), o2 = r2.o.toFloat32();
      for (let bb = 0; bb < 2; bb++) {
        got.set(o1.subarray(bb * split * 32, (bb + 1) * split * 32), bb * 96 * 32);
        got.set(o2.subarray(bb * (96 - split) * 32, (bb + 1) * (96 - split) * 32), (bb * 96 + split) * 32);
      }
      if (split === 32 && ci === 0) {
        t.deepEqual(got, F, `config ${ci}: split at 32 (a global chunk boundary, a chunk boundary of every local)`);
        t.deepEqual(r2.finalState!.packed.toFloat32(), full.finalState!.packed.toFloat32());
      } else {
        t.true(rmsRatio(got, F) < 2e-6, `config ${ci}: split at ${split}: ${rmsRatio(got, F)}`);
        t.true(rmsRatio(r2.finalState!.packed.toFloat32(), full.finalState!.packed.toFloat32()) < 2e-6);
      }
      t.is(r2.finalState!.position, 96);
      freeRes(r1, r2);
      for (const v of [a, b]) for (const y of [v.q, v.k, v.v, v.etaGlobal!, ...v.etaLocal!, ...(v.momentumLocal as Tensor[]), v.momentumGlobal]) y?.dispose();
    }
    freeRes(full);
    for (const y of [all.q, all.k, all.v, all.etaGlobal!, ...all.etaLocal!, ...(all.momentumLocal as Tensor[]), all.momentumGlobal]) y?.dispose();
  }
  for (const z of [eta, W1, W2]) z.dispose();
  free(x);
});

test('chunk-size switching (stage 2): a state written at C_L = 8 continues at C_L = 1 (and back), as the reference does', (t) => {
  const d = { B: 1, T: 60, H: 2, dk: 16, dv: 16 };
  const p = prob(d, 2, 105);
  const x = ts(p);
  const sl = (y: Tensor, a: number, b: number) => y.slice(1, a, b);
  const part = (a: number, b: number): TntInputs => ({ q: sl(x.q, a, b), k: sl(x.k, a, b), v: sl(x.v, a, b), etaGlobal: sl(x.lr[0], a, b), etaLocal: [sl(x.lr[1], a, b)] });
  const cfg = (C: number): TntOptions => ({ global: { chunkSize: 16 }, locals: [{ chunkSize: C, shardLength: 32, momentum: false }] });
  const a = part(0, 37), b = part(37, 60);
  const pre = ops.tnt(a, cfg(8));  // ends mid-chunk (37 = 4 * 8 + 5)
  for (const C of [1, 4]) {
    const fast = ops.tnt(b, { ...cfg(C), initialState: pre.finalState });
    const raw = [b.q, b.k, b.v, pre.finalState!.packed, b.etaGlobal, null, null, null, null, b.etaLocal![0]];
    const [ro, rs] = ops.referenceOp('tnt', raw, { globalChunkSize: 16, localChunkSizes: [C], localShardLengths: [32] });
    t.true(rmsRatio(fast.o.toFloat32(), ro.toFloat32()) < 1e-6, `continue at C_L ${C}`);
    t.true(rmsRatio(fast.finalState!.packed.toFloat32(), rs.toFloat32()) < 1e-6);
    freeRes(fast);
    ro.dispose();
    rs.dispose();
  }
  freeRes(pre);
  for (const v of [a, b]) for (const y of [v.q, v.k, v.v, v.etaGlobal!, ...v.etaLocal!]) y.dispose();
  free(x);
});

test('simulated context-parallel devices give bit-identical outputs and states; so do 1 and 2 threads', (t) => {
  const d = { B: 1, T: 600, H: 2, dk: 16, dv: 16 };
  const p = prob(d, 3, 110, false, 0.1);
  const x = ts(p);
  for (const proj of ['shard', 'sequence'] as const) {
    const opts: TntOptions = {
      global: { chunkSize: 64 }, qkProjection: proj,
      locals: [{ chunkSize: 8, shardLength: 64 }, { chunkSize: 16, shardLength: 128, memory: { kind: 'mlp', hidden: 32 } }],
    };
    const ref = ops.tnt(inputs(x, true), opts);
    const R = ref.o.toFloat32(), S = ref.finalState!.packed.toFloat32();
    for (const devices of [1, 2, 3, 5]) {
      const r = ops.tnt(inputs(x, true), { ...opts, devices });
      t.deepEqual(r.o.toFloat32(), R, `${proj}: ${devices} devices`);
      t.deepEqual(r.finalState!.packed.toFloat32(), S);
      freeRes(r);
    }
    const nt = getNumThreads();
    setNumThreads(1);
    const one = ops.tnt(inputs(x, true), opts);
    setNumThreads(nt);
    t.deepEqual(one.o.toFloat32(), R, `${proj}: 1 thread`);
    freeRes(ref, one);
  }
  free(x);
});

test('fast kernel vs the double-precision reference (referenceOp), bf16 inputs, T = 1, async', async (t) => {
  const d = { B: 2, T: 45, H: 3, dk: 12, dv: 20 };
  const p = prob(d, 3, 120);
  const x = ts(p);
  const opts: TntOptions = { global: { chunkSize: 16, decay: true }, locals: [{ chunkSize: 4, shardLength: 12 }, { chunkSize: 1, shardLength: 9 }] };
  const al = T32(f32(uniform(2 * 45 * 3, 121, 0, 0.2)), [2, 45, 3]);
  const inp = { ...inputs(x, true), alphaGlobal: al };
  const fast = await ops.tntAsync(inp, opts);
  const st = fast.finalState!;
  // referenceOp takes the raw op inputs: rebuild them the way the wrapper does
  const raw = [x.q, x.k, x.v, null, x.lr[0], al, null, null, null, x.lr[1], null, null, null, null, x.lr[2]];
  const attrs = { globalChunkSize: 16, globalDecay: true, localChunkSizes: [4, 1], localShardLengths: [12, 9] };
  const [ro, rs] = ops.referenceOp('tnt', raw, attrs);
  t.true(rmsRatio(fast.o.toFloat32(), ro.toFloat32()) < 1e-6);
  t.true(rmsRatio(st.packed.toFloat32(), rs.toFloat32()) < 1e-6);
  const bf = { ...inp, q: x.q.cast('bf16'), k: x.k.cast('bf16'), v: x.v.cast('bf16') };
  const rb = ops.tnt(bf, opts);
  t.is(rb.o.dtype, 'bf16');
  t.true(rmsRatio(rb.o.toFloat32(), fast.o.toFloat32()) < 3e-2);
  const one = (y: Tensor) => y.slice(1, 0, 1);
  const r1 = ops.tnt({ q: one(x.q), k: one(x.k), v: one(x.v), etaGlobal: one(x.lr[0]), etaLocal: [one(x.lr[1]), one(x.lr[2])], alphaGlobal: one(al) }, opts);
  assertClose(t, r1.o.toFloat32(), Float32Array.from([0, 1].flatMap((b) => [...fast.o.toFloat32().subarray(b * 45 * 60, b * 45 * 60 + 60)])), 1e-5, 1e-6, 'T = 1');
  freeRes(fast, rb, r1);
  for (const z of [ro, rs, al, bf.q, bf.k, bf.v]) z.dispose();
  free(x);
});

test('bad configurations and inputs are EngramErrors', (t) => {
  const d = { B: 1, T: 16, H: 2, dk: 8, dv: 8 };
  const p = prob(d, 2, 130);
  const x = ts(p);
  const err = (fn: () => unknown, code: ErrorCode, msg?: RegExp) => {
    const e = t.throws(fn, { instanceOf: EngramError }) as EngramError;
    t.is(e.code, code, e.message);
    if (msg) t.regex(e.message, msg);
  };
  const loc = [{ chunkSize: 4, shardLength: 8 }];
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]] }, { locals: [{ chunkSize: 4, shardLength: 10 }] }),
    'E_ARG', /not a multiple/);
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v }, { global: null, locals: [] }), 'E_ARG', /no memory/);
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0], x.lr[1]] }, { locals: loc }), 'E_ARG', /etaLocal/);
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]] }, { locals: [{ chunkSize: 0, shardLength: 8 }] }), 'E_ARG');
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]] }, { locals: loc, devices: -1 }), 'E_ARG');
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]] }, { locals: loc, qkProjection: 'x' as never }), 'E_ARG');
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]] }, { locals: loc, bogus: 1 } as never), 'E_ARG', /unknown option/);
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaGlobal: x.lr[0], etaLocal: [x.lr[1]] }, { locals: loc }), 'E_ARG', /global/);
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [] }, { global: { chunkSize: 8 } }), 'E_ARG', /etaGlobal/);
  // shapes
  const k9 = x.k.slice(1, 0, 9);
  err(() => ops.tnt({ q: x.q, k: k9, v: x.v, etaLocal: [x.lr[0]] }, { locals: loc }), 'E_SHAPE');
  const g9 = x.lr[0].slice(1, 0, 9);
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [g9] }, { locals: loc }), 'E_SHAPE', /etaLocal\[0\]/);
  const M = T32(new Float64Array(2 * 8 * 7), [1, 2, 8, 7]);
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]] }, { locals: [{ ...loc[0], initialState: { memory: M } }] }), 'E_SHAPE');
  const v6 = T32(new Float64Array(16 * 2 * 6), [1, 16, 2, 6]);
  err(() => ops.tnt({ q: x.q, k: x.k, v: v6, etaLocal: [x.lr[0]] }, { locals: [{ ...loc[0], memory: { kind: 'mlp' } }] }), 'E_SHAPE', /Dk == Dv/);
  // gates: NaN, negative learning rate, forget gate > 1, a gate for a switch that is off
  const bad = (val: number) => tensor(Float32Array.from({ length: 32 }, (_, i) => (i === 5 ? val : 0.1)), [1, 16, 2]);
  const nan = bad(NaN), neg = bad(-0.1), big = bad(1.5);
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [nan] }, { locals: loc }), 'E_NAN');
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [neg] }, { locals: loc }), 'E_ARG');
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]], alphaLocal: [big] }, { locals: [{ ...loc[0], decay: true }] }), 'E_ARG');
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]], alphaLocal: [x.lr[1]] }, { locals: loc }), 'E_ARG', /decay off/);
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]] }, { locals: [{ ...loc[0], momentum: true }] }), 'E_ARG', /momentum/);
  // a state of another configuration; a step over two tokens
  const r = ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]] }, { locals: loc });
  err(() => ops.tnt({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]], momentumLocal: [x.lr[1]] }, { locals: [{ ...loc[0], momentum: true }], initialState: r.finalState }), 'E_SHAPE', /packed state/);
  err(() => ops.tntStep({ q: x.q, k: x.k, v: x.v, etaLocal: [x.lr[0]] }, { locals: loc }), 'E_SHAPE');
  err(() => r.finalState!.view('global', 'memory'), 'E_ARG');
  err(() => r.finalState!.view(0, 'W1'), 'E_ARG');
  freeRes(r);
  for (const z of [k9, g9, M, v6, nan, neg, big]) z.dispose();
  free(x);
});

test.serial('no tensors leak through tnt, tntStep and state views', (t) => {
  const m0 = memory();
  const p = prob({ B: 1, T: 8, H: 1, dk: 8, dv: 8 }, 2, 140);
  const x = ts(p);
  const r = ops.tnt(inputs(x, true), { global: { chunkSize: 4 }, locals: [{ chunkSize: 2, shardLength: 4 }] });
  const v = r.finalState!.view(0, 'pi');
  v.dispose();
  freeRes(r);
  free(x);
  const m1 = memory();
  t.is(m1.tensors, m0.tensors);
  t.is(m1.cpu.bytes, m0.cpu.bytes);
});
