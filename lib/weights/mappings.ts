/**
 * Renaming rules from common PyTorch checkpoints to engram's parameter names
 * (docs/weights.md), for renameTensors(tensors, rules).
 *
 *   const f = await loadSafetensors('llama/model.safetensors');
 *   const model = new nn.Model(config, { weights: renameTensors(f.tensors, LLAMA_TO_ENGRAM, { dropUnmatched: true }) });
 */

/** Hugging Face Llama / Mistral / Qwen2 (LlamaForCausalLM naming) → engram ('attention' mixers). */
export const LLAMA_TO_ENGRAM: readonly [RegExp, string][] = [
  [/^model\.embed_tokens\.weight$/, 'embed.weight'],
  [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'layers.$1.mixer_norm.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.([qkvo])_proj\.(weight|bias)$/, 'layers.$1.mixer.$2_proj.$3'],
  [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'layers.$1.mlp_norm.weight'],
  [/^model\.layers\.(\d+)\.mlp\.(gate|up|down)_proj\.weight$/, 'layers.$1.mlp.$2_proj.weight'],
  [/^model\.norm\.weight$/, 'norm.weight'],
  [/^lm_head\.weight$/, 'head.weight'],
];

/**
 * fla GatedDeltaNetForCausalLM (fla/models/gated_deltanet, layer fla/layers/gated_deltanet.py)
 * → engram, for the 'gdn' mixer (whose owner must use these parameter names).
 * Short-conv weights are [C, 1, K] in PyTorch; engram's Conv1d takes them as is
 * (reshaped to [C, K] on load).
 */
export const FLA_GDN_TO_ENGRAM: readonly [RegExp, string][] = [
  [/^model\.embeddings\.weight$/, 'embed.weight'],
  [/^model\.layers\.(\d+)\.attn_norm\.weight$/, 'layers.$1.mixer_norm.weight'],
  [/^model\.layers\.(\d+)\.attn\.(q_proj|k_proj|v_proj|a_proj|b_proj|g_proj|o_proj)\.weight$/, 'layers.$1.mixer.$2.weight'],
  [/^model\.layers\.(\d+)\.attn\.(q_conv1d|k_conv1d|v_conv1d)\.(weight|bias)$/, 'layers.$1.mixer.$2.$3'],
  [/^model\.layers\.(\d+)\.attn\.(A_log|dt_bias)$/, 'layers.$1.mixer.$2'],
  [/^model\.layers\.(\d+)\.attn\.o_norm\.weight$/, 'layers.$1.mixer.o_norm.weight'],
  [/^model\.layers\.(\d+)\.mlp_norm\.weight$/, 'layers.$1.mlp_norm.weight'],
  [/^model\.layers\.(\d+)\.mlp\.(gate|up|down)_proj\.weight$/, 'layers.$1.mlp.$2_proj.weight'],
  [/^model\.norm\.weight$/, 'norm.weight'],
  [/^lm_head\.weight$/, 'head.weight'],
];
