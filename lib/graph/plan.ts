/**
 * Plan: a compiled graph (native/core/plan.cpp). run() executes every node in
 * one native call on the libuv pool and resolves with the outputs by name;
 * runSync() does the same on the calling thread. Intermediates live in one
 * arena planned from their lifetimes (stats.plannedBytes vs stats.naiveBytes);
 * outputs are fresh tensors the caller owns.
 */
import { native, type Attrs, type NativePlan, type NativePlanDesc, type NativePlanStats, type NativeState } from '../binding.js';
import type { Device } from '../dtype.js';
import { check } from '../errors.js';
import { Tensor, fromHandle } from '../tensor.js';
import type { Graph } from './graph.js';

const disposeSymbol: typeof Symbol.dispose = (Symbol as { dispose?: typeof Symbol.dispose }).dispose ??
  (Symbol.for('Symbol.dispose') as typeof Symbol.dispose);

/**
 * A stateful object a graph node can be bound to (graph.op(..., { bind })).
 * Implemented by attention caches (lib/nn/cache.ts); other memory kinds
 * implement it the same way (docs/graphs.md).
 */
export interface BindableState {
  /** @internal The native StateKernel the plan calls for bound nodes. */
  readonly nativeState: NativeState;
  /** The eager twin of a bound node, for Graph.runEager (same semantics). */
  runBoundEager(op: string, inputs: readonly Tensor[], attrs: Attrs): Tensor;
}

export interface CompileOptions {
  /** Device the plan runs on; parameters are copied there. Default 'cpu'. */
  device?: Device;
  /** Share intermediate buffers whose lifetimes do not overlap. Default true (false: the naive plan). */
  reuseBuffers?: boolean;
  /** Keep the arena between runs (faster); dispose() frees it. Default true. */
  keepArena?: boolean;
}

export type PlanStats = NativePlanStats;
export type PlanInputs = Record<string, Tensor> | readonly Tensor[];
export type PlanStates = Record<string, BindableState> | readonly BindableState[];

export class Plan {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Names of the state slots run() needs (graph nodes bound with { bind }). */
  readonly bindingNames: readonly string[];
  readonly device: Device;
  private handle: NativePlan | null;
  private readonly descIds: Map<number, number>;

  /** @internal Use graph.compile(). */
  constructor(graph: Graph, opts: CompileOptions) {
    this.device = opts.device ?? 'cpu';
    // Native value ids: inputs, then params, then each node's outputs in order.
    const ids = new Map<number, number>();
    for (const i of graph.inputs) ids.set(i.value.id, ids.size);
    for (const p of graph.params) ids.set(p.value.id, ids.size);
    for (const n of graph.nodes) for (const o of n.outputs) ids.set(o, ids.size);
    this.descIds = ids;
    const desc: NativePlanDesc = {
      device: this.device,
      inputs: graph.inputs.map((i) => ({ name: i.name, shape: [...i.value.shape], dtype: i.value.dtype })),
      params: graph.params.map((p) => ({ name: p.name, tensor: p.tensor.handle })),
      nodes: graph.nodes.map((n) => ({
        name: n.name,
        op: n.op,
        attrs: n.attrs,
        inputs: n.inputs.map((i) => (i < 0 ? -1 : ids.get(i)!)),
        bind: n.bind === undefined ? undefined : graph.bindings.indexOf(n.bind),
      })),
      outputs: graph.outputs.map((o) => ids.get(o.value.id)!),
      bindings: graph.bindings.length,
      reuseBuffers: opts.reuseBuffers,
      keepArena: opts.keepArena,
    };
    this.handle = new native.PlanHandle(desc);
    this.inputNames = Object.freeze(graph.inputs.map((i) => i.name));
    this.outputNames = Object.freeze(graph.outputs.map((o) => o.name));
    this.bindingNames = Object.freeze([...graph.bindings]);
  }

  private live(): NativePlan {
    check(this.handle, 'E_DISPOSED', 'plan: disposed');
    return this.handle;
  }

  /** Memory plan and node counts: plannedBytes (the shared arena) vs naiveBytes (one buffer each). */
  get stats(): PlanStats {
    return this.live().stats();
  }

  /** Arena offset of a graph value (a planned intermediate), or -1. For tests and debugging. */
  offsetOf(valueId: number): number {
    const d = this.descIds.get(valueId);
    return d === undefined ? -1 : this.live().valueOffsets()[d];
  }

  private args(inputs: PlanInputs, states?: PlanStates) {
    let list: readonly Tensor[];
    if (Array.isArray(inputs)) list = inputs;
    else {
      const rec = inputs as Record<string, Tensor>;
      for (const k of Object.keys(rec))
        check(this.inputNames.includes(k), 'E_ARG', `plan.run: unknown input '${k}' (inputs: ${this.inputNames.join(', ')})`);
      list = this.inputNames.map((n) => {
        check(rec[n] !== undefined, 'E_ARG', `plan.run: input '${n}' is missing`);
        return rec[n];
      });
    }
    list.forEach((t, i) =>
      check(t instanceof Tensor, 'E_ARG', `plan.run: input '${this.inputNames[i] ?? i}' must be a Tensor`));
    let st: readonly BindableState[] = [];
    if (states) {
      if (Array.isArray(states)) st = states;
      else {
        const rec = states as Record<string, BindableState>;
        st = this.bindingNames.map((n) => {
          check(rec[n] !== undefined, 'E_ARG', `plan.run: state '${n}' is missing`);
          return rec[n];
        });
      }
    }
    check(st.length === this.bindingNames.length, 'E_ARG',
      `plan.run: expected ${this.bindingNames.length} states (${this.bindingNames.join(', ')}), got ${st.length}`);
    return { handles: list.map((t) => t.handle), natives: st.map((s) => s.nativeState) };
  }

  private named(handles: ReturnType<NativePlan['runSync']>): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    handles.forEach((h, i) => (out[this.outputNames[i]] = fromHandle(h)));
    return out;
  }

  /** Runs every node off the JS thread; resolves with the outputs by name (the caller disposes them). */
  async run(inputs: PlanInputs, states?: PlanStates): Promise<Record<string, Tensor>> {
    const h = this.live();
    const a = this.args(inputs, states);
    return this.named(await h.run(a.handles, a.natives));
  }

  /** run() on the calling thread. */
  runSync(inputs: PlanInputs, states?: PlanStates): Record<string, Tensor> {
    const h = this.live();
    const a = this.args(inputs, states);
    return this.named(h.runSync(a.handles, a.natives));
  }

  /** Frees the arena now (the next run allocates it again). */
  releaseBuffers(): void {
    this.live().releaseBuffers();
  }

  get isDisposed(): boolean {
    return this.handle === null;
  }

  /** Frees the plan (its arena and its references to parameters); a run in flight finishes first. */
  dispose(): void {
    this.handle?.dispose();
    this.handle = null;
  }
  [disposeSymbol](): void {
    this.dispose();
  }
}
