/**
 * engram.graph: describe a computation once, validate it while building, and
 * compile it into a native plan that runs every node in one call off the JS
 * thread with planned (shared) intermediate buffers.
 *
 *   const g = new Graph();
 *   const x = g.input('x', [B, T, D]);
 *   const w = g.param('proj.weight', weight);           // a Tensor, [N, D]
 *   g.output('y', g.silu(g.matmul(x, w, { transB: true }), { name: 'act' }));
 *   const plan = g.compile();                            // device 'cpu' by default
 *   const { y } = await plan.run({ x: xs });
 *
 * Every node is checked when it is added, by the native op's own infer step
 * (native.inferNode), so a wrong shape or dtype throws an EngramError whose
 * message names the node: "graph node 'block0.mlp.up_proj' (matmul): ...".
 * Node names nest with scope(): g.scope('block0', () => ...).
 *
 * Nodes may be bound to a state slot ({ bind: 'layers.0.kv' }): they are
 * validated like their op but executed by the state object passed to run()
 * under that name (a KV cache appends the new keys/values and attends over
 * everything it holds). See docs/graphs.md.
 */
import { native, type Attrs, type NativeSpec } from '../binding.js';
import type { DType, Device } from '../dtype.js';
import { EngramError, check } from '../errors.js';
import { Tensor } from '../tensor.js';
import { runEager } from './eager.js';
import { Plan, type CompileOptions, type PlanInputs, type PlanStates } from './plan.js';

/** A symbolic tensor of a graph: shape and dtype are known at build time. */
export class Value {
  /** @internal */
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly shape: readonly number[],
    readonly dtype: DType,
    /** The node (or input/parameter) that produced it. */
    readonly source: string,
  ) {}
  get ndim(): number {
    return this.shape.length;
  }
  toString(): string {
    return `Value(${this.source}: ${this.dtype}[${this.shape.join(', ')}])`;
  }
}

export interface NodeOptions {
  /** Node name (prefixed by the current scope); default `<op>_<n>`. */
  name?: string;
  /** Run this node through the state bound under this name at run time. */
  bind?: string;
}

/** @internal A node as handed to the compiler. */
export interface GraphNode {
  name: string;
  op: string;
  attrs: Attrs;
  inputs: number[];
  outputs: number[];
  bind?: string;
}

type Input = Value | null | undefined;

function specOf(v: Value): NativeSpec {
  return { shape: [...v.shape], dtype: v.dtype };
}

export class Graph {
  /** @internal */ readonly inputs: { name: string; value: Value }[] = [];
  /** @internal */ readonly params: { name: string; tensor: Tensor; value: Value }[] = [];
  /** @internal */ readonly nodes: GraphNode[] = [];
  /** @internal */ readonly outputs: { name: string; value: Value }[] = [];
  /** @internal */ readonly bindings: string[] = [];
  private readonly values: Value[] = [];
  private readonly used = new Set<string>();
  private readonly prefix: string[] = [];
  private readonly paramByTensor = new Map<Tensor, Value>();
  private counter = 0;

  constructor(readonly name = 'graph') {}

  private full(name: string): string {
    return [...this.prefix, name].join('.');
  }

  private unique(name: string): string {
    let n = name;
    for (let i = 2; this.used.has(n); i++) n = `${name}_${i}`;
    this.used.add(n);
    return n;
  }

  private newValue(spec: NativeSpec, source: string): Value {
    const v = new Value(this, this.values.length, Object.freeze([...spec.shape]), spec.dtype, source);
    this.values.push(v);
    return v;
  }

  private own(v: Value, what: string): Value {
    check(v instanceof Value, 'E_ARG', `${what} must be a graph Value, got ${String(v)}`);
    check(v.graph === this, 'E_ARG', `${what} (${v.source}) belongs to another graph`);
    return v;
  }

  /** Runs `fn` with node names prefixed by `name.` (nests). */
  scope<T>(name: string, fn: () => T): T {
    this.prefix.push(name);
    try {
      return fn();
    } finally {
      this.prefix.pop();
    }
  }

  /** A run-time input of fixed shape and dtype. */
  input(name: string, shape: readonly number[], dtype: DType = 'f32'): Value {
    check(!this.inputs.some((i) => i.name === name), 'E_ARG', `graph input '${name}' is declared twice`);
    for (const d of shape) check(Number.isInteger(d) && d >= 0, 'E_SHAPE', `graph input '${name}': bad shape [${shape.join(', ')}]`);
    const v = this.newValue({ shape: [...shape], dtype }, `input '${name}'`);
    this.inputs.push({ name, value: v });
    return v;
  }

  /** A constant (a parameter): compiled into the plan by reference. The same tensor twice gives the same value. */
  param(name: string, t: Tensor): Value {
    check(t instanceof Tensor, 'E_ARG', `graph param '${name}' must be a Tensor`);
    check(!t.isDisposed, 'E_DISPOSED', `graph param '${name}' was disposed`);
    const seen = this.paramByTensor.get(t);
    if (seen) return seen;
    const full = this.full(name);
    check(!this.params.some((p) => p.name === full), 'E_ARG', `graph param '${full}' is declared twice`);
    const v = this.newValue({ shape: [...t.shape], dtype: t.dtype }, `param '${full}'`);
    this.params.push({ name: full, tensor: t, value: v });
    this.paramByTensor.set(t, v);
    return v;
  }

  /** Adds a node of any op (or view.*) and returns its outputs; validated now. */
  op(op: string, inputs: readonly Input[], attrs: Attrs = {}, opts: NodeOptions = {}): Value[] {
    const name = this.unique(this.full(opts.name ?? `${op.replace(/^view\./, '')}_${this.counter++}`));
    const ins = inputs.map((v, i) => (v == null ? null : this.own(v, `graph node '${name}' (${op}): input ${i}`)));
    const clean: Attrs = {};
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) clean[k] = v;
    let specs: NativeSpec[];
    try {
      specs = native.inferNode(op, ins.map((v) => (v ? specOf(v) : null)), clean);
    } catch (e) {
      if (e instanceof EngramError) throw new EngramError(`graph node '${name}' (${op}): ${e.message}`, e.code);
      throw e;
    }
    if (opts.bind !== undefined) {
      check(!op.startsWith('view.'), 'E_ARG', `graph node '${name}': a view cannot be bound to a state`);
      if (!this.bindings.includes(opts.bind)) this.bindings.push(opts.bind);
    }
    const outs = specs.map((s) => this.newValue(s, `node '${name}'`));
    this.nodes.push({
      name,
      op,
      attrs: clean,
      inputs: ins.map((v) => (v ? v.id : -1)),
      outputs: outs.map((v) => v.id),
      bind: opts.bind,
    });
    return outs;
  }

  /** op() for single-output ops. */
  op1(op: string, inputs: readonly Input[], attrs: Attrs = {}, opts: NodeOptions = {}): Value {
    return this.op(op, inputs, attrs, opts)[0];
  }

  /** Marks `v` as an output named `name` (plan.run returns it under that name). */
  output(name: string, v: Value): void {
    this.own(v, `graph output '${name}'`);
    check(!this.outputs.some((o) => o.name === name), 'E_ARG', `graph output '${name}' is declared twice`);
    this.outputs.push({ name, value: v });
  }

  /** Runs the graph node by node with eager ops (the reference a plan reproduces). */
  runEager(inputs: PlanInputs, states?: PlanStates): Record<string, Tensor> {
    check(this.outputs.length > 0, 'E_ARG', `graph '${this.name}': no outputs (call output())`);
    return runEager(this, inputs, states);
  }

  /** Compiles the graph into a native plan (validation, liveness, buffer planning). */
  compile(opts: CompileOptions = {}): Plan {
    check(this.outputs.length > 0, 'E_ARG', `graph '${this.name}': no outputs (call output())`);
    return new Plan(this, opts);
  }

  /** @internal */
  value(id: number): Value {
    return this.values[id];
  }
  /** @internal */
  get valueCount(): number {
    return this.values.length;
  }

  // ---- typed helpers (all go through op()) ----
  matmul(a: Value, b: Value, o: { transA?: boolean; transB?: boolean; alpha?: number } & NodeOptions = {}): Value {
    return this.op1('matmul', [a, b], { transA: o.transA, transB: o.transB, alpha: o.alpha }, o);
  }
  add(a: Value, b: Value, o: NodeOptions = {}): Value {
    return this.op1('add', [a, b], {}, o);
  }
  sub(a: Value, b: Value, o: NodeOptions = {}): Value {
    return this.op1('sub', [a, b], {}, o);
  }
  mul(a: Value, b: Value, o: NodeOptions = {}): Value {
    return this.op1('mul', [a, b], {}, o);
  }
  div(a: Value, b: Value, o: NodeOptions = {}): Value {
    return this.op1('div', [a, b], {}, o);
  }
  scale(x: Value, alpha: number, beta = 0, o: NodeOptions = {}): Value {
    return this.op1('scale', [x], { alpha, beta }, o);
  }
  unary(op: 'neg' | 'abs' | 'sqrt' | 'exp' | 'log' | 'sigmoid' | 'silu' | 'gelu' | 'tanh' | 'relu' | 'softplus',
    x: Value, o: NodeOptions = {}): Value {
    return this.op1(op, [x], {}, o);
  }
  silu(x: Value, o: NodeOptions = {}): Value {
    return this.op1('silu', [x], {}, o);
  }
  softmax(x: Value, o: { axis?: number } & NodeOptions = {}): Value {
    return this.op1('softmax', [x], { axis: o.axis }, o);
  }
  rmsNorm(x: Value, weight: Value | null, o: { eps?: number } & NodeOptions = {}): Value {
    return this.op1('rmsNorm', weight ? [x, weight] : [x], { eps: o.eps }, o);
  }
  layerNorm(x: Value, weight: Value | null, bias: Value | null, o: { eps?: number } & NodeOptions = {}): Value {
    return this.op1('layerNorm', [x, weight, bias], { eps: o.eps }, o);
  }
  gather(table: Value, index: Value, o: NodeOptions = {}): Value {
    return this.op1('gather', [table, index], {}, o);
  }
  cast(x: Value, to: DType, o: NodeOptions = {}): Value {
    return this.op1('cast', [x], { to }, o);
  }
  concat(xs: readonly Value[], o: { axis?: number } & NodeOptions = {}): Value {
    return this.op1('concat', xs, { axis: o.axis }, o);
  }
  sdpa(q: Value, k: Value, v: Value, o: { causal?: boolean; scale?: number } & NodeOptions = {}): Value {
    return this.op1('sdpa', [q, k, v], { causal: o.causal, scale: o.scale }, o);
  }
  sdpaWindow(q: Value, k: Value, v: Value, o: { window: number; scale?: number } & NodeOptions): Value {
    return this.op1('sdpaWindow', [q, k, v], { window: o.window, scale: o.scale }, o);
  }
  rope(x: Value, positions: Value, o: { theta?: number; dims?: number } & NodeOptions = {}): Value {
    return this.op1('rope', [x, positions], { theta: o.theta, dims: o.dims }, o);
  }
  causalConv1d(x: Value, weight: Value, o: { bias?: Value | null; state?: Value | null; activation?: 'none' | 'silu' } & NodeOptions = {}): Value {
    return this.op1('causalConv1d', [x, weight, o.bias ?? null, o.state ?? null], { activation: o.activation }, o);
  }
  /** A contiguous copy (the `copy` op). */
  contiguous(x: Value, o: NodeOptions = {}): Value {
    return this.op1('copy', [x], {}, o);
  }

  // ---- views (free at run time) ----
  reshape(x: Value, shape: readonly number[], o: NodeOptions = {}): Value {
    return this.op1('view.reshape', [x], { shape: [...shape] }, o);
  }
  permute(x: Value, perm: readonly number[], o: NodeOptions = {}): Value {
    return this.op1('view.permute', [x], { perm: [...perm] }, o);
  }
  transpose(x: Value, dim0 = -2, dim1 = -1, o: NodeOptions = {}): Value {
    return this.op1('view.transpose', [x], { dim0, dim1 }, o);
  }
  slice(x: Value, dim: number, start: number, end: number, o: NodeOptions = {}): Value {
    return this.op1('view.slice', [x], { dim, start, end }, o);
  }
  select(x: Value, dim: number, index: number, o: NodeOptions = {}): Value {
    return this.op1('view.select', [x], { dim, index }, o);
  }
  unsqueeze(x: Value, dim: number, o: NodeOptions = {}): Value {
    return this.op1('view.unsqueeze', [x], { dim }, o);
  }
}

export type { CompileOptions, Device };
