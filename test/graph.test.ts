/**
 * Graphs and plans: build-time validation names the node; plans equal the
 * eager interpreter; buffers are shared (planned < naive) without overlap of
 * live values; run() keeps the event loop free; nothing leaks.
 */
import test from 'ava';

import { EngramError, cudaAvailable, graph, memory, nn, ops, randn, tensor, zeros, type Tensor } from 'engram';

const { Graph } = graph;
const code = (c: string) => ({ instanceOf: EngramError, code: c }) as never;

/** An MLP-ish graph with views, a reshape of a transposed value (copy inserted) and two outputs. */
function demo(params: Tensor[], B = 2, T = 6, D = 16) {
  const g = new Graph('demo');
  const x = g.input('x', [B, T, D]);
  const [w1, w2, nw] = params;
  const h = g.scope('mlp', () => {
    const n = g.rmsNorm(x, g.param('norm.weight', nw), { name: 'norm' });
    const u = g.silu(g.matmul(n, g.param('up.weight', w1), { transB: true, name: 'up' }), { name: 'act' });
    return g.matmul(u, g.param('down.weight', w2), { transB: true, name: 'down' });
  });
  const y = g.add(x, h, { name: 'residual' });
  const heads = g.reshape(y, [B, T, 4, D / 4], { name: 'split' });
  const att = g.sdpa(heads, heads, heads, { causal: true, name: 'attn' });
  const swapped = g.transpose(att, 1, 2, { name: 'swap' }); // [B, 4, T, D/4], strided
  g.output('y', y);
  g.output('flat', g.reshape(swapped, [B, 4 * T * (D / 4)], { name: 'flatten' }));
  return g;
}

const mkParams = (D = 16) => [randn([4 * D, D], { seed: 1 }), randn([D, 4 * D], { seed: 2 }), randn([D], { seed: 3 })];

test('validation errors name the bad node and keep the op error code', (t) => {
  const g = new Graph();
  const x = g.input('x', [2, 8]);
  const wt = zeros([3, 5]);
  const w = g.param('w', wt);
  const e1 = t.throws(() => g.scope('block0', () => g.matmul(x, w, { name: 'q_proj' })), code('E_SHAPE'));
  t.regex(e1!.message, /graph node 'block0\.q_proj' \(matmul\): matmul: inner dimensions differ/);
  const e2 = t.throws(() => g.op1('exp', [g.input('ids', [4], 'i32')], {}, { name: 'bad_exp' }), code('E_DTYPE'));
  t.regex(e2!.message, /graph node 'bad_exp' \(exp\)/);
  const e3 = t.throws(() => g.reshape(x, [3, 3], { name: 'squash' }), code('E_SHAPE'));
  t.regex(e3!.message, /'squash'/);
  t.throws(() => g.op1('nope', [x]), code('E_ARG'));
  t.throws(() => g.op1('softmax', [x], { axiss: 1 }, { name: 'typo' }), { message: /'typo'.*unknown option 'axiss'/ });
  const other = new Graph().input('y', [2, 8]);
  t.throws(() => g.add(x, other), { message: /belongs to another graph/ });
  t.throws(() => g.compile(), code('E_ARG')); // no outputs
  g.output('x', x);
  if (!cudaAvailable()) t.throws(() => g.compile({ device: 'cuda' }), code('E_DEVICE'));
  wt.dispose();
});

test('plan results equal the eager interpreter (and the naive plan)', async (t) => {
  const params = mkParams();
  const g = demo(params);
  const xs = randn([2, 6, 16], { seed: 4 });
  const plan = g.compile();
  const naive = g.compile({ reuseBuffers: false });
  const got = await plan.run({ x: xs });
  const sync = plan.runSync([xs]);
  const eager = g.runEager({ x: xs });
  const viaNaive = await naive.run({ x: xs });
  for (const k of ['y', 'flat']) {
    t.deepEqual([...got[k].shape], [...eager[k].shape]);
    t.deepEqual([...got[k].toFloat32()], [...eager[k].toFloat32()], k);
    t.deepEqual([...sync[k].toFloat32()], [...eager[k].toFloat32()], k);
    t.deepEqual([...viaNaive[k].toFloat32()], [...eager[k].toFloat32()], k);
  }
  const s = plan.stats;
  t.is(s.copiesInserted, 2); // the reshape of the transposed attention output, and copying that view out
  t.true(s.plannedBytes < s.naiveBytes, `planned ${s.plannedBytes} vs naive ${s.naiveBytes}`);
  t.true(naive.stats.plannedBytes >= naive.stats.naiveBytes);
  t.log(`demo plan: ${s.opNodes} ops, ${s.viewNodes} views, intermediates ${s.naiveBytes} B naive -> ${s.plannedBytes} B planned`);
  for (const r of [got, sync, eager, viaNaive]) for (const v of Object.values(r)) v.dispose();
  for (const v of [...params, xs]) v.dispose();
  plan.dispose();
  naive.dispose();
});

test('buffers are shared only between values that are never live together', (t) => {
  // A chain a0 -> a1 -> ... where each value feeds the next two: values i and i+1, i+2 overlap.
  const g = new Graph();
  const x = g.input('x', [64, 64]);
  const vals = [g.unary('exp', x)];
  vals.push(g.silu(vals[0]));
  for (let i = 2; i < 12; i++) vals.push(g.add(vals[i - 1], vals[i - 2]));
  g.output('out', vals[vals.length - 1]);
  const plan = g.compile();
  const size = 64 * 64 * 4;
  const off = vals.slice(0, -1).map((v) => plan.offsetOf(v.id));
  for (let i = 0; i < off.length; i++) {
    t.true(off[i] >= 0);
    // value i is read by steps i+1 and i+2, so it overlaps in time with values i+1 and i+2.
    for (const j of [i + 1, i + 2]) if (j < off.length) t.true(Math.abs(off[i] - off[j]) >= size, `values ${i} and ${j} share memory`);
  }
  t.true(plan.stats.plannedBytes <= 3 * size, `arena ${plan.stats.plannedBytes}`);
  t.is(plan.stats.naiveBytes, 11 * size);
  plan.dispose();
});

test('run-time input checks name the input; a disposed plan is E_DISPOSED', async (t) => {
  const g = new Graph();
  const x = g.input('x', [2, 3]);
  g.output('y', g.unary('exp', x));
  const plan = g.compile();
  const bad = zeros([3, 2]);
  await t.throwsAsync(() => plan.run({ x: bad }), { message: /input 'x' must be \[2, 3\]/ });
  await t.throwsAsync(() => plan.run({}), { message: /input 'x' is missing/ });
  t.throws(() => plan.runSync({ x: zeros([2, 3], { dtype: 'f16' }) }), code('E_DTYPE'));
  t.throws(() => plan.runSync({ x: bad, z: bad }), code('E_ARG'));
  plan.dispose();
  await t.throwsAsync(() => plan.run({ x: bad }), code('E_DISPOSED'));
  bad.dispose();
});

test('bound nodes run through a KV cache and match the eager path', async (t) => {
  const [B, T, H, D] = [1, 5, 2, 8];
  const build = () => {
    const g = new Graph();
    const q = g.input('q', [B, T, H, D]);
    g.output('o', g.sdpa(q, q, q, { causal: true, bind: 'kv', name: 'attn' }));
    return g;
  };
  const g = build();
  const plan = g.compile();
  const a = new nn.PlainKVCache({ kvHeads: H, headDim: D }), b = new nn.PlainKVCache({ kvHeads: H, headDim: D });
  const x1 = randn([B, T, H, D], { seed: 5 }), x2 = randn([B, T, H, D], { seed: 6 });
  const p1 = await plan.run({ q: x1 }, { kv: a }), p2 = await plan.run({ q: x2 }, { kv: a });
  const e1 = g.runEager({ q: x1 }, { kv: b }), e2 = g.runEager({ q: x2 }, { kv: b });
  t.is(a.length, 2 * T);
  t.deepEqual([...p1.o.toFloat32()], [...e1.o.toFloat32()]);
  t.deepEqual([...p2.o.toFloat32()], [...e2.o.toFloat32()]);
  await t.throwsAsync(() => plan.run({ q: x1 }), { message: /expected 1 states/ });
  await t.throwsAsync(() => plan.run({ q: x1 }, [{} as never]), { message: /not a bindable state/ });
  for (const v of [p1.o, p2.o, e1.o, e2.o, x1, x2]) v.dispose();
  a.dispose();
  b.dispose();
  plan.dispose();
});

test.serial('plan.run does not block the event loop', async (t) => {
  const g = new Graph();
  const x = g.input('x', [384, 384]);
  let h = x;
  const w = randn([384, 384], { seed: 7 });
  const wv = g.param('w', w);
  for (let i = 0; i < 40; i++) h = g.matmul(h, wv, { alpha: 1 / 20 });
  g.output('y', h);
  const plan = g.compile();
  const xs = randn([384, 384], { seed: 8 });
  let ticks = 0, last = performance.now(), worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
    ticks++;
  }, 2);
  const t0 = performance.now();
  const out = await plan.run({ x: xs });
  const ms = performance.now() - t0;
  clearInterval(timer);
  t.log(`plan ran ${ms.toFixed(0)} ms; timer fired ${ticks} times, worst gap ${worst.toFixed(1)} ms`);
  t.true(ms > 20, 'the plan should take measurable time');
  t.true(ticks >= Math.min(5, ms / 20), `timer fired only ${ticks} times in ${ms.toFixed(0)} ms`);
  t.true(worst < Math.max(50, ms / 2), `the event loop stalled for ${worst.toFixed(1)} ms`);
  out.y.dispose();
  xs.dispose();
  w.dispose();
  plan.dispose();
});

test.serial('no tensors or bytes leak across compile, run and dispose', async (t) => {
  const m0 = memory();
  const params = mkParams();
  const g = demo(params);
  const plan = g.compile();
  const xs = randn([2, 6, 16], { seed: 9 });
  for (let i = 0; i < 5; i++) for (const v of Object.values(await plan.run({ x: xs }))) v.dispose();
  for (const v of Object.values(g.runEager({ x: xs }))) v.dispose();
  const perRun = g.compile({ keepArena: false });
  for (const v of Object.values(perRun.runSync({ x: xs }))) v.dispose();
  for (const v of [...params, xs]) v.dispose();
  t.true(memory().cpu.bytes > m0.cpu.bytes, 'the kept arena and the parameters live while the plan does');
  plan.dispose();
  perRun.dispose();
  const m1 = memory();
  t.is(m1.tensors, m0.tensors);
  t.is(m1.cpu.bytes, m0.cpu.bytes);
  t.is(m1.cpu.buffers, m0.cpu.buffers);
});

test('views of inputs and parameters as outputs are copied out', async (t) => {
  const g = new Graph();
  const x = g.input('x', [2, 3]);
  const w = tensor([1, 2, 3, 4, 5, 6], [3, 2]);
  g.output('xt', g.transpose(x, 0, 1));
  g.output('w', g.param('w', w));
  g.output('x', x);
  const plan = g.compile();
  const xs = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const r = await plan.run({ x: xs });
  t.deepEqual([...r.xt.toFloat32()], [1, 4, 2, 5, 3, 6]);
  t.deepEqual([...r.w.toFloat32()], [1, 2, 3, 4, 5, 6]);
  r.x.data()[0] = 100; // outputs never alias inputs
  t.is(xs.toFloat32()[0], 1);
  for (const v of [...Object.values(r), w, xs]) v.dispose();
  plan.dispose();
});

test('a windowed KV cache stays bounded and attends like sdpaWindow over the whole stream', (t) => {
  const [T, H, D, W] = [300, 2, 8, 20];
  const q = randn([1, T, H, D], { seed: 20 }), k = randn([1, T, H, D], { seed: 21 }), v = randn([1, T, H, D], { seed: 22 });
  const want = ops.sdpaWindow(q, k, v, { window: W }).toFloat32();
  const cache = new nn.PlainKVCache({ kvHeads: H, headDim: D, window: W });
  let worst = 0, maxLen = 0;
  for (let s = 0; s < T; s++) {
    const [qs, ks, vs] = [q, k, v].map((x) => x.slice(1, s, s + 1));
    cache.append(ks, vs);
    const o = cache.attend(qs, { window: W });
    const got = o.toFloat32();
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[s * H * D + i]));
    maxLen = Math.max(maxLen, cache.length);
    for (const x of [qs, ks, vs, o]) x.dispose();
  }
  t.true(worst < 1e-5, `max diff ${worst}`);
  t.true(maxLen <= 64, `the cache held ${maxLen} positions for a window of ${W}`);
  t.is(cache.position, T);
  t.throws(() => cache.append(randn([1, 1, H + 1, D]), v), code('E_SHAPE'));
  for (const x of [q, k, v]) x.dispose();
  cache.dispose();
  t.throws(() => cache.length, code('E_DISPOSED'));
});
