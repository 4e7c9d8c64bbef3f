// ESM entry (package.json "exports" → import). Re-exports the CommonJS build,
// so `import` and `require` share one module instance: one Tensor class, one
// addon, one set of memory counters.
export * from './index.js';
