/**
 * Module: the base of engram.nn. A module owns named parameter tensors and
 * child modules; full names join with dots ("layers.0.mixer.q_proj.weight",
 * docs/weights.md). Modules do not compute by themselves: they add their
 * nodes to a Graph (build methods), which is compiled into a plan.
 *
 * Parameters come from an Init: either supplied tensors (loaded weights,
 * shape-checked) or a deterministic random initialisation seeded per name,
 * so the same config and seed give the same model on every machine.
 */
import type { Device } from '../dtype.js';
import { check } from '../errors.js';
import * as ops from '../ops/index.js';
import { Tensor, keep, rand, randn, tensor } from '../tensor.js';

/** FNV-1a of a string (stable per-parameter seeds). */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** normal: N(0, σ²); uniform: U[lo, hi); constant: every element the value. */
export type InitKind = { normal: number } | { uniform: [number, number] } | { constant: number } | 'ones' | 'zeros';

/** Where parameters come from: given tensors first, else seeded random values. */
export class Init {
  private readonly given: Map<string, Tensor>;
  readonly used = new Set<string>();
  /** Parameters are created on (or moved to) `device`, so plans there share them instead of copying. */
  constructor(readonly seed = 0, weights?: Record<string, Tensor> | Map<string, Tensor>, readonly device: Device = 'cpu') {
    this.given = weights instanceof Map ? weights : new Map(Object.entries(weights ?? {}));
  }

  /**
   * The tensor for parameter `name` of `shape` (f32). A supplied tensor may
   * also have one of the `alternatives` shapes (same size, e.g. PyTorch's
   * [C, 1, K] conv weights for [C, K]); it is reshaped.
   */
  tensor(name: string, shape: readonly number[], kind: InitKind, alternatives: readonly (readonly number[])[] = []): Tensor {
    let w = this.given.get(name);
    const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
    let reshaped: Tensor | null = null;
    if (w && !same(w.shape, shape) && alternatives.some((s) => same(w!.shape, s)) && w.isContiguous) w = reshaped = w.reshape(shape);
    if (w) {
      check(same(w.shape, shape), 'E_SHAPE',
        `weights: '${name}' has shape [${w.shape.join(', ')}] but the model needs [${shape.join(', ')}]`);
      check(w.dtype === 'f32' || w.dtype === 'f16' || w.dtype === 'bf16', 'E_DTYPE',
        `weights: '${name}' is ${w.dtype}; parameters must be f32, f16 or bf16`);
      this.used.add(name);
      // Loaded tensors are shared (an mmap'd f32 file is used in place); other float types become f32.
      const f = w.dtype === 'f32' ? w : w.cast('f32');
      const out = keep(f.to(this.device));
      if (f !== w) f.dispose();
      reshaped?.dispose();
      return out;
    }
    const n = shape.reduce((a, b) => a * b, 1);
    if (kind === 'ones' || kind === 'zeros')
      return keep(tensor(new Float32Array(n).fill(kind === 'ones' ? 1 : 0), [...shape], { device: this.device }));
    if ('constant' in kind) return keep(tensor(new Float32Array(n).fill(kind.constant), [...shape], { device: this.device }));
    const seed = (this.seed * 0x9e3779b1 + hash32(name)) % 2 ** 52;
    const r = 'uniform' in kind ? rand(shape, { seed, device: this.device }) : randn(shape, { seed, device: this.device });
    const s = 'uniform' in kind ? ops.scale(r, kind.uniform[1] - kind.uniform[0], kind.uniform[0]) : ops.scale(r, kind.normal);
    r.dispose();
    return keep(s);
  }

  /** Names of supplied weights no module asked for. */
  unused(): string[] {
    return [...this.given.keys()].filter((k) => !this.used.has(k));
  }
}

export abstract class Module {
  private readonly ownParams = new Map<string, Tensor>();
  private readonly kids = new Map<string, Module>();

  /** `prefix`: this module's full name ('' for a root). */
  constructor(readonly prefix: string) {}

  /** Full name of a local parameter or child. */
  protected full(local: string): string {
    return this.prefix ? `${this.prefix}.${local}` : local;
  }

  protected param(init: Init, local: string, shape: readonly number[], kind: InitKind,
    alternatives: readonly (readonly number[])[] = []): Tensor {
    check(!this.ownParams.has(local), 'E_ARG', `module ${this.prefix}: parameter '${local}' declared twice`);
    const t = init.tensor(this.full(local), shape, kind, alternatives);
    this.ownParams.set(local, t);
    return t;
  }

  protected child<M extends Module>(local: string, m: M): M {
    this.kids.set(local, m);
    return m;
  }

  /** Every parameter by full name (children included), in declaration order. */
  namedParameters(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [k, t] of this.ownParams) out.set(this.full(k), t);
    for (const m of this.kids.values()) for (const [k, t] of m.namedParameters()) out.set(k, t);
    return out;
  }

  parameterCount(): number {
    let n = 0;
    for (const t of this.namedParameters().values()) n += t.size;
    return n;
  }

  /** Frees the parameters (a compiled plan keeps its own reference until disposed). */
  dispose(): void {
    for (const t of this.ownParams.values()) t.dispose();
    for (const m of this.kids.values()) m.dispose();
  }
}
