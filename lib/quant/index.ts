/** engram.quant: quantizers for KV vectors (see quantizer.ts) and the KVCache. */
export {
  Quantizer,
  turboQuant,
  qjl,
  kivi,
  int8,
  type BitAccount,
  type QuantizerConfig,
  type TurboQuantOptions,
  type QjlOptions,
  type KiviOptions,
  type Int8Options,
  type ScalarDType,
} from './quantizer.js';
export { KVCache, type KVCacheOptions, type AttendOptions, type CacheStorage, type KVCacheInfo } from './kvcache.js';
