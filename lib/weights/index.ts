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
