/**
 * The basic layers of engram.nn, each adding its nodes to a Graph:
 * Linear, Embedding, RMSNorm, LayerNorm, MLP (SwiGLU) and Conv1d (short
 * causal depthwise convolution, with a carried state for streaming).
 * Parameter names follow PyTorch (weight [out, in], bias [out]; docs/weights.md).
 */
import { check } from '../errors.js';
import type { Graph, Value } from '../graph/index.js';
import { Init, Module } from './module.js';

export interface LinearOptions {
  bias?: boolean;
}

/** y = x Wᵀ + b with W [out, in] (PyTorch layout). */
export class Linear extends Module {
  readonly weight;
  readonly bias;
  constructor(prefix: string, init: Init, readonly inFeatures: number, readonly outFeatures: number, o: LinearOptions = {}) {
    super(prefix);
    this.weight = this.param(init, 'weight', [outFeatures, inFeatures], { normal: 1 / Math.sqrt(inFeatures) });
    this.bias = o.bias ? this.param(init, 'bias', [outFeatures], 'zeros') : null;
  }
  build(g: Graph, x: Value): Value {
    return g.scope(this.prefix, () => {
      const y = g.matmul(x, g.param('weight', this.weight), { transB: true, name: 'matmul' });
      return this.bias ? g.add(y, g.param('bias', this.bias), { name: 'bias' }) : y;
    });
  }
}

/** Rows of a table [vocab, dim] at i32 token ids. */
export class Embedding extends Module {
  readonly weight;
  constructor(prefix: string, init: Init, readonly vocab: number, readonly dim: number) {
    super(prefix);
    this.weight = this.param(init, 'weight', [vocab, dim], { normal: 1 });
  }
  build(g: Graph, tokens: Value): Value {
    check(tokens.dtype === 'i32', 'E_DTYPE', `${this.prefix}: token ids must be i32, got ${tokens.dtype}`);
    return g.scope(this.prefix, () => g.gather(g.param('weight', this.weight), tokens, { name: 'gather' }));
  }
}

export class RMSNorm extends Module {
  readonly weight;
  constructor(prefix: string, init: Init, readonly dim: number, readonly eps = 1e-6) {
    super(prefix);
    this.weight = this.param(init, 'weight', [dim], 'ones');
  }
  build(g: Graph, x: Value): Value {
    return g.scope(this.prefix, () => g.rmsNorm(x, g.param('weight', this.weight), { eps: this.eps, name: 'norm' }));
  }
}

export class LayerNorm extends Module {
  readonly weight;
  readonly bias;
  constructor(prefix: string, init: Init, readonly dim: number, readonly eps = 1e-5) {
    super(prefix);
    this.weight = this.param(init, 'weight', [dim], 'ones');
    this.bias = this.param(init, 'bias', [dim], 'zeros');
  }
  build(g: Graph, x: Value): Value {
    return g.scope(this.prefix, () =>
      g.layerNorm(x, g.param('weight', this.weight), g.param('bias', this.bias), { eps: this.eps, name: 'norm' }));
  }
}

/** SwiGLU feed-forward: down(silu(gate(x)) · up(x)). */
export class MLP extends Module {
  readonly gate;
  readonly up;
  readonly down;
  constructor(prefix: string, init: Init, readonly dim: number, readonly hidden: number) {
    super(prefix);
    this.gate = this.child('gate_proj', new Linear(this.full('gate_proj'), init, dim, hidden));
    this.up = this.child('up_proj', new Linear(this.full('up_proj'), init, dim, hidden));
    this.down = this.child('down_proj', new Linear(this.full('down_proj'), init, hidden, dim));
  }
  build(g: Graph, x: Value): Value {
    const a = g.scope(this.prefix, () => g.silu(this.gate.build(g, x), { name: 'act' }));
    const h = g.scope(this.prefix, () => g.mul(a, this.up.build(g, x), { name: 'glu' }));
    return this.down.build(g, h);
  }
}

export interface Conv1dOptions {
  bias?: boolean;
  activation?: 'none' | 'silu';
}

/**
 * Short causal depthwise convolution over time, x [B, T, C] with weight [C, K]
 * (PyTorch's [C, 1, K] squeezed). Streaming: the state is the last K-1 inputs
 * [B, K-1, C]; buildStateful returns the output and the next state.
 */
export class Conv1d extends Module {
  readonly weight;
  readonly bias;
  constructor(prefix: string, init: Init, readonly channels: number, readonly kernel: number, readonly o: Conv1dOptions = {}) {
    super(prefix);
    check(Number.isInteger(kernel) && kernel >= 1, 'E_ARG', `${prefix}: kernel size must be an integer >= 1, got ${kernel}`);
    this.weight = this.param(init, 'weight', [channels, kernel], { normal: 1 / Math.sqrt(kernel) }, [[channels, 1, kernel]]);
    this.bias = o.bias ? this.param(init, 'bias', [channels], 'zeros') : null;
  }
  /** State shape for a batch: [B, K-1, C]. */
  stateShape(batch: number): number[] {
    return [batch, this.kernel - 1, this.channels];
  }
  build(g: Graph, x: Value, state: Value | null = null): Value {
    return g.scope(this.prefix, () =>
      g.causalConv1d(x, g.param('weight', this.weight), {
        bias: this.bias ? g.param('bias', this.bias) : null,
        state,
        activation: this.o.activation,
        name: 'conv',
      }));
  }
  /** Output and next state (the last K-1 rows of [state; x]). */
  buildStateful(g: Graph, x: Value, state: Value): { y: Value; next: Value } {
    const y = this.build(g, x, state);
    const T = x.shape[1];
    const next = g.scope(this.prefix, () =>
      g.slice(g.concat([state, x], { axis: 1, name: 'history' }), 1, T, T + this.kernel - 1, { name: 'next_state' }));
    return { y, next };
  }
}
