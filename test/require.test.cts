// CommonJS consumers: require('engram') works and gives the same module as import.
import test from 'ava';

const engram = require('engram') as typeof import('engram');

test('require("engram") exposes the API', (t) => {
  const x = engram.tensor([1, 2, 3]);
  const y = engram.ops.scale(x, 2);
  t.deepEqual(Array.from(y.toFloat32()), [2, 4, 6]);
  t.true(x instanceof engram.Tensor);
  x.dispose();
  y.dispose();
});

test('require and import share one instance (one Tensor class, one addon)', async (t) => {
  const esm = (await import('engram')) as typeof import('engram');
  t.is(esm.Tensor, engram.Tensor);
  t.is(esm.memory, engram.memory);
});
