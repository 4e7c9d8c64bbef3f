/** Memory ops inside compiled plans: shapes inferred at compile time, gate values checked at run time. */
import test from 'ava';

import { graph, ops, randn, rand, tensor, EngramError } from 'engram';

test('a titans node compiles (no data yet), runs like eager, and rejects NaN gates at run time', async (t) => {
  const [B, T, H, D] = [1, 16, 2, 8];
  const g = new graph.Graph();
  const q = g.input('q', [B, T, H, D]), k = g.input('k', [B, T, H, D]), v = g.input('v', [B, T, H, D]);
  const th = g.input('theta', [B, T, H]), al = g.input('alpha', [B, T, H]), et = g.input('eta', [B, T, H]);
  const [o] = g.op('titansLinear', [q, k, v, th, al, et], { chunkSize: 4 });
  g.output('o', o);
  const plan = g.compile({ device: 'cpu' });
  const inputs = {
    q: randn([B, T, H, D], { seed: 1 }), k: randn([B, T, H, D], { seed: 2 }), v: randn([B, T, H, D], { seed: 3 }),
    theta: ops.scale(rand([B, T, H], { seed: 4 }), 0.1), alpha: ops.scale(rand([B, T, H], { seed: 5 }), 0.1),
    eta: ops.scale(rand([B, T, H], { seed: 6 }), 0.5),
  };
  const { o: got } = await plan.run(inputs);
  const [want] = ops.runOp('titansLinear', [inputs.q, inputs.k, inputs.v, inputs.theta, inputs.alpha, inputs.eta], { chunkSize: 4 });
  t.deepEqual(got.toFloat32(), want.toFloat32());
  const bad = tensor(Float32Array.from({ length: B * T * H }, (_, i) => (i === 5 ? NaN : 0.1)), [B, T, H]);
  await t.throwsAsync(plan.run({ ...inputs, theta: bad }), { instanceOf: EngramError, code: 'E_NAN' } as never);
  for (const x of [...Object.values(inputs), got, want, bad]) x.dispose();
  plan.dispose();
});
