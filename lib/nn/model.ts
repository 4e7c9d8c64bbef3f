/**
 * Block and Model: embedding → N blocks → norm → head, each block
 * x + mixer(norm(x)), then x + mlp(norm(x)), the mixer chosen per layer by
 * config (mixers.ts). A hybrid, e.g. attention alternating with sliding
 * window attention:
 *
 *   const model = new Model({ vocab: 256, dim: 64, mlpHidden: 128, layers: [
 *     { mixer: 'swa', heads: 4, window: 32 }, { mixer: 'attention', heads: 4, kvHeads: 2 } ] }, { seed: 1 });
 *   const logits = await model.forward([[1, 2, 3]]);        // [B, T, vocab]
 *   await model.prefill([[1, 2]]);  const next = await model.step([3]);   // [B, vocab]
 *
 * forward() runs a compiled plan per (batch, length); prefill()/step() run the
 * 'stateful' plan, carrying every layer's state in a ModelState (the model's
 * own, or one from createState()). Parameter names: docs/weights.md.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Device } from '../dtype.js';
import { EngramError, check } from '../errors.js';
import { Graph, type Plan, type Value } from '../graph/index.js';
import { Tensor, tensor } from '../tensor.js';
import { loadSafetensors, saveSafetensors, type LoadOptions } from '../weights/safetensors.js';
import type { LayerState } from './cache.js';
import { Embedding, LayerNorm, Linear, MLP, RMSNorm } from './layers.js';
import { createMixer, type LayerConfig, type Mixer, type MixerContext, type MixerStateSpec } from './mixers.js';
import { Init, Module } from './module.js';
import { ModelState } from './state.js';
import './builtin.js'; // registers the mixer kinds

export interface ModelConfig {
  vocab: number;
  dim: number;
  layers: LayerConfig[];
  /** SwiGLU hidden size; 0 = no MLP. Default 2·dim. */
  mlpHidden?: number;
  norm?: 'rms' | 'layer';
  normEps?: number;
  /** Share the embedding table with the output head. */
  tieEmbeddings?: boolean;
}

export interface ModelOptions {
  /** Seed of the random initialisation of parameters not in `weights`. */
  seed?: number;
  /** Parameters by name (docs/weights.md); f16/bf16 are converted to f32. */
  weights?: Record<string, Tensor> | Map<string, Tensor>;
  /** Every parameter must come from `weights` and every weight must be used. Default: true when weights are given. */
  strict?: boolean;
  /** Where parameters live and plans run. Default 'cpu'. */
  device?: Device;
  /** Compiled plans kept per model (least recently used dropped). Default 8. */
  maxPlans?: number;
}

type Norm = RMSNorm | LayerNorm;

const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};
type TokensLike = Tensor | readonly number[] | readonly (readonly number[])[] | Int32Array;

function makeNorm(prefix: string, init: Init, c: ModelConfig): Norm {
  return (c.norm ?? 'rms') === 'rms' ? new RMSNorm(prefix, init, c.dim, c.normEps ?? 1e-6) : new LayerNorm(prefix, init, c.dim, c.normEps ?? 1e-5);
}

export class Block extends Module {
  readonly mixerNorm: Norm;
  readonly mixer: Mixer;
  readonly mlpNorm: Norm | null;
  readonly mlp: MLP | null;
  constructor(prefix: string, init: Init, c: ModelConfig, readonly index: number) {
    super(prefix);
    this.mixerNorm = this.child('mixer_norm', makeNorm(this.full('mixer_norm'), init, c));
    this.mixer = this.child('mixer', createMixer({ dim: c.dim, layer: c.layers[index], prefix: this.full('mixer'), init, index }));
    const hidden = c.mlpHidden ?? 2 * c.dim;
    this.mlpNorm = hidden ? this.child('mlp_norm', makeNorm(this.full('mlp_norm'), init, c)) : null;
    this.mlp = hidden ? this.child('mlp', new MLP(this.full('mlp'), init, c.dim, hidden)) : null;
  }
  build(ctx: MixerContext, x: Value): Value {
    const g = ctx.g;
    const m = this.mixer.build(ctx, this.mixerNorm.build(g, x));
    let h = g.scope(this.prefix, () => g.add(x, m, { name: 'mixer_residual' }));
    if (this.mlp && this.mlpNorm) {
      const f = this.mlp.build(g, this.mlpNorm.build(g, h));
      h = g.scope(this.prefix, () => g.add(h, f, { name: 'mlp_residual' }));
    }
    return h;
  }
}

export class Model extends Module {
  readonly config: ModelConfig;
  readonly device: Device;
  readonly embed: Embedding;
  readonly blocks: Block[];
  readonly norm: Norm;
  readonly head: Linear | null;
  private readonly plans = new Map<string, Plan>();
  private readonly maxPlans: number;
  private defaultState: ModelState | null = null;
  private readonly busy = new WeakSet<ModelState>();

  constructor(config: ModelConfig, o: ModelOptions = {}) {
    super('');
    check(Number.isInteger(config.vocab) && config.vocab >= 1, 'E_ARG', `model: vocab must be an integer >= 1`);
    check(Number.isInteger(config.dim) && config.dim >= 1, 'E_ARG', `model: dim must be an integer >= 1`);
    check(Array.isArray(config.layers) && config.layers.length >= 1, 'E_ARG', 'model: layers must be a non-empty array');
    this.config = JSON.parse(JSON.stringify(config)) as ModelConfig;
    this.device = o.device ?? 'cpu';
    this.maxPlans = o.maxPlans ?? 8;
    const init = new Init(o.seed ?? 0, o.weights, this.device);
    this.embed = this.child('embed', new Embedding('embed', init, config.vocab, config.dim));
    this.blocks = config.layers.map((_, i) => this.child(`layers.${i}`, new Block(`layers.${i}`, init, config, i)));
    this.norm = this.child('norm', makeNorm('norm', init, config));
    this.head = config.tieEmbeddings ? null : this.child('head', new Linear('head', init, config.dim, config.vocab));
    if (o.weights && (o.strict ?? true)) {
      const params = [...this.namedParameters().keys()];
      const missing = params.filter((n) => !init.used.has(n));
      const extra = init.unused();
      if (missing.length || extra.length) {
        this.dispose();
        throw new EngramError(`model weights: ${missing.length ? `missing ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}` : ''}` +
          `${missing.length && extra.length ? '; ' : ''}${extra.length ? `unexpected ${extra.slice(0, 8).join(', ')}${extra.length > 8 ? ', ...' : ''}` : ''}`, 'E_ARG');
      }
    }
  }

  /** Layer state specs for a batch (fixed-shape tensors and bound states). */
  stateSpecs(batch: number): MixerStateSpec[] {
    return this.blocks.map((b) => b.mixer.stateSpec(batch));
  }

  /** A fresh, empty state for `batch` sequences. */
  createState(batch = 1): ModelState {
    return new ModelState(batch, this.device, this.stateSpecs(batch));
  }

  /** The state prefill()/step() use when none is passed (created on first use). */
  get state(): ModelState {
    this.defaultState ??= this.createState(1);
    return this.defaultState;
  }

  /** Drops the default state (the next prefill starts from an empty one). */
  resetState(): void {
    this.defaultState?.dispose();
    this.defaultState = null;
  }

  /** The graph of one call: 'forward' (stateless) or 'stateful', for batch × length tokens. */
  graph(mode: 'forward' | 'stateful', batch: number, length: number): Graph {
    const g = new Graph(`model.${mode}`);
    const tokens = g.input('tokens', [batch, length], 'i32');
    const positions = g.input('positions', [length], 'i32');
    const specs = this.stateSpecs(batch);
    let x = this.embed.build(g, tokens);
    this.blocks.forEach((b, i) => {
      const spec = specs[i];
      const inputs = new Map<string, Value>();
      const written = new Set<string>();
      const ctx: MixerContext = {
        g, mode, batch, seqLen: length, positions, device: this.device,
        state: {
          read: (name) => {
            const s = spec.tensors?.[name];
            check(mode === 'stateful' && s, 'E_INTERNAL', `layer ${i}: state tensor '${name}' is not declared or not in stateful mode`);
            if (!inputs.has(name)) inputs.set(name, g.input(`state.layers.${i}.${name}`, s.shape, s.dtype ?? 'f32'));
            return inputs.get(name)!;
          },
          write: (name, v) => {
            check(mode === 'stateful' && spec.tensors?.[name], 'E_INTERNAL', `layer ${i}: state tensor '${name}' is not declared`);
            g.output(`state.layers.${i}.${name}`, v);
            written.add(name);
          },
          bind: (name) => {
            check(mode === 'stateful' && spec.bound?.[name], 'E_INTERNAL', `layer ${i}: bound state '${name}' is not declared`);
            return `layers.${i}.${name}`;
          },
        },
      };
      x = b.build(ctx, x);
      if (mode === 'stateful')
        for (const name of Object.keys(spec.tensors ?? {}))
          check(written.has(name), 'E_INTERNAL', `layer ${i} (${b.mixer.kind}): the mixer did not write state '${name}'`);
    });
    x = this.norm.build(g, x);
    const logits = this.head
      ? this.head.build(g, x)
      : g.scope('head', () => g.matmul(x, g.param('weight', this.embed.weight), { transB: true, name: 'tied' }));
    g.output('logits', logits);
    return g;
  }

  /** The compiled plan for a call shape (cached). */
  plan(mode: 'forward' | 'stateful', batch: number, length: number): Plan {
    const key = `${mode}:${batch}:${length}`;
    let p = this.plans.get(key);
    if (p) {
      this.plans.delete(key);
      this.plans.set(key, p); // most recently used last
      return p;
    }
    p = this.graph(mode, batch, length).compile({ device: this.device });
    this.plans.set(key, p);
    while (this.plans.size > this.maxPlans) {
      const [k, old] = this.plans.entries().next().value as [string, Plan];
      this.plans.delete(k);
      old.dispose();
    }
    return p;
  }

  private tokens(t: TokensLike): Tensor {
    if (t instanceof Tensor) {
      check(t.dtype === 'i32' && t.ndim === 2, 'E_ARG', `model: tokens must be an i32 [B, T] tensor, got ${t.toString()}`);
      return t.to(this.device);
    }
    const rows: readonly (readonly number[])[] = t instanceof Int32Array ? [Array.from(t)]
      : (t as readonly unknown[]).length && Array.isArray((t as readonly unknown[])[0]) ? (t as readonly (readonly number[])[])
        : [t as readonly number[]];
    check(rows.length > 0 && rows[0].length > 0 && rows.every((r) => r.length === rows[0].length), 'E_ARG',
      'model: tokens must be a non-empty [B, T] array');
    for (const r of rows)
      for (const id of r)
        check(Number.isInteger(id) && id >= 0 && id < this.config.vocab, 'E_ARG', `model: token id ${id} is outside [0, ${this.config.vocab})`);
    return tensor(Int32Array.from(rows.flat()), [rows.length, rows[0].length], { device: this.device });
  }

  private positions(start: number, n: number): Tensor {
    return tensor(Int32Array.from({ length: n }, (_, i) => start + i), [n], { device: this.device });
  }

  /** Logits [B, T, vocab] of a whole sequence (no state). */
  async forward(tokens: TokensLike): Promise<Tensor> {
    const tok = this.tokens(tokens);
    const pos = this.positions(0, tok.shape[1]);
    try {
      return (await this.plan('forward', tok.shape[0], tok.shape[1]).run({ tokens: tok, positions: pos })).logits;
    } finally {
      tok.dispose();
      pos.dispose();
    }
  }

  /** Consumes tokens [B, T] into `state` (default: the model's own); resolves with logits [B, T, vocab]. */
  async prefill(tokens: TokensLike, state: ModelState = this.state): Promise<Tensor> {
    const tok = this.tokens(tokens);
    const [B, T] = tok.shape;
    check(B === state.batch, 'E_SHAPE', `model: ${B} sequences but the state holds ${state.batch}`);
    check(!this.busy.has(state), 'E_STATE', 'model: this state is already in use by another prefill/step');
    this.busy.add(state);
    const pos = this.positions(state.position, T);
    try {
      const inputs: Record<string, Tensor> = { tokens: tok, positions: pos };
      const states: Record<string, LayerState> = {};
      state.layers.forEach((l, i) => {
        for (const [k, t] of l.tensors) inputs[`state.layers.${i}.${k}`] = t;
        for (const [k, b] of l.bound) states[`layers.${i}.${k}`] = b;
      });
      const out = await this.plan('stateful', B, T).run(inputs, states);
      state.layers.forEach((l, i) => {
        for (const k of [...l.tensors.keys()]) {
          l.tensors.get(k)!.dispose();
          l.tensors.set(k, out[`state.layers.${i}.${k}`]);
        }
      });
      state.position += T;
      return out.logits;
    } finally {
      this.busy.delete(state);
      tok.dispose();
      pos.dispose();
    }
  }

  /** One token per sequence (ids [B], or a number for B = 1); resolves with logits [B, vocab]. */
  async step(token: number | readonly number[] | Int32Array, state: ModelState = this.state): Promise<Tensor> {
    const ids = typeof token === 'number' ? [token] : Array.from(token);
    const logits = await this.prefill(ids.map((t) => [t]), state);
    try {
      return logits.reshape([ids.length, this.config.vocab]);
    } finally {
      logits.dispose();
    }
  }

  /**
   * Writes the parameters as safetensors with the config in the metadata
   * ('engram.config'). When `path` is an existing directory, writes
   * `config.json` and `model.safetensors` in it (the Hugging Face layout).
   */
  async save(path: string): Promise<void> {
    const meta = { format: 'engram', 'engram.config': JSON.stringify(this.config) };
    if (isDir(path)) {
      writeFileSync(join(path, 'config.json'), JSON.stringify(this.config, null, 2) + '\n');
      await saveSafetensors(join(path, 'model.safetensors'), this.namedParameters(), meta);
    } else {
      await saveSafetensors(path, this.namedParameters(), meta);
    }
  }

  /**
   * A model from save()'s output: a safetensors file (config from its metadata,
   * or `config`), or a directory with config.json and model.safetensors.
   */
  static async load(path: string, o: ModelOptions & LoadOptions & { config?: ModelConfig } = {}): Promise<Model> {
    const dir = isDir(path);
    const file = dir ? join(path, 'model.safetensors') : path;
    const f = await loadSafetensors(file, { mmap: o.mmap });
    try {
      const cfgText = dir && existsSync(join(path, 'config.json')) ? readFileSync(join(path, 'config.json'), 'utf8') : f.metadata['engram.config'];
      let config = o.config;
      if (!config && cfgText) {
        try {
          config = JSON.parse(cfgText) as ModelConfig;
        } catch (e) {
          throw new EngramError(`${path}: the model config is not valid JSON (${(e as Error).message})`, 'E_FORMAT');
        }
      }
      check(config, 'E_FORMAT', `${path}: no 'engram.config' in the metadata; pass { config }`);
      return new Model(config, { ...o, weights: f.tensors });
    } finally {
      for (const t of Object.values(f.tensors)) t.dispose();
    }
  }

  /** Frees parameters, plans and the default state. */
  override dispose(): void {
    for (const p of this.plans.values()) p.dispose();
    this.plans.clear();
    this.resetState();
    super.dispose();
  }
}
