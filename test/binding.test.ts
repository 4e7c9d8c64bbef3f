/** lib/binding.ts is the one typed view of the addon: keep it in sync. */
import test from 'ava';

import { buildInfo, ops } from 'engram';
import { NATIVE_EXPORTS, native } from '../lib/binding.js';

test('the addon exports exactly the functions binding.ts declares', (t) => {
  const actual = Object.keys(native).sort();
  t.deepEqual(actual, [...NATIVE_EXPORTS].sort());
});

test('every native op has a TypeScript wrapper in ops', (t) => {
  const wrappers = new Set(Object.keys(ops));
  const missing = native.opNames().map((o) => o.name).filter((n) => !wrappers.has(n));
  t.deepEqual(missing, []);
});

test('buildInfo reports the N-API version and the GEMM kernel', (t) => {
  const b = buildInfo();
  t.is(b.napiVersion, 8);
  t.regex(b.gemmKernel, /generic|avx2|avx512/);
});
