/**
 * Generic op invocation: the typed wrappers in lib/ops/*.ts call these.
 * Sync calls run on the calling thread; *Async calls validate synchronously
 * (errors become rejections) and compute on the libuv pool.
 */
import { native, type Attrs, type NativeTensor } from '../binding.js';
import { Tensor } from '../tensor.js';

export type MaybeTensor = Tensor | null | undefined;

function handles(inputs: readonly MaybeTensor[]): (NativeTensor | null)[] {
  // Non-tensors pass through so the addon reports them (E_ARG "must be a Tensor").
  return inputs.map((t) => (t instanceof Tensor ? t.handle : t == null ? null : (t as unknown as NativeTensor)));
}

export function runOp(name: string, inputs: readonly MaybeTensor[], attrs?: Attrs): Tensor[] {
  return native.op(name, handles(inputs), attrs).map((h) => new Tensor(h));
}

export async function runOpAsync(name: string, inputs: readonly MaybeTensor[], attrs?: Attrs): Promise<Tensor[]> {
  const outs = await native.opAsync(name, handles(inputs), attrs);
  return outs.map((h) => new Tensor(h));
}

/** Runs the op through the CPU scalar reference kernels (tests, debugging). */
export function referenceOp(name: string, inputs: readonly MaybeTensor[], attrs?: Attrs): Tensor[] {
  return native.referenceOp(name, handles(inputs), attrs).map((h) => new Tensor(h));
}

export function run1(name: string, inputs: readonly MaybeTensor[], attrs?: Attrs): Tensor {
  return runOp(name, inputs, attrs)[0];
}

export async function run1Async(name: string, inputs: readonly MaybeTensor[], attrs?: Attrs): Promise<Tensor> {
  return (await runOpAsync(name, inputs, attrs))[0];
}
