/**
 * The eager interpreter of a graph: every node as its own op call (views as
 * tensor views, bound nodes through BindableState.runBoundEager). It is the
 * reference a compiled plan must reproduce (test/graph.test.ts), and a
 * debugging aid: it returns every value when asked.
 */
import { native, type NativeTensor } from '../binding.js';
import { check } from '../errors.js';
import { Tensor, fromHandle } from '../tensor.js';
import type { Graph } from './graph.js';
import type { BindableState, PlanInputs, PlanStates } from './plan.js';

function view(t: NativeTensor, op: string, a: Record<string, unknown>): NativeTensor {
  const n = (k: string, d = 0) => (a[k] === undefined ? d : (a[k] as number));
  switch (op) {
    case 'view.reshape': return native.tensorView(t, 'reshape', a.shape as number[]);
    case 'view.permute': return native.tensorView(t, 'permute', a.perm as number[]);
    case 'view.transpose': return native.tensorView(t, 'transpose', n('dim0', -2), n('dim1', -1));
    case 'view.slice': return native.tensorView(t, 'slice', n('dim'), n('start'), n('end'));
    case 'view.select': return native.tensorView(t, 'select', n('dim'), n('index'));
    case 'view.unsqueeze': return native.tensorView(t, 'unsqueeze', n('dim'));
    default: throw new Error(`unknown view ${op}`);
  }
}

/** Runs `graph` node by node; returns the outputs by name (the caller disposes them). */
export function runEager(graph: Graph, inputs: PlanInputs, states?: PlanStates): Record<string, Tensor> {
  const vals = new Map<number, NativeTensor>();
  const owned: NativeTensor[] = [];
  const ins = Array.isArray(inputs) ? inputs : graph.inputs.map((i) => (inputs as Record<string, Tensor>)[i.name]);
  graph.inputs.forEach((i, k) => {
    check(ins[k] instanceof Tensor, 'E_ARG', `runEager: input '${i.name}' is missing`);
    vals.set(i.value.id, ins[k].handle);
  });
  for (const p of graph.params) vals.set(p.value.id, p.tensor.handle);
  const stateOf = (name: string): BindableState => {
    const s = Array.isArray(states)
      ? (states as BindableState[])[graph.bindings.indexOf(name)]
      : (states as Record<string, BindableState> | undefined)?.[name];
    check(s, 'E_ARG', `runEager: state '${name}' is missing`);
    return s;
  };
  try {
    for (const n of graph.nodes) {
      const args = n.inputs.map((i) => (i < 0 ? null : vals.get(i)!));
      let outs: NativeTensor[];
      if (n.op.startsWith('view.')) {
        let src = args[0]!;
        if (n.op === 'view.reshape' && !native.tensorInfo(src).contiguous) {
          src = native.op('copy', [src])[0]; // a graph reshape is semantic: the plan inserts the same copy
          owned.push(src);
        }
        outs = [view(src, n.op, n.attrs)];
      } else if (n.bind !== undefined) {
        const ts = args.map((h) => (h ? fromHandle(native.tensorTo(h, native.tensorInfo(h).device)) : null));
        try {
          const r = stateOf(n.bind).runBoundEager(n.op, ts.filter((t): t is Tensor => !!t), n.attrs);
          outs = [r.handle];
        } finally {
          for (const t of ts) t?.dispose();
        }
      } else {
        outs = native.op(n.op, args, n.attrs);
      }
      owned.push(...outs);
      n.outputs.forEach((id, k) => vals.set(id, outs[k]));
    }
    const result: Record<string, Tensor> = {};
    for (const o of graph.outputs) {
      const h = vals.get(o.value.id)!;
      result[o.name] = fromHandle(native.op('copy', [h])[0]);
    }
    return result;
  } finally {
    for (const h of owned) native.tensorDispose(h);
  }
}
