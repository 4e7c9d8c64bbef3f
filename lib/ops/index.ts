/** All ops, as `engram.ops.*`. */
export * from './basic.js';
export { runOp, runOpAsync, referenceOp } from './run.js';
export * from './model.js';
