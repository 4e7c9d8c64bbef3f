/**
 * Tensor: a typed, shaped view of native memory on one device. Tensors are
 * freed explicitly (dispose(), `using`, or tidy()); memory() counts what is
 * alive. Layout convention for sequences: [B, T, H, D].
 */
import { native, type NativeTensor, type NativeTypedArray } from './binding.js';
import { type DType, type Device, type TypedArrayFor, isFloat, DTYPES, f16ToF32, bf16ToF32 } from './dtype.js';
import { EngramError, check } from './errors.js';

const disposeSymbol: typeof Symbol.dispose = (Symbol as { dispose?: typeof Symbol.dispose }).dispose ??
  (Symbol.for('Symbol.dispose') as typeof Symbol.dispose);

// ---- scopes (tidy) -------------------------------------------------------------
const scopes: Set<Tensor>[] = [];

function track(t: Tensor): void {
  const s = scopes[scopes.length - 1];
  if (s) s.add(t);
}

/**
 * Runs `fn`; every tensor created inside and not part of its result (found in
 * returned arrays/objects/Maps) is disposed when it returns or throws.
 * `fn` must be synchronous (use explicit dispose around awaits).
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result && typeof (result as { then?: unknown }).then === 'function') {
      throw new EngramError('tidy(): the function must be synchronous (it returned a Promise)', 'E_ARG');
    }
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  const kept = new Set<Tensor>();
  collectTensors(result, kept, new Set());
  for (const t of scope) if (!kept.has(t)) t.dispose();
  const parent = scopes[scopes.length - 1];
  if (parent) for (const t of kept) if (scope.has(t)) parent.add(t);
  return result;
}

/** Keeps `t` alive past the enclosing tidy() scope. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collectTensors(v: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  if (!v || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (v instanceof Tensor) {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collectTensors(x, out, seen);
  else if (v instanceof Map) for (const x of v.values()) collectTensors(x, out, seen);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collectTensors(x, out, seen);
}

// ---- Tensor ----------------------------------------------------------------------
export class Tensor {
  /** @internal */
  readonly handle: NativeTensor;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device;

  /** @internal Use tensor(), zeros(), randn() or an op to make tensors. */
  constructor(handle: NativeTensor) {
    const info = native.tensorInfo(handle);
    this.handle = handle;
    this.shape = Object.freeze(info.shape);
    this.dtype = info.dtype;
    this.device = info.device;
    track(this);
  }

  get ndim(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get strides(): number[] {
    return native.tensorInfo(this.handle).strides;
  }
  get isContiguous(): boolean {
    return native.tensorInfo(this.handle).contiguous;
  }
  get nbytes(): number {
    return native.tensorInfo(this.handle).nbytes;
  }
  get isDisposed(): boolean {
    return native.tensorIsDisposed(this.handle);
  }

  /**
   * Zero-copy typed array over the tensor's memory (CPU, contiguous tensors).
   * Writes go to the tensor. The array is detached (length 0) by dispose().
   * f16/bf16 give raw bit patterns; use toFloat32() for numbers.
   */
  data<D extends DType = DType>(): TypedArrayFor<D> {
    return native.tensorData(this.handle) as TypedArrayFor<D>;
  }

  /** A copy of the elements (any device, any layout), in the dtype's array type. */
  toArray(): TypedArrayFor<this['dtype']> {
    return native.tensorToArray(this.handle) as TypedArrayFor<this['dtype']>;
  }

  /** A copy of the elements as f32 numbers (f16/bf16 decoded). */
  toFloat32(): Float32Array {
    const raw = native.tensorToArray(this.handle);
    if (this.dtype === 'f32') return raw as Float32Array;
    if (this.dtype === 'f16') return Float32Array.from(raw as Uint16Array, f16ToF32);
    if (this.dtype === 'bf16') return Float32Array.from(raw as Uint16Array, bf16ToF32);
    if (this.dtype === 'u4' || this.dtype === 'u2' || this.dtype === 'u1') {
      throw new EngramError(`toFloat32(): ${this.dtype} holds packed codes; decode them with their quantizer`, 'E_DTYPE');
    }
    return Float32Array.from(raw as ArrayLike<number>);
  }

  /** Nested JS arrays (small tensors, debugging). */
  toNested(): unknown {
    const flat = this.toFloat32();
    const build = (dim: number, off: number): unknown => {
      if (dim === this.shape.length) return flat[off];
      const stride = this.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * stride));
    };
    return build(0, 0);
  }

  /** A tensor on `device` (a new handle; the data is copied when devices differ). */
  to(device: Device): Tensor {
    return new Tensor(native.tensorTo(this.handle, device));
  }

  // ---- views (no copy; the result shares memory with this tensor) ----
  reshape(shape: readonly number[]): Tensor {
    return new Tensor(native.tensorView(this.handle, 'reshape', [...shape]));
  }
  permute(perm: readonly number[]): Tensor {
    return new Tensor(native.tensorView(this.handle, 'permute', [...perm]));
  }
  transpose(dim0 = -2, dim1 = -1): Tensor {
    return new Tensor(native.tensorView(this.handle, 'transpose', dim0, dim1));
  }
  slice(dim: number, start: number, end: number): Tensor {
    return new Tensor(native.tensorView(this.handle, 'slice', dim, start, end));
  }
  select(dim: number, index: number): Tensor {
    return new Tensor(native.tensorView(this.handle, 'select', dim, index));
  }
  unsqueeze(dim: number): Tensor {
    return new Tensor(native.tensorView(this.handle, 'unsqueeze', dim));
  }

  /** Contiguous copy (or a new handle on the same memory when already contiguous). */
  contiguous(): Tensor {
    if (this.isContiguous) return new Tensor(native.tensorTo(this.handle, this.device));
    return new Tensor(native.op('copy', [this.handle])[0]);
  }
  cast(dtype: DType): Tensor {
    return new Tensor(native.op('cast', [this.handle], { to: dtype })[0]);
  }

  /** Frees the memory now (idempotent). Views and data() arrays of it stay valid only through their own handles. */
  dispose(): void {
    native.tensorDispose(this.handle);
  }
  [disposeSymbol](): void {
    this.dispose();
  }

  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    return `Tensor(${this.dtype}[${this.shape.join(', ')}] ${this.device})`;
  }
}

// ---- creation ----------------------------------------------------------------------
export interface CreateOptions {
  dtype?: DType;
  device?: Device;
}

type NestedNumbers = number | NestedNumbers[];

function inferShape(data: NestedNumbers[]): number[] {
  const shape: number[] = [];
  let cur: NestedNumbers = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

function flatten(data: NestedNumbers[], shape: number[]): number[] {
  const out: number[] = [];
  const walk = (v: NestedNumbers, dim: number): void => {
    if (dim === shape.length) {
      check(typeof v === 'number', 'E_ARG', 'tensor(): nested data must hold numbers');
      out.push(v);
      return;
    }
    check(Array.isArray(v) && v.length === shape[dim], 'E_SHAPE', `tensor(): ragged nested array at depth ${dim}`);
    for (const x of v) walk(x, dim + 1);
  };
  walk(data, 0);
  return out;
}

function defaultDType(data: unknown): DType {
  if (data instanceof Int32Array) return 'i32';
  if (data instanceof Uint8Array) return 'u8';
  if (data instanceof Int8Array) return 'i8';
  return 'f32';
}

/**
 * A tensor from JS data. `data` is a flat array or typed array (with `shape`),
 * or nested arrays (shape inferred). f16/bf16 take numbers (rounded) or a
 * Uint16Array of raw bit patterns.
 */
export function tensor(
  data: ArrayLike<number> | NestedNumbers[],
  shape?: readonly number[],
  opts: CreateOptions = {},
): Tensor {
  const dtype = opts.dtype ?? defaultDType(data);
  const device = opts.device ?? 'cpu';
  check(DTYPES.includes(dtype), 'E_DTYPE', `tensor(): unknown dtype '${String(dtype)}'`);
  let flat: ArrayLike<number> = data as ArrayLike<number>;
  let shp = shape ? [...shape] : undefined;
  if (Array.isArray(data) && data.some((x) => Array.isArray(x))) {
    const inferred = inferShape(data as NestedNumbers[]);
    flat = flatten(data as NestedNumbers[], inferred);
    shp ??= inferred;
  }
  shp ??= [flat.length];
  let arr: NativeTypedArray;
  let staging: DType = dtype;
  switch (dtype) {
    case 'f32':
      arr = flat instanceof Float32Array ? flat : Float32Array.from(flat);
      break;
    case 'f16':
    case 'bf16':
      if (flat instanceof Uint16Array) arr = flat;
      else {
        arr = flat instanceof Float32Array ? flat : Float32Array.from(flat);
        staging = 'f32';
      }
      break;
    case 'i32':
      arr = flat instanceof Int32Array ? flat : Int32Array.from(flat);
      break;
    case 'i8':
      arr = flat instanceof Int8Array ? flat : Int8Array.from(flat);
      break;
    default:
      arr = flat instanceof Uint8Array ? flat : Uint8Array.from(flat);
  }
  if (staging === dtype) return new Tensor(native.tensorFromData(arr, shp, dtype, device));
  const f = native.tensorFromData(arr, shp, 'f32', 'cpu');
  try {
    const c = native.op('cast', [f], { to: dtype })[0];
    if (device === 'cpu') return new Tensor(c);
    try {
      return new Tensor(native.tensorTo(c, device));
    } finally {
      native.tensorDispose(c);
    }
  } finally {
    native.tensorDispose(f);
  }
}

/** Uninitialised tensor (contents unspecified). */
export function empty(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return new Tensor(native.empty([...shape], opts.dtype ?? 'f32', opts.device ?? 'cpu', false));
}

export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return new Tensor(native.empty([...shape], opts.dtype ?? 'f32', opts.device ?? 'cpu', true));
}

export interface RandomOptions extends CreateOptions {
  /** Seed (integer in [0, 2^53)); the same seed gives the same values on every device. Default 0. */
  seed?: number;
}

/** Standard normal samples (Philox4x32-10 + Box-Muller, deterministic in `seed`). */
export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  return new Tensor(native.random([...shape], opts.seed ?? 0, opts.dtype ?? 'f32', opts.device ?? 'cpu', false));
}

/** Uniform samples in [0, 1) (deterministic in `seed`). */
export function rand(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  return new Tensor(native.random([...shape], opts.seed ?? 0, opts.dtype ?? 'f32', opts.device ?? 'cpu', true));
}

/** Wraps a native handle (for modules that call native ops directly). @internal */
export function fromHandle(h: NativeTensor): Tensor {
  return new Tensor(h);
}

export { isFloat };
