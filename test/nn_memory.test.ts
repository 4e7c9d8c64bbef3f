/**
 * engram.nn memory mixers: 'titans' (linear and MLP memory), 'gdn' (fla
 * Gated DeltaNet names), the Titans hybrids (MAL: a memory layer stacked
 * with sliding-window attention; MAG: one block gating SWA with the memory)
 * and attention over quantized caches: prefill + steps equal the full
 * forward, state save/load/fork, weights by name, plan == eager.
 */
import test from 'ava';

import { EngramError, FLA_GDN_TO_ENGRAM, memory, nn, renameTensors, tensor, type Tensor } from 'engram';
import { assertClose } from './helpers.js';

const V = 53;
const toks = (n: number, seed = 1) => Array.from({ length: n }, (_, i) => (i * 13 + seed * 7 + (i * i) % 5) % V);

async function prefillStepsVsForward(t: import('ava').ExecutionContext, cfg: nn.ModelConfig, T: number, split: number,
  batch = 1, tol = 1e-4) {
  const model = new nn.Model(cfg, { seed: 3 });
  const seqs = Array.from({ length: batch }, (_, b) => toks(T, b + 1));
  const full = await model.forward(seqs);
  const F = full.toFloat32();
  const state = model.createState(batch);
  const pre = await model.prefill(seqs.map((s) => s.slice(0, split)), state);
  const P = pre.toFloat32();
  for (let b = 0; b < batch; b++)
    assertClose(t, P.slice(b * split * V, (b + 1) * split * V), F.slice(b * T * V, b * T * V + split * V), tol, tol / 10, `prefill b${b}`);
  for (let s = split; s < T; s++) {
    const step = await model.step(seqs.map((q) => q[s]), state);
    const S = step.toFloat32();
    for (let b = 0; b < batch; b++)
      assertClose(t, S.slice(b * V, (b + 1) * V), F.slice((b * T + s) * V, (b * T + s + 1) * V), tol, tol / 10, `step ${s} b${b}`);
    step.dispose();
  }
  t.is(state.position, T);
  for (const x of [full, pre]) x.dispose();
  state.dispose();
  model.dispose();
}

const base = { vocab: V, dim: 32, mlpHidden: 48 };
const TITANS_LIN: nn.LayerConfig = { mixer: 'titans', heads: 2, chunkSize: 4 };
const TITANS_MLP: nn.LayerConfig = { mixer: 'titans', heads: 2, chunkSize: 4, memory: { kind: 'mlp', hidden: 24 } };
const GDN: nn.LayerConfig = { mixer: 'gdn', heads: 2, headDim: 8, chunkSize: 4 };

// prefill lengths that end mid-chunk (chunkSize 4): every later step continues a started chunk
for (const [name, layer] of [['titans linear', TITANS_LIN], ['titans mlp', TITANS_MLP], ['gdn', GDN],
  ['titans linear, no momentum/decay, no conv/gate', { ...TITANS_LIN, momentum: false, decay: false, conv: 0, gate: false }],
  ['titans mlp, no momentum', { ...TITANS_MLP, momentum: false, memory: { kind: 'mlp', hidden: 16, activation: 'silu' } }],
  ['gdn, no conv/gate', { ...GDN, conv: 0, gate: false, expandV: 1 }]] as [string, nn.LayerConfig][])
  test(`${name}: prefill + step equals the full forward`, async (t) => {
    await prefillStepsVsForward(t, { ...base, layers: [layer] }, 15, 6, 2);
  });

test('MAL hybrid (titans memory layer + sliding-window attention): prefill + step equals forward', async (t) => {
  await prefillStepsVsForward(t, { ...base, layers: [TITANS_LIN, { mixer: 'swa', heads: 4, window: 5 }] }, 18, 7);
});

test('MAG hybrid (SWA gated by the memory) + attention: prefill + step equals forward', async (t) => {
  await prefillStepsVsForward(t, { ...base, layers: [{ mixer: 'mag', heads: 4, window: 5, chunkSize: 4, memory: { kind: 'mlp', hidden: 16 } },
    { mixer: 'attention', heads: 4, kvHeads: 2 }] }, 17, 5);
});

test('memory mixers: state save -> load and fork continue exactly; bytes are fixed', async (t) => {
  const model = new nn.Model({ ...base, layers: [TITANS_MLP, GDN, { mixer: 'mag', heads: 2, window: 4, chunkSize: 4 }] }, { seed: 4 });
  const st = model.createState();
  (await model.prefill([toks(7)], st)).dispose();
  const bytes = st.bytes();
  const saved = st.save();
  const names = Object.keys(saved);
  for (const n of ['layers.0.W1', 'layers.0.A2', 'layers.0.offset', 'layers.0.q_conv', 'layers.1.state', 'layers.2.memory.memory',
    'layers.2.memory.anchor', 'layers.2.attn.kv.k'])
    t.true(names.includes(n), n);
  t.deepEqual([...saved['layers.0.offset'].toArray()], [3]); // 7 tokens, chunk 4
  const back = model.createState();
  back.load(saved);
  const fork = st.fork();
  const outs: Float32Array[] = [];
  for (const s of [st, back, fork]) {
    const l = await model.step(5, s);
    outs.push(l.toFloat32());
    l.dispose();
  }
  t.deepEqual(outs[1], outs[0]);
  t.deepEqual(outs[2], outs[0]);
  (await model.step(6, st)).dispose();
  t.true(st.bytes() > bytes); // only the SWA cache grows (up to its window)
  for (const x of Object.values(saved)) x.dispose();
  for (const s of [st, back, fork]) s.dispose();
  model.dispose();
});

test('gdn parameters carry the fla names; a renamed fla checkpoint loads', async (t) => {
  const cfg: nn.ModelConfig = { ...base, layers: [GDN] };
  const model = new nn.Model(cfg, { seed: 5 });
  const names = [...model.namedParameters().keys()].filter((n) => n.startsWith('layers.0.mixer.')).map((n) => n.slice(15)).sort();
  t.deepEqual(names, ['A_log', 'a_proj.weight', 'b_proj.weight', 'dt_bias', 'g_proj.weight', 'k_conv1d.weight', 'k_proj.weight',
    'o_norm.weight', 'o_proj.weight', 'q_conv1d.weight', 'q_proj.weight', 'v_conv1d.weight', 'v_proj.weight'].sort());
  // export under fla names (conv weights as PyTorch [C, 1, K]), load back through FLA_GDN_TO_ENGRAM
  const fla: Record<string, Tensor> = {};
  const made: Tensor[] = [];
  for (const [n, p] of model.namedParameters()) {
    const flaName = n === 'embed.weight' ? 'model.embeddings.weight' : n === 'norm.weight' ? 'model.norm.weight'
      : n === 'head.weight' ? 'lm_head.weight' : n.replace(/^layers\.(\d+)\.mixer_norm/, 'model.layers.$1.attn_norm')
        .replace(/^layers\.(\d+)\.mixer\./, 'model.layers.$1.attn.').replace(/^layers\.(\d+)\.mlp/, 'model.layers.$1.mlp');
    const x = /conv1d/.test(n) ? p.reshape([p.shape[0], 1, p.shape[1]]) : p;
    if (x !== p) made.push(x);
    fla[flaName] = x;
  }
  const again = new nn.Model(cfg, { weights: renameTensors(fla, FLA_GDN_TO_ENGRAM) });
  const a = await model.forward([toks(9)]), b = await again.forward([toks(9)]);
  t.deepEqual([...b.toFloat32()], [...a.toFloat32()]);
  for (const x of [a, b, ...made]) x.dispose();
  model.dispose();
  again.dispose();
});

test('memory mixer configuration errors name the layer', (t) => {
  const bad = (layer: nn.LayerConfig, re: RegExp) =>
    t.throws(() => new nn.Model({ ...base, layers: [layer] }), { instanceOf: EngramError, message: re });
  bad({ mixer: 'titans', heads: 2, memory: 'mlpx' }, /layer 0 \(titans\): memory must be/);
  bad({ mixer: 'titans', heads: 2, conv: 1 }, /'conv' must be 0/);
  bad({ mixer: 'titans', heads: 2, momentum: 'yes' }, /'momentum' must be true or false/);
  bad({ mixer: 'titans', heads: 3 }, /not a multiple of heads/);
  bad({ mixer: 'gdn', heads: 2, expandV: 0 }, /'expandV'/);
  bad({ mixer: 'mag', heads: 2 }, /'window'/);
  t.true(['titans', 'gdn', 'mag'].every((k) => nn.mixerKinds().includes(k)));
});

test.serial('memory mixers leak nothing', async (t) => {
  const m0 = memory();
  const model = new nn.Model({ ...base, layers: [TITANS_MLP, GDN] }, { seed: 7 });
  (await model.forward([toks(6)])).dispose();
  (await model.prefill([toks(5)])).dispose();
  (await model.step(2)).dispose();
  model.dispose();
  const m1 = memory();
  t.is(m1.tensors, m0.tensors);
  t.is(m1.cpu.bytes, m0.cpu.bytes);
});

// ---- attention over quantized caches ----

const QCFG = (cache: string): nn.ModelConfig => ({ ...base, layers: [{ mixer: 'attention', heads: 4, kvHeads: 2, cache },
  { mixer: 'swa', heads: 4, window: 5 }] });

for (const cache of ['turboquant', 'turboquant-2.5', 'kivi', 'int8', 'bf16'])
  test(`attention with a '${cache}' cache: the compiled plan (native binding) equals the eager graph; close to the f32 cache`, async (t) => {
    const model = new nn.Model(QCFG(cache), { seed: 11 });
    const ref = new nn.Model({ ...QCFG('f32') }, { weights: Object.fromEntries(model.namedParameters()) });
    const seq = toks(12, 3);
    const planState = model.createState(), eagerState = model.createState(), refState = ref.createState();
    const qc = planState.layers[0].bound.get('kv')!;
    t.is(qc.kind, cache);
    // prefill 7 then 5 steps through plans; the same calls op by op through the eager interpreter
    const viaPlan: Float32Array[] = [], viaEager: Float32Array[] = [], viaF32: Float32Array[] = [];
    const calls = [seq.slice(0, 7), ...seq.slice(7).map((x) => [x])];
    let pos = 0;
    for (const c of calls) {
      const p = await model.prefill([c], planState);
      viaPlan.push(p.toFloat32());
      p.dispose();
      const r = await ref.prefill([c], refState);
      viaF32.push(r.toFloat32());
      r.dispose();
      const g = model.graph('stateful', 1, c.length);
      const inputs: Record<string, Tensor> = {
        tokens: tensor(Int32Array.from(c), [1, c.length]),
        positions: tensor(Int32Array.from(c, (_, i) => pos + i), [c.length]),
      };
      const states: Record<string, nn.LayerState> = {};
      eagerState.layers.forEach((l, i) => l.bound.forEach((b, k) => (states[`layers.${i}.${k}`] = b)));
      const e = g.runEager(inputs, states);
      viaEager.push(e.logits.toFloat32());
      for (const x of [...Object.values(e), ...Object.values(inputs)]) x.dispose();
      pos += c.length;
    }
    for (let i = 0; i < calls.length; i++) assertClose(t, viaPlan[i], viaEager[i], 1e-6, 1e-6, `${cache} call ${i}: plan vs eager`);
    // the cache holds codes: fewer bytes than f32 (KIVI keeps its last 128 tokens in an f32 window)
    const f32Bytes = refState.layers[0].bound.get('kv')!.bytes();
    t.true(cache === 'kivi' ? qc.bytes() <= f32Bytes : qc.bytes() < f32Bytes, `${cache}: ${qc.bytes()} bytes`);
    // logits stay close to the unquantized model's (relative RMS error per call)
    for (let i = 0; i < calls.length; i++) {
      let num = 0, den = 0;
      for (let j = 0; j < viaF32[i].length; j++) num += (viaPlan[i][j] - viaF32[i][j]) ** 2, den += viaF32[i][j] ** 2;
      t.true(Math.sqrt(num / den) < (cache === 'bf16' || cache === 'int8' ? 0.01 : 0.2), `${cache} call ${i}: rel err ${Math.sqrt(num / den)}`);
    }
    for (const s of [planState, eagerState, refState]) s.dispose();
    model.dispose();
    ref.dispose();
  });

test('turboquant cache: prefill in pieces + steps equals one prefill (codes do not depend on the split); save/load/fork', async (t) => {
  const model = new nn.Model(QCFG('turboquant'), { seed: 12 });
  const seq = toks(11, 2);
  const one = model.createState(), two = model.createState();
  const a = await model.prefill([seq], one);
  (await model.prefill([seq.slice(0, 4)], two)).dispose();
  const b = await model.prefill([seq.slice(4, 9)], two);
  const s9 = await model.step(seq[9], two), s10 = await model.step(seq[10], two);
  const A = a.toFloat32();
  assertClose(t, b.toFloat32(), A.slice(4 * V, 9 * V), 1e-5, 1e-5, 'pieces');
  assertClose(t, s9.toFloat32(), A.slice(9 * V, 10 * V), 1e-5, 1e-5, 'step 9');
  assertClose(t, s10.toFloat32(), A.slice(10 * V, 11 * V), 1e-5, 1e-5, 'step 10');
  const saved = one.save();
  t.is(saved['layers.0.kv.codes'].dtype, 'u8');
  const back = model.createState();
  back.load(saved);
  const fork = one.fork();
  const outs: Float32Array[] = [];
  for (const s of [one, back, fork]) {
    const l = await model.step(7, s);
    outs.push(l.toFloat32());
    l.dispose();
  }
  t.deepEqual(outs[1], outs[0]);
  t.deepEqual(outs[2], outs[0]);
  for (const x of [a, b, s9, s10, ...Object.values(saved)]) x.dispose();
  for (const s of [one, two, back, fork]) s.dispose();
  model.dispose();
});

test('quantized caches: windows are E_UNSUPPORTED; unknown kinds E_ARG', (t) => {
  const m = new nn.Model({ ...base, layers: [{ mixer: 'swa', heads: 4, window: 4, cache: 'kivi' }] });
  t.throws(() => m.createState(), { instanceOf: EngramError, code: 'E_UNSUPPORTED', message: /full attention/ });
  const u = new nn.Model({ ...base, layers: [{ mixer: 'attention', heads: 4, cache: 'nope' }] });
  t.throws(() => u.createState(), { instanceOf: EngramError, code: 'E_ARG', message: /unknown attention cache 'nope'.*turboquant/ });
  t.true(['turboquant', 'kivi', 'int8'].every((k) => nn.attentionCacheKinds().includes(k)));
  m.dispose();
  u.dispose();
});
