/**
 * engram: a native engine for parallel test-time memorization.
 *
 *   const { tensor, randn, ops } = require('engram');   // or: import { ... } from 'engram'
 */
export { EngramError, type ErrorCode } from './errors.js';
export { type DType, type FloatDType, type Device, DTYPES, FLOAT_DTYPES } from './dtype.js';
export {
  Tensor,
  tensor,
  empty,
  zeros,
  randn,
  rand,
  tidy,
  keep,
  type CreateOptions,
  type RandomOptions,
} from './tensor.js';
export { backends, buildInfo, cudaAvailable, setNumThreads, getNumThreads, memory, type BackendInfo, type MemoryInfo } from './backends.js';
import * as ops from './ops/index.js';
export { ops };
import * as quant from './quant/index.js';
export { quant };
export { KVCache, type KVCacheOptions, type AttendOptions, type CacheStorage } from './quant/kvcache.js';
export { bench, SUITES, type BenchOptions, type BenchReport, type BenchResult } from './bench/index.js';
import * as graph from './graph/index.js';
import * as nn from './nn/index.js';
export { graph, nn };
export {
  loadSafetensors,
  loadSafetensorsSync,
  parseSafetensors,
  saveSafetensors,
  saveSafetensorsSync,
  serializeSafetensors,
  renameTensors,
  LLAMA_TO_ENGRAM,
  FLA_GDN_TO_ENGRAM,
  type LoadOptions,
  type SafetensorsContents,
} from './weights/index.js';
export {
  runRecall,
  registerMemory,
  memoryKinds,
  RECALL_DEFAULTS,
  type RecallOptions,
  type RecallReport,
  type RecallRow,
  type RecallSkip,
  type MemoryAdapter,
  type MemoryInstance,
  type MemorySpec,
} from './recall/index.js';
export const version = '0.1.0';
