/** Bad inputs to the memory ops are EngramErrors with codes, never crashes. */
import test from 'ava';

import { EngramError, ops, tensor, zeros, type Tensor } from 'engram';

const code = (c: string) => ({ instanceOf: EngramError, code: c }) as const;
const full = (shape: number[], v: number, dtype: 'f32' | 'bf16' = 'f32') =>
  tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v), shape, { dtype });
const withAt = (shape: number[], base: number, at: number, v: number): Tensor => {
  const d = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(base);
  d[at] = v;
  return tensor(d, shape);
};

const B = 1, T = 8, H = 2, D = 4;
const seq = () => ({ q: zeros([B, T, H, D]), k: zeros([B, T, H, D]), v: zeros([B, T, H, D]) });
const gate = (v: number) => full([B, T, H], v);

test('titans: shapes, gates, chunk size, state shape, dtypes, options', (t) => {
  const x = { ...seq(), theta: gate(0.1), alpha: gate(0.1), eta: gate(0.9) };
  t.notThrows(() => ops.titans(x));
  t.throws(() => ops.titans({ ...x, v: zeros([B, T + 1, H, D]) }), code('E_SHAPE'));
  t.throws(() => ops.titans({ ...x, k: zeros([B, T, H, D + 1]) }), code('E_SHAPE'));
  t.throws(() => ops.titans({ ...x, theta: full([B, T, H + 1], 0.1) }), code('E_SHAPE'));
  t.throws(() => ops.titans({ ...x, q: zeros([B, T, H, D], { dtype: 'bf16' }) }), code('E_DTYPE'));
  t.throws(() => ops.titans({ ...x, alpha: withAt([B, T, H], 0.1, 5, 1.5) }), code('E_ARG'));
  t.throws(() => ops.titans({ ...x, alpha: withAt([B, T, H], 0.1, 5, -0.1) }), code('E_ARG'));
  t.throws(() => ops.titans({ ...x, eta: withAt([B, T, H], 0.5, 3, 1.01) }), code('E_ARG'));
  t.throws(() => ops.titans({ ...x, theta: withAt([B, T, H], 0.1, 3, -1) }), code('E_ARG'));
  t.throws(() => ops.titans({ ...x, theta: withAt([B, T, H], 0.1, 3, Infinity) }), code('E_ARG'));
  t.throws(() => ops.titans({ ...x, theta: withAt([B, T, H], 0.1, 7, NaN) }), code('E_NAN'));
  t.throws(() => ops.titans({ ...x, alpha: withAt([B, T, H], 0.1, 0, NaN) }), code('E_NAN'));
  t.throws(() => ops.titans(x, { chunkSize: 0 }), code('E_ARG'));
  t.throws(() => ops.titans(x, { chunkSize: -4 }), code('E_ARG'));
  t.throws(() => ops.titans(x, { initialState: { memory: zeros([B, H, D, D + 1]) } }), code('E_SHAPE'));
  t.throws(() => ops.titans(x, { initialState: { memory: zeros([B, H, D, D], { dtype: 'bf16' }) } }), code('E_DTYPE'));
  t.throws(() => ops.titans({ ...x, alpha: null }), code('E_ARG')); // decay on needs alpha
  t.throws(() => ops.titans(x, { decay: false }), code('E_ARG')); // alpha given with decay off
  t.throws(() => ops.titans(x, { momentum: false }), code('E_ARG'));
  t.throws(() => ops.titans(x, { chunkSize: 4, bogus: 1 } as never), code('E_ARG'));
  t.throws(() => ops.titans(x, { initialState: { W1: zeros([1]) } } as never), code('E_ARG'));
  t.throws(() => ops.titans(x, { memory: 'mlp' } as never), code('E_ARG'));
  const m = { memory: { kind: 'mlp' as const, hidden: 8 } };
  t.notThrows(() => ops.titans(x, m));
  t.throws(() => ops.titans({ ...x, v: zeros([B, T, H, D + 2]) }, m), code('E_SHAPE'));
  t.throws(() => ops.titans(x, { ...m, initialState: { W1: zeros([B, H, D, 9]) } }), code('E_SHAPE'));
  t.throws(() => ops.titans(x, { memory: { kind: 'mlp', activation: 'swish' as never } }), code('E_ARG'));
  t.throws(() => ops.titans(x, { ...m, mode: 'recurrent' } as never), code('E_ARG'));
  t.throws(() => ops.titans(x, { mode: 'fast' as never }), code('E_ARG'));
});

test('gatedDeltaRule: beta in (0, 1), g <= 0 and finite, NaN, state shape, scale', (t) => {
  const x = { ...seq(), g: gate(-0.1), beta: gate(0.5) };
  t.notThrows(() => ops.gatedDeltaRule(x));
  t.throws(() => ops.gatedDeltaRule({ ...x, beta: gate(1) }), code('E_ARG'));
  t.throws(() => ops.gatedDeltaRule({ ...x, beta: gate(0) }), code('E_ARG'));
  t.throws(() => ops.gatedDeltaRule({ ...x, g: withAt([B, T, H], -0.1, 2, 0.2) }), code('E_ARG'));
  t.throws(() => ops.gatedDeltaRule({ ...x, g: withAt([B, T, H], -0.1, 2, -Infinity) }), code('E_ARG'));
  t.throws(() => ops.gatedDeltaRule({ ...x, beta: withAt([B, T, H], 0.5, 2, NaN) }), code('E_NAN'));
  t.throws(() => ops.gatedDeltaRule({ ...x, g: full([B, T, H, 1], -0.1) }), code('E_SHAPE'));
  t.throws(() => ops.gatedDeltaRule(x, { initialState: zeros([B, H, D + 1, D]) }), code('E_SHAPE'));
  t.throws(() => ops.gatedDeltaRule(x, { initialState: zeros([2, H, D, D]) }), code('E_SHAPE'));
  t.throws(() => ops.gatedDeltaRule(x, { chunkSize: 0 }), code('E_ARG'));
  t.throws(() => ops.gatedDeltaRule(x, { scale: -1 }), code('E_ARG'));
  t.throws(() => ops.gatedDeltaRule({ ...x, q: zeros([B, T, H]) }), code('E_SHAPE'));
  t.throws(() => ops.gatedDeltaRule({ ...x, g: zeros([B, T, H], { dtype: 'i32' }) }), code('E_DTYPE'));
});

test('ttt: eta >= 0, residual needs Dk == Dv, LN params, state shapes, bias', (t) => {
  const x = { ...seq(), eta: gate(0.1) };
  t.notThrows(() => ops.ttt(x));
  t.throws(() => ops.ttt({ ...x, eta: withAt([B, T, H], 0.1, 1, -0.5) }), code('E_ARG'));
  t.throws(() => ops.ttt({ ...x, eta: withAt([B, T, H], 0.1, 1, NaN) }), code('E_NAN'));
  t.throws(() => ops.ttt({ ...x, v: zeros([B, T, H, D + 1]) }), code('E_SHAPE'));
  t.notThrows(() => ops.ttt({ ...x, v: zeros([B, T, H, D + 1]) }, { residual: false }));
  t.throws(() => ops.ttt({ ...x, lnWeight: zeros([H, D + 1]) }), code('E_SHAPE'));
  t.throws(() => ops.ttt({ ...x, lnWeight: zeros([H, D]) }, { layerNorm: false }), code('E_ARG'));
  t.throws(() => ops.ttt(x, { initialState: { W: zeros([B, H, D, D + 1]) } }), code('E_SHAPE'));
  t.throws(() => ops.ttt(x, { bias: false, initialState: { b: zeros([B, H, D]) } }), code('E_ARG'));
  t.throws(() => ops.ttt(x, { eps: 0 }), code('E_ARG'));
  t.throws(() => ops.ttt(x, { chunkSize: 0 }), code('E_ARG'));
  t.throws(() => ops.ttt(x, { model: { kind: 'mlp' }, initialState: { W1: zeros([B, H, D, 3]), W2: zeros([B, H, 5, D]) } }), code('E_SHAPE'));
});

test('async forms reject with the same codes', async (t) => {
  const x = { ...seq(), theta: gate(0.1), alpha: gate(2), eta: gate(0.9) };
  await t.throwsAsync(() => ops.titansAsync(x), code('E_ARG'));
  await t.throwsAsync(() => ops.gatedDeltaRuleAsync({ ...seq(), g: gate(-0.1), beta: gate(NaN) }), code('E_NAN'));
  await t.throwsAsync(() => ops.tttAsync({ ...seq(), eta: gate(0.1) }, { chunkSize: -1 }), code('E_ARG'));
});

test.serial('no tensors leak from the wrappers (state off, bias off, async)', async (t) => {
  const { memory, tidy } = await import('engram');
  const x = { ...seq(), theta: gate(0.1), alpha: gate(0.1), eta: gate(0.9), g: gate(-0.1), beta: gate(0.5) };
  const before = memory();
  tidy(() => {
    ops.titans(x, { outputFinalState: false });
    ops.titans(x, { memory: { kind: 'mlp', hidden: 8 } });
    ops.gatedDeltaRule(x);
    ops.ttt({ ...x, eta: x.theta }, { bias: false });
  });
  const r = await ops.tttAsync({ ...x, eta: x.theta }, { outputFinalState: false });
  r.o.dispose();
  t.is(memory().tensors, before.tensors);
  t.is(memory().cpu.buffers, before.cpu.buffers);
});
