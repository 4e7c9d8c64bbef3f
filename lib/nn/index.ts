/** engram.nn: modules built on graphs, mixers, caches and model state. */
export { Module, Init, type InitKind } from './module.js';
export { Linear, Embedding, RMSNorm, LayerNorm, MLP, Conv1d, type LinearOptions, type Conv1dOptions } from './layers.js';
export {
  PlainKVCache,
  registerAttentionCache,
  createAttentionCache,
  attentionCacheKinds,
  type AttentionCache,
  type AttentionCacheFactory,
  type AttentionCacheSpec,
  type AttentionOptions,
  type LayerState,
} from './cache.js';
export {
  registerMixer,
  createMixer,
  mixerKinds,
  intOption,
  ConvMixer,
  type Mixer,
  type MixerArgs,
  type MixerContext,
  type MixerFactory,
  type MixerStateSpec,
  type LayerConfig,
  type LayerStateIO,
  type StateTensorSpec,
} from './mixers.js';
export { Attention, type AttentionConfig } from './attention.js';
export { ModelState, type LayerSlots } from './state.js';
export { Model, Block, type ModelConfig, type ModelOptions } from './model.js';
export { TitansMemory, MagMixer, type TitansMixerConfig } from './titans.js';
export { GatedDeltaNet, type GdnMixerConfig } from './gdn.js';
export { QuantAttentionCache, QUANT_CACHE_KINDS, QUANT_CACHE_MAX_TOKENS } from './quant_cache.js';
export { TNTMemory } from './tnt.js';
