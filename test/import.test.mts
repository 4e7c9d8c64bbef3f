// ES module consumers: named imports from 'engram'.
import test from 'ava';
import { tensor, ops, EngramError, backends } from 'engram';
import * as all from 'engram';

test('import { ... } from "engram" works', (t) => {
  const x = tensor([1, 2, 3]);
  const y = ops.exp(x);
  t.is(y.shape[0], 3);
  t.true(backends().some((b) => b.name === 'cpu' && b.available));
  t.is(typeof EngramError, 'function');
  t.true('randn' in all && 'tidy' in all && 'memory' in all);
  x.dispose();
  y.dispose();
});
