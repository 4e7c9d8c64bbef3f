/** All ops, as `engram.ops.*`. */
export * from './basic.js';
export { runOp, runOpAsync, referenceOp } from './run.js';
export * from './model.js';
export * from './gated_delta_rule.js';
export * from './titans.js';
export * from './ttt.js';
export type { MemoryActivation, MemoryResult } from './memory_common.js';
export * from './trellis.js';
export * from './tnt.js';
