/**
 * engram.nn: a hybrid model's prefill + step equals its full forward; state
 * fork/save/load; weights save/load round-trips bit-exactly; config and
 * weight errors; no leaks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test from 'ava';

import { mkdirSync, readFileSync } from 'node:fs';

import {
  EngramError, FLA_GDN_TO_ENGRAM, LLAMA_TO_ENGRAM, loadSafetensors, memory, nn, randn, renameTensors, saveSafetensors,
  type Tensor,
} from 'engram';
import { assertClose } from './helpers.js';

const code = (c: string) => ({ instanceOf: EngramError, code: c }) as never;
const dir = mkdtempSync(join(tmpdir(), 'engram-nn-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const HYBRID: nn.ModelConfig = {
  vocab: 61, dim: 32, mlpHidden: 48,
  layers: [
    { mixer: 'swa', heads: 4, window: 6 },
    { mixer: 'attention', heads: 4, kvHeads: 2 },
  ],
};
const THREE: nn.ModelConfig = { ...HYBRID, layers: [...HYBRID.layers, { mixer: 'conv', kernel: 4 }] };
const toks = (n: number, seed = 1) => Array.from({ length: n }, (_, i) => (i * 17 + seed * 5 + (i * i) % 7) % 61);

async function prefillStepsVsForward(t: import('ava').ExecutionContext, cfg: nn.ModelConfig, T: number, split: number, batch = 1) {
  const model = new nn.Model(cfg, { seed: 3 });
  const seqs = Array.from({ length: batch }, (_, b) => toks(T, b + 1));
  const full = await model.forward(seqs);
  const F = full.toFloat32();
  const V = cfg.vocab;
  const state = model.createState(batch);
  const pre = await model.prefill(seqs.map((s) => s.slice(0, split)), state);
  const P = pre.toFloat32();
  for (let b = 0; b < batch; b++)
    assertClose(t, P.slice(b * split * V, (b + 1) * split * V), F.slice(b * T * V, b * T * V + split * V), 1e-4, 1e-5, `prefill b${b}`);
  for (let s = split; s < T; s++) {
    const step = await model.step(seqs.map((q) => q[s]), state);
    const S = step.toFloat32();
    for (let b = 0; b < batch; b++)
      assertClose(t, S.slice(b * V, (b + 1) * V), F.slice((b * T + s) * V, (b * T + s + 1) * V), 1e-4, 1e-5, `step ${s} b${b}`);
    step.dispose();
  }
  t.is(state.position, T);
  for (const x of [full, pre]) x.dispose();
  state.dispose();
  model.dispose();
}

test('2-block hybrid (swa + attention): prefill + step equals the full forward', async (t) => {
  await prefillStepsVsForward(t, HYBRID, 20, 9);
});

test('3 blocks with a conv mixer (functional state), batch 2, prefill longer than the window', async (t) => {
  await prefillStepsVsForward(t, THREE, 16, 11, 2);
});

test('LayerNorm, biased projections, rope off, MLP off: prefill + step still equals forward', async (t) => {
  await prefillStepsVsForward(t, {
    vocab: 61, dim: 24, mlpHidden: 0, norm: 'layer',
    layers: [{ mixer: 'attention', heads: 3, bias: true, rope: false }, { mixer: 'swa', heads: 2, headDim: 8, window: 3, rope: { theta: 500 } }],
  }, 9, 4);
});

test('prefill in pieces equals one prefill; forks continue independently', async (t) => {
  const model = new nn.Model(THREE, { seed: 4 });
  const seq = toks(14);
  const one = model.createState(), two = model.createState();
  const a = await model.prefill([seq], one);
  (await model.prefill([seq.slice(0, 5)], two)).dispose();
  const b = await model.prefill([seq.slice(5)], two);
  assertClose(t, b.toFloat32(), a.toFloat32().slice(5 * 61), 1e-4, 1e-5, 'split prefill');
  const fork = one.fork();
  const x = await model.step(7, one), y = await model.step(8, fork), z = await model.step(7, two);
  t.notDeepEqual([...x.toFloat32()], [...y.toFloat32()]);
  assertClose(t, z.toFloat32(), x.toFloat32(), 1e-4, 1e-5, 'same history, same next logits');
  t.is(fork.position, 15);
  t.true(one.bytes() > 0);
  for (const v of [a, b, x, y, z]) v.dispose();
  for (const s of [one, two, fork]) s.dispose();
  model.dispose();
});

test('state save -> load (also through a safetensors file) continues bit-exactly', async (t) => {
  const model = new nn.Model(THREE, { seed: 5 });
  const st = model.createState();
  (await model.prefill([toks(9)], st)).dispose();
  const saved = st.save();
  t.deepEqual(Object.keys(saved).sort(), ['layers.0.kv.k', 'layers.0.kv.position', 'layers.0.kv.v', 'layers.1.kv.k',
    'layers.1.kv.position', 'layers.1.kv.v', 'layers.2.conv', 'position'].sort());
  const path = join(dir, 'state.safetensors');
  await saveSafetensors(path, saved);
  const restored = model.createState();
  restored.load(saved);
  const fromFile = model.createState();
  const f = await loadSafetensors(path);
  fromFile.load(f.tensors);
  for (const x of Object.values(f.tensors)) x.dispose();
  const again = restored.save();
  for (const k of Object.keys(saved)) t.deepEqual([...again[k].toArray()], [...saved[k].toArray()], k);
  const outs: Float32Array[][] = [[], [], []];
  for (const [i, s] of [st, restored, fromFile].entries())
    for (const tok of [3, 1, 4]) {
      const l = await model.step(tok, s);
      outs[i].push(l.toFloat32());
      l.dispose();
    }
  t.deepEqual(outs[1], outs[0]);
  t.deepEqual(outs[2], outs[0]);
  t.throws(() => model.createState().load({ position: saved.position }), { message: /'layers.0.kv.k'|needs tensors|missing/ });
  for (const x of [...Object.values(saved), ...Object.values(again)]) x.dispose();
  for (const s of [st, restored, fromFile]) s.dispose();
  model.dispose();
});

test('weights: save -> load round-trips bit-exactly, mmap or not; strict names', async (t) => {
  const model = new nn.Model({ ...HYBRID, tieEmbeddings: true }, { seed: 6 });
  const names = [...model.namedParameters().keys()];
  t.true(names.includes('embed.weight') && names.includes('layers.1.mixer.k_proj.weight') &&
    names.includes('layers.0.mlp.gate_proj.weight') && names.includes('norm.weight') && !names.includes('head.weight'));
  const path = join(dir, 'model.safetensors');
  await model.save(path);
  for (const mmap of [false, true]) {
    const back = await nn.Model.load(path, { mmap });
    t.deepEqual(back.config, model.config);
    for (const [n, p] of model.namedParameters()) t.deepEqual([...back.namedParameters().get(n)!.toArray()], [...p.toArray()], n);
    const a = await model.forward([toks(7)]), b = await back.forward([toks(7)]);
    t.deepEqual([...b.toFloat32()], [...a.toFloat32()]);
    for (const x of [a, b]) x.dispose();
    back.dispose();
  }
  const f = await loadSafetensors(path);
  t.is(f.metadata.format, 'engram');
  const extra: Record<string, Tensor> = { ...f.tensors, 'layers.9.junk': f.tensors['norm.weight'] };
  t.throws(() => new nn.Model(model.config, { weights: extra }), { message: /unexpected layers\.9\.junk/ });
  const missing = { ...f.tensors };
  delete missing['layers.0.mixer.q_proj.weight'];
  t.throws(() => new nn.Model(model.config, { weights: missing }), { message: /missing layers\.0\.mixer\.q_proj\.weight/ });
  const wrong = { ...f.tensors, 'norm.weight': randn([5]) };
  t.throws(() => new nn.Model(model.config, { weights: wrong }), code('E_SHAPE'));
  wrong['norm.weight'].dispose();
  for (const x of Object.values(f.tensors)) x.dispose();
  model.dispose();
});

test('a Hugging Face layout directory and a Llama-named checkpoint load by name', async (t) => {
  const model = new nn.Model(HYBRID, { seed: 8 });
  const d = join(dir, 'hf');
  mkdirSync(d);
  await model.save(d);
  t.deepEqual(JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')), model.config);
  const back = await nn.Model.load(d);
  const x = await model.forward([toks(6)]), y = await back.forward([toks(6)]);
  t.deepEqual([...y.toFloat32()], [...x.toFloat32()]);
  // Export under Llama names (the inverse of LLAMA_TO_ENGRAM), then load through the rules.
  const llama: Record<string, Tensor> = {};
  for (const [n, p] of model.namedParameters()) {
    const m = /^layers\.(\d+)\.(.*)$/.exec(n);
    const rest = m?.[2] ?? '';
    const name = n === 'embed.weight' ? 'model.embed_tokens.weight' : n === 'norm.weight' ? 'model.norm.weight'
      : n === 'head.weight' ? 'lm_head.weight'
      : rest === 'mixer_norm.weight' ? `model.layers.${m![1]}.input_layernorm.weight`
      : rest === 'mlp_norm.weight' ? `model.layers.${m![1]}.post_attention_layernorm.weight`
      : rest.startsWith('mixer.') ? `model.layers.${m![1]}.self_attn.${rest.slice(6)}` : `model.layers.${m![1]}.${rest}`;
    llama[name] = p;
  }
  llama['model.layers.0.self_attn.rotary_emb.inv_freq'] = randn([4]);
  const mapped = renameTensors(llama, LLAMA_TO_ENGRAM, { dropUnmatched: true });
  const viaLlama = new nn.Model(HYBRID, { weights: mapped });
  const z = await viaLlama.forward([toks(6)]);
  t.deepEqual([...z.toFloat32()], [...x.toFloat32()]);
  llama['model.layers.0.self_attn.rotary_emb.inv_freq'].dispose();
  // fla Gated DeltaNet names map onto the gdn mixer's parameter names.
  const fla = ['model.embeddings.weight', 'model.layers.3.attn_norm.weight', 'model.layers.3.attn.b_proj.weight',
    'model.layers.3.attn.k_conv1d.weight', 'model.layers.3.attn.A_log', 'model.layers.3.attn.o_norm.weight',
    'model.layers.3.mlp.down_proj.weight', 'lm_head.weight'];
  const named = renameTensors(Object.fromEntries(fla.map((n) => [n, x])), FLA_GDN_TO_ENGRAM);
  t.deepEqual(Object.keys(named), ['embed.weight', 'layers.3.mixer_norm.weight', 'layers.3.mixer.b_proj.weight',
    'layers.3.mixer.k_conv1d.weight', 'layers.3.mixer.A_log', 'layers.3.mixer.o_norm.weight', 'layers.3.mlp.down_proj.weight',
    'head.weight']);
  for (const v of [x, y, z]) v.dispose();
  for (const m of [model, back, viaLlama]) m.dispose();
});

test('conv weights load from PyTorch [C, 1, K] as well as [C, K]', async (t) => {
  const cfg: nn.ModelConfig = { vocab: 11, dim: 8, mlpHidden: 0, layers: [{ mixer: 'conv', kernel: 3 }] };
  const a = new nn.Model(cfg, { seed: 9 });
  const w = Object.fromEntries(a.namedParameters()) as Record<string, Tensor>;
  const torchShaped = { ...w, 'layers.0.mixer.conv1d.weight': w['layers.0.mixer.conv1d.weight'].reshape([8, 1, 3]) };
  const b = new nn.Model(cfg, { weights: torchShaped });
  const x = await a.forward([[1, 2, 3, 4]]), y = await b.forward([[1, 2, 3, 4]]);
  t.deepEqual([...y.toFloat32()], [...x.toFloat32()]);
  for (const v of [x, y, torchShaped['layers.0.mixer.conv1d.weight']]) v.dispose();
  a.dispose();
  b.dispose();
});

test('bad configurations are EngramErrors naming the layer', (t) => {
  t.throws(() => new nn.Model({ ...HYBRID, layers: [{ mixer: 'titanz' }] }), { message: /layer 0: unknown mixer 'titanz' \(registered: .*attention/ });
  t.throws(() => new nn.Model({ ...HYBRID, layers: [{ mixer: 'attention', heads: 3, kvHeads: 2, headDim: 8 }] }),
    { message: /layer 0: heads \(3\) must be a multiple of kvHeads/ });
  t.throws(() => new nn.Model({ ...HYBRID, layers: [{ mixer: 'swa', heads: 4 }] }), { message: /layer 0 \(swa\): 'window'/ });
  t.true(nn.mixerKinds().includes('attention') && nn.mixerKinds().includes('swa') && nn.mixerKinds().includes('conv'));
});

test('a registered mixer kind plugs in (functional state contract)', async (t) => {
  // A toy mixer: a running sum over time (state [B, dim]); forward uses cumsum.
  class CumMixer extends nn.Module implements nn.Mixer {
    readonly kind = 'cum';
    readonly proj: nn.Linear;
    constructor(a: nn.MixerArgs) {
      super(a.prefix);
      this.proj = new nn.Linear(`${a.prefix}.proj`, a.init, a.dim, a.dim);
    }
    override namedParameters() {
      return this.proj.namedParameters();
    }
    stateSpec(batch: number) {
      return { tensors: { sum: { shape: [batch, 1, this.proj.inFeatures] } } };
    }
    build(ctx: nn.MixerContext, x: import('engram').graph.Value) {
      const g = ctx.g;
      const h = this.proj.build(g, x);
      const c = g.op1('cumsum', [h], { axis: 1 });
      if (ctx.mode === 'forward') return c;
      const y = g.add(c, ctx.state.read('sum'));
      ctx.state.write('sum', g.slice(y, 1, ctx.seqLen - 1, ctx.seqLen));
      return y;
    }
  }
  nn.registerMixer('test-cum', (a) => new CumMixer(a));
  await prefillStepsVsForward(t, { ...HYBRID, layers: [{ mixer: 'test-cum' }, HYBRID.layers[1]] }, 10, 4);
});

test.serial('no tensors or bytes leak through a model lifecycle', async (t) => {
  const m0 = memory();
  const model = new nn.Model(THREE, { seed: 7 });
  (await model.forward([toks(8)])).dispose();
  (await model.prefill([toks(5)])).dispose();
  (await model.step(2)).dispose();
  const s = model.state.fork();
  for (const x of Object.values(s.save())) x.dispose();
  s.dispose();
  model.dispose();
  const m1 = memory();
  t.is(m1.tensors, m0.tensors);
  t.is(m1.cpu.bytes, m0.cpu.bytes);
});

test('trellis mixer: prefill + steps equal the forward (chunks crossing the split; per-slot forget, momentum)', async (t) => {
  await prefillStepsVsForward(t, { ...HYBRID, layers: [{ mixer: 'trellis', heads: 4, slots: 8, chunkSize: 4 }, HYBRID.layers[1]] }, 14, 6);
  await prefillStepsVsForward(t, {
    vocab: 61, dim: 32, mlpHidden: 0,
    layers: [{ mixer: 'trellis', heads: 2, slots: 5, chunkSize: 3, forget: 'slot', momentum: true, phi: 'layerNorm', f: 'softmax', scale: 2 }],
  }, 11, 4, 2);
  const m = new nn.Model({ vocab: 61, dim: 32, layers: [{ mixer: 'trellis', heads: 4, slots: 8 }] }, { seed: 1 });
  t.deepEqual([...m.namedParameters().keys()].filter((n) => n.startsWith('layers.0.mixer.')).sort(),
    ['a_proj', 'b_proj', 'g_proj', 'k_proj', 'o_proj', 'q_proj', 'v_proj'].map((n) => `layers.0.mixer.${n}.weight`));
  m.dispose();
  t.throws(() => new nn.Model({ ...HYBRID, layers: [{ mixer: 'trellis', heads: 4, forget: 'both' }] }), { message: /layer 0 \(trellis\): forget/ });
});

test('tnt mixer (global + two locals, Q-K projection): prefill + step equals the full forward', async (t) => {
  await prefillStepsVsForward(t, {
    vocab: 61, dim: 32, mlpHidden: 48,
    layers: [{ mixer: 'tnt', heads: 2, global: { chunkSize: 8 }, locals: [{ chunkSize: 4, shardLength: 8 }, { chunkSize: 1, shardLength: 12 }] },
      { mixer: 'tnt', heads: 4, global: null, locals: [{ chunkSize: 2, shardLength: 6, memory: { kind: 'mlp', hidden: 16 } }] }],
  }, 20, 7, 2);
});
