/**
 * ModelState: everything a Model carries between prefill/step calls — per
 * layer the fixed-shape state tensors and the bound states (KV caches), plus
 * the position. save() flattens it to named tensors (write them with
 * saveSafetensors), load() restores them bit-exactly, fork() copies it for an
 * independent continuation.
 *
 * Saved names: "position" (i32 [1]), "layers.<i>.<name>" for state tensors,
 * "layers.<i>.<name>.<key>" for the tensors of a bound state's save().
 */
import type { Device } from '../dtype.js';
import { check } from '../errors.js';
import * as ops from '../ops/index.js';
import { Tensor, tensor, zeros } from '../tensor.js';
import type { LayerState } from './cache.js';
import type { MixerStateSpec } from './mixers.js';

export interface LayerSlots {
  tensors: Map<string, Tensor>;
  bound: Map<string, LayerState>;
}

export class ModelState {
  /** Tokens consumed so far (the position of the next token). */
  position = 0;
  /** @internal */
  readonly layers: LayerSlots[];
  private disposed = false;

  /** @internal Use model.createState(). */
  constructor(readonly batch: number, readonly device: Device, specs: MixerStateSpec[], layers?: LayerSlots[]) {
    this.layers = layers ?? specs.map((s) => {
      const tensors = new Map<string, Tensor>();
      for (const [k, t] of Object.entries(s.tensors ?? {}))
        tensors.set(k, t.init ? t.init() : zeros(t.shape, { dtype: t.dtype ?? 'f32', device }));
      const bound = new Map<string, LayerState>();
      for (const [k, f] of Object.entries(s.bound ?? {})) bound.set(k, f({ batch, device }));
      return { tensors, bound };
    });
  }

  private live(): void {
    check(!this.disposed, 'E_DISPOSED', 'model state: disposed');
  }

  /** Bytes held by all layers' states. */
  bytes(): number {
    this.live();
    let n = 0;
    for (const l of this.layers) {
      for (const t of l.tensors.values()) n += t.nbytes;
      for (const b of l.bound.values()) n += b.bytes();
    }
    return n;
  }

  /** An independent copy. */
  fork(): ModelState {
    this.live();
    const layers = this.layers.map((l) => ({
      tensors: new Map([...l.tensors].map(([k, t]) => [k, ops.copy(t)] as [string, Tensor])),
      bound: new Map([...l.bound].map(([k, b]) => [k, b.fork()] as [string, LayerState])),
    }));
    const s = new ModelState(this.batch, this.device, [], layers);
    s.position = this.position;
    return s;
  }

  /** The state as named tensors (the caller owns them). */
  save(): Record<string, Tensor> {
    this.live();
    const out: Record<string, Tensor> = { position: tensor(new Int32Array([this.position]), [1]) };
    this.layers.forEach((l, i) => {
      for (const [k, t] of l.tensors) out[`layers.${i}.${k}`] = ops.copy(t);
      for (const [k, b] of l.bound) for (const [kk, t] of Object.entries(b.save())) out[`layers.${i}.${k}.${kk}`] = t;
    });
    return out;
  }

  /** Restores a save() (tensors are copied; every expected name must be present). */
  load(saved: Record<string, Tensor>): void {
    this.live();
    check(saved.position instanceof Tensor, 'E_ARG', "state load: 'position' is missing");
    const seen = new Set<string>(['position']);
    this.layers.forEach((l, i) => {
      for (const [k, t] of l.tensors) {
        const name = `layers.${i}.${k}`;
        const s = saved[name];
        check(s instanceof Tensor, 'E_ARG', `state load: '${name}' is missing`);
        check(s.shape.length === t.shape.length && s.shape.every((d, j) => d === t.shape[j]) && s.dtype === t.dtype,
          'E_SHAPE', `state load: '${name}' is ${s.dtype}[${s.shape.join(', ')}], expected ${t.dtype}[${t.shape.join(', ')}]`);
        l.tensors.set(k, s.device === this.device ? ops.copy(s) : s.to(this.device));
        t.dispose();
        seen.add(name);
      }
      for (const [k, b] of l.bound) {
        const pre = `layers.${i}.${k}.`;
        const part: Record<string, Tensor> = {};
        for (const [n, t] of Object.entries(saved)) if (n.startsWith(pre)) {
          part[n.slice(pre.length)] = t;
          seen.add(n);
        }
        b.load(part);
      }
    });
    const extra = Object.keys(saved).filter((n) => !seen.has(n));
    check(extra.length === 0, 'E_ARG', `state load: unexpected tensors ${extra.join(', ')}`);
    this.position = saved.position.toArray()[0] as number;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const l of this.layers) {
      for (const t of l.tensors.values()) t.dispose();
      for (const b of l.bound.values()) b.dispose();
    }
  }
}
