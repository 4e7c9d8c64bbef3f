/**
 * The only typed view of the native addon (build/Release/engram.node).
 * Tensors cross the boundary as opaque NativeTensor handles; every function
 * here may throw EngramError. test/binding.test.ts checks that the functions
 * the addon exports and the ones declared below are the same set.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { EngramError } from './errors.js';

/** Opaque handle to a native tensor (a TensorHandle object). */
export interface NativeTensor {
  readonly __nativeTensor: never;
}

export type NativeDType = 'f32' | 'f16' | 'bf16' | 'i32' | 'u8' | 'i8' | 'u4' | 'u2' | 'u1';
export type NativeDevice = 'cpu' | 'cuda';
export type AttrValue = number | boolean | string | number[] | undefined;
export type Attrs = Record<string, AttrValue>;

export interface NativeTensorInfo {
  shape: number[];
  strides: number[];
  offset: number;
  dtype: NativeDType;
  device: NativeDevice;
  contiguous: boolean;
  nbytes: number;
}

export interface NativeBackendInfo {
  name: 'cpu' | 'cuda';
  compiled: boolean;
  available: boolean;
  reason?: string;
  features: string[];
  threads?: number;
  isa?: string;
  deviceCount?: number;
  deviceName?: string;
  totalMemory?: number;
  computeCapability?: number;
}

export interface NativeDeviceMemory {
  buffers: number;
  bytes: number;
  peakBytes: number;
  allocations: number;
}

export interface NativeMemory {
  cpu: NativeDeviceMemory;
  cuda: NativeDeviceMemory;
  handles: number;
}

export interface NativeBuildInfo {
  napiVersion: number;
  cudaCompiled: boolean;
  gemmKernel: string;
  compiler: string;
}

export interface NativeOpInfo {
  name: string;
  minInputs: number;
  maxInputs: number;
  outputs: number;
}

export type NativeTypedArray = Float32Array | Uint16Array | Int32Array | Uint8Array | Int8Array;

/** A tensor's shape and dtype (graph values, plan inputs/outputs). */
export interface NativeSpec {
  shape: number[];
  dtype: NativeDType;
}

/** The description native/core/plan.cpp compiles (lib/graph builds it). */
export interface NativePlanDesc {
  device: NativeDevice;
  inputs: { name: string; shape: number[]; dtype: NativeDType }[];
  params: { name: string; tensor: NativeTensor }[];
  nodes: { name: string; op: string; attrs?: Attrs; inputs: number[]; bind?: number }[];
  outputs: number[];
  bindings?: number;
  reuseBuffers?: boolean;
  keepArena?: boolean;
}

export interface NativePlanStats {
  nodes: number;
  opNodes: number;
  viewNodes: number;
  copiesInserted: number;
  intermediates: number;
  naiveBytes: number;
  plannedBytes: number;
  outputBytes: number;
  paramBytes: number;
}

/** Opaque bindable state (a KV cache handle or another registered kind). */
export interface NativeState {
  readonly __nativeState: never;
}

export interface NativePlan {
  run(inputs: NativeTensor[], states?: NativeState[]): Promise<NativeTensor[]>;
  runSync(inputs: NativeTensor[], states?: NativeState[]): NativeTensor[];
  stats(): NativePlanStats;
  outputSpecs(): NativeSpec[];
  valueOffsets(): number[];
  releaseBuffers(): void;
  dispose(): void;
}

export interface NativeKVCacheOptions {
  batch?: number;
  kvHeads: number;
  headDim: number;
  valueDim?: number;
  window?: number;
  device?: NativeDevice;
}

export interface NativeKVCacheInfo {
  length: number;
  position: number;
  bytes: number;
  capacityBytes: number;
  window: number;
  batch: number;
  kvHeads: number;
  headDim: number;
  valueDim: number;
  device: NativeDevice;
  kind: string;
}

export interface NativeKVCache extends NativeState {
  append(k: NativeTensor, v: NativeTensor): void;
  attend(q: NativeTensor, attrs?: Attrs): NativeTensor;
  attendAsync(q: NativeTensor, attrs?: Attrs): Promise<NativeTensor>;
  keys(): NativeTensor;
  values(): NativeTensor;
  load(k: NativeTensor, v: NativeTensor, position: number): void;
  reset(): void;
  info(): NativeKVCacheInfo;
  dispose(): void;
}

export interface NativeSafetensors {
  names: string[];
  tensors: NativeTensor[];
  metadata: Record<string, string>;
  mapped: boolean;
}

/** Bit accounting of a quantizer (per value = per vector coordinate). */
export interface NativeBitAccount {
  bitsPerValue: number;
  codeBits: number;
  overheadBits: number;
  paddingBits: number;
  nominalBits: number;
  blockBytes: number;
  blockTokens: number;
  compression: number;
  codeCompression: number;
}

export interface NativeQuantConfig {
  kind: 'plain' | 'turboquant' | 'qjl' | 'kivi' | 'int8';
  dim: number;
  dtype?: 'f32' | 'f16' | 'bf16';
  bits?: number;
  variant?: 'mse' | 'prod';
  rotation?: 'dense' | 'hadamard';
  sketch?: 'gaussian' | 'orthogonal';
  projection?: 'gaussian' | 'orthogonal';
  sketchDim?: number;
  outlierSketchDim?: number;
  groupSize?: number;
  residual?: number;
  axis?: 'token' | 'channel';
  seed?: number;
  outlierChannels?: number[][];
  centered?: boolean;
  normDType?: 'f16' | 'f32';
  scaleDType?: 'f16' | 'f32';
  tDim?: number;
  blockBytes?: number;
  blockTokens?: number;
  tableHeads?: number;
}

export interface NativeQuantizer {
  info(): NativeQuantConfig;
  bits(dim?: number): NativeBitAccount;
  encode(x: NativeTensor): NativeTensor;
  encodeAsync(x: NativeTensor): Promise<NativeTensor>;
  decode(codes: NativeTensor, dim?: number): NativeTensor;
  dot(q: NativeTensor, codes: NativeTensor, dim?: number, head?: number): NativeTensor;
  matrix(head?: number): NativeTensor;
}

export interface NativeQuantKVCacheInfo {
  layers: number;
  heads: number;
  headDim: number;
  maxTokens: number;
  residualWindow: number;
  pageTokens: number;
  device: NativeDevice;
  keys: NativeQuantConfig;
  values: NativeQuantConfig;
  keyBits: NativeBitAccount;
  valueBits: NativeBitAccount;
}

export interface NativeQuantKVCache extends NativeState {
  append(layer: number, k: NativeTensor, v: NativeTensor): void;
  appendAsync(layer: number, k: NativeTensor, v: NativeTensor): Promise<void>;
  attend(layer: number, q: NativeTensor, causal?: boolean, scale?: number, reference?: boolean): NativeTensor;
  attendAsync(layer: number, q: NativeTensor, causal?: boolean, scale?: number, reference?: boolean): Promise<NativeTensor>;
  length(layer?: number): number;
  bytes(): number;
  allocatedBytes(): number;
  truncate(n: number): void;
  fork(): NativeQuantKVCache;
  serialize(): Uint8Array;
  info(): NativeQuantKVCacheInfo;
  quantizer(which: 'keys' | 'values'): NativeQuantizer;
  dispose(): void;
  isDisposed(): boolean;
  benchAttend(
    layer: number,
    q: NativeTensor,
    causal: boolean | undefined,
    scale: number | undefined,
    reference: boolean | undefined,
    reps: number,
  ): { best: number; median: number };
}

export interface NativeAddon {
  init(errorClass: typeof EngramError): void;
  TensorHandle: new () => NativeTensor;
  // tensors
  tensorFromData(data: NativeTypedArray, shape: number[], dtype: NativeDType, device: NativeDevice): NativeTensor;
  empty(shape: number[], dtype: NativeDType, device: NativeDevice, zero?: boolean): NativeTensor;
  random(shape: number[], seed: number, dtype: NativeDType, device: NativeDevice, uniform?: boolean): NativeTensor;
  tensorInfo(t: NativeTensor): NativeTensorInfo;
  tensorData(t: NativeTensor): NativeTypedArray;
  tensorToArray(t: NativeTensor): NativeTypedArray;
  tensorTo(t: NativeTensor, device: NativeDevice): NativeTensor;
  tensorDispose(t: NativeTensor): void;
  tensorIsDisposed(t: NativeTensor): boolean;
  tensorView(t: NativeTensor, kind: 'permute' | 'reshape', dims: number[]): NativeTensor;
  tensorView(t: NativeTensor, kind: 'transpose', d0: number, d1: number): NativeTensor;
  tensorView(t: NativeTensor, kind: 'slice', dim: number, start: number, end: number): NativeTensor;
  tensorView(t: NativeTensor, kind: 'select', dim: number, index: number): NativeTensor;
  tensorView(t: NativeTensor, kind: 'unsqueeze', dim: number): NativeTensor;
  memory(): NativeMemory;
  // ops
  op(name: string, inputs: (NativeTensor | null)[], attrs?: Attrs): NativeTensor[];
  opAsync(name: string, inputs: (NativeTensor | null)[], attrs?: Attrs): Promise<NativeTensor[]>;
  referenceOp(name: string, inputs: (NativeTensor | null)[], attrs?: Attrs): NativeTensor[];
  opNames(): NativeOpInfo[];
  // machine
  backends(): NativeBackendInfo[];
  buildInfo(): NativeBuildInfo;
  setNumThreads(n: number): number;
  getNumThreads(): number;
  setIsa(isa: 'generic' | 'avx2' | 'avx512'): string;
  setPoison(on: boolean): void;
  // quantized KV caches (lib/quant)
  QuantizerHandle: new (kind: string, attrs: Attrs, calibration?: NativeTensor | null) => NativeQuantizer;
  QuantKVCacheHandle: new (opts: Attrs, keys: NativeQuantizer | string | undefined, values: NativeQuantizer | string | undefined) => NativeQuantKVCache;
  quantKVCacheDeserialize(data: Uint8Array): NativeQuantKVCache;
  quantReadBandwidth(mbytes: number, reps: number): number;
  // graphs and plans (native/napi/plan_wrap.cpp)
  PlanHandle: new (desc: NativePlanDesc) => NativePlan;
  inferNode(op: string, inputs: (NativeSpec | null)[], attrs?: Attrs): NativeSpec[];
  // plain f32 attention cache (native/napi/kv_cache_wrap.cpp); new KVCacheHandle(other) forks
  KVCacheHandle: new (opts: NativeKVCacheOptions | NativeKVCache) => NativeKVCache;
  // safetensors (native/napi/safetensors_wrap.cpp)
  loadSafetensors(path: string, mmap: boolean): Promise<NativeSafetensors>;
  loadSafetensorsSync(path: string, mmap: boolean): NativeSafetensors;
  parseSafetensors(bytes: Uint8Array): NativeSafetensors;
  // benchmarks (kernel time measured natively)
  peakGflops(threads?: number): number;
  benchGemm(which: 'engram' | 'openblas', M: number, N: number, K: number, batch: number, reps: number): {
    ms: number;
    note: string;
  };
}

/** Every function name the addon must export (checked by a test). */
export const NATIVE_EXPORTS = [
  'init', 'TensorHandle', 'tensorFromData', 'empty', 'random', 'tensorInfo', 'tensorData', 'tensorToArray',
  'tensorTo', 'tensorDispose', 'tensorIsDisposed', 'tensorView', 'memory', 'op', 'opAsync', 'referenceOp',
  'opNames', 'backends', 'buildInfo', 'setNumThreads', 'getNumThreads', 'setIsa', 'setPoison', 'peakGflops',
  'benchGemm', 'PlanHandle', 'inferNode', 'KVCacheHandle', 'loadSafetensors', 'loadSafetensorsSync',
  'parseSafetensors', 'QuantizerHandle', 'QuantKVCacheHandle', 'quantKVCacheDeserialize', 'quantReadBandwidth',
] as const;

function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new EngramError(`engram: package.json not found above ${__dirname}`, 'E_INTERNAL');
    dir = up;
  }
  return dir;
}

function load(): NativeAddon {
  const root = packageRoot();
  const candidates = [
    process.env.ENGRAM_NATIVE_PATH,
    join(root, 'build', 'Release', 'engram.node'),
    join(root, 'build', 'Debug', 'engram.node'),
  ].filter((p): p is string => !!p);
  const errors: string[] = [];
  for (const p of candidates) {
    if (!existsSync(p)) continue;
    try {
      const addon = require(p) as NativeAddon;
      addon.init(EngramError);
      return addon;
    } catch (e) {
      errors.push(`${p}: ${(e as Error).message}`);
    }
  }
  throw new EngramError(
    `engram: the native addon is not built (run \`npm run build:native\`)${errors.length ? '\n' + errors.join('\n') : ''}`,
    'E_INTERNAL',
  );
}

export const native: NativeAddon = load();
