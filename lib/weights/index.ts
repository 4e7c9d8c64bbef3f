/** Weights on disk: safetensors reading/writing and renaming helpers. */
export {
  loadSafetensors,
  loadSafetensorsSync,
  parseSafetensors,
  saveSafetensors,
  saveSafetensorsSync,
  serializeSafetensors,
  renameTensors,
  type LoadOptions,
  type SafetensorsContents,
  type TensorMap,
} from './safetensors.js';
export { LLAMA_TO_ENGRAM, FLA_GDN_TO_ENGRAM } from './mappings.js';
