/**
 * engram recall: full attention recalls ~100% at the default task sizes,
 * every registered kind reaches its documented floor, the task is
 * deterministic, reports are well-formed, and nothing leaks.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test from 'ava';

import { EngramError, RECALL_DEFAULTS, memory, memoryKinds, ops, registerMemory, runRecall, tensor, zeros, type Tensor } from 'engram';
import { makeRecallTask, memoryAdapter, scoreRecall } from '../lib/recall/index.js';

const dir = mkdtempSync(join(tmpdir(), 'engram-recall-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('full attention recalls ~100% at the default sizes; JSON rows; no leaks', async (t) => {
  const m0 = memory();
  const json = join(dir, 'recall.json');
  const r = await runRecall({ contexts: [1024, 4096], kinds: ['full-attention'], json, print: false });
  for (const row of r.rows) {
    t.true(row.accuracy >= 0.99, `accuracy ${row.accuracy} at ${row.context}`);
    t.is(row.bytes, row.context * RECALL_DEFAULTS.heads * (RECALL_DEFAULTS.keyDim + RECALL_DEFAULTS.valueDim) * 4);
    t.true(row.tokensPerSec > 0);
  }
  const file = JSON.parse(readFileSync(json, 'utf8')) as { rows: Record<string, unknown>[] };
  t.deepEqual(file.rows.map((x) => [x.memory, x.context]), [['full-attention', 1024], ['full-attention', 4096]]);
  for (const row of file.rows) for (const k of ['memory', 'context', 'accuracy', 'bytes', 'tokensPerSec']) t.true(k in row, k);
  const m1 = memory();
  t.is(m1.tensors, m0.tensors);
  t.is(m1.cpu.bytes, m0.cpu.bytes);
});

test.serial('every registered memory kind reaches its floor at the default sizes (4K context)', async (t) => {
  const r = await runRecall({ contexts: [4096], print: false });
  t.deepEqual(r.rows.map((x) => x.memory), memoryKinds());
  for (const row of r.rows) t.log(`${row.memory}: accuracy ${row.accuracy.toFixed(3)}, ${row.bytes} B, ${Math.round(row.tokensPerSec)} tok/s`);
  for (const row of r.rows) t.true(row.accuracy >= memoryAdapter(row.memory).floor, `${row.memory}: ${row.accuracy}`);
});

test('the task is a function of its seed and sizes', (t) => {
  const sizes = { context: 300, queries: 40, heads: 2, keyDim: 16, valueDim: 8, codebook: 32, seed: 7, device: 'cpu' as const };
  const a = makeRecallTask(sizes), b = makeRecallTask(sizes), c = makeRecallTask({ ...sizes, seed: 8 });
  t.deepEqual([...a.targets], [...b.targets]);
  t.deepEqual([...a.positions], [...b.positions]);
  t.deepEqual([...a.keys.toFloat32()], [...b.keys.toFloat32()]);
  t.notDeepEqual([...a.targets], [...c.targets]);
  // keys are unit vectors; queries are the keys at the query positions
  const k = a.keys.toFloat32(), q = a.queries.toFloat32();
  let n = 0;
  for (let i = 0; i < 16; i++) n += k[i] * k[i];
  t.true(Math.abs(n - 1) < 1e-5);
  t.deepEqual([...q.slice(0, 32)], [...k.slice(a.positions[0] * 32, a.positions[0] * 32 + 32)]);
  // reading the stored values exactly scores 1; reading noise scores near chance
  const idx = tensor(a.positions, [40]);
  const flat = a.values.reshape([300, 16]);
  const exact = ops.gather(flat, idx);
  const read = exact.reshape([1, 40, 2, 8]);
  t.is(scoreRecall(a, read), 1);
  for (const x of [idx, flat, exact, read]) x.dispose();
  for (const task of [a, b, c]) task.dispose();
});

test('a plugged-in adapter runs through the harness; unknown kinds are E_ARG', async (t) => {
  // "last value" memory: remembers only the most recent pair — near chance on this task.
  registerMemory({
    kind: 'test-last-value',
    description: 'keeps the last value only',
    floor: 0,
    create(spec) {
      let last: Tensor | null = null;
      return {
        async write(_k, v) {
          last?.dispose();
          last = v.slice(1, v.shape[1] - 1, v.shape[1]).contiguous();
        },
        async read(q) {
          const z = zeros([1, q.shape[1], spec.heads, spec.valueDim]);
          const out = ops.add(z, last!);
          z.dispose();
          return out;
        },
        bytes: () => last?.nbytes ?? 0,
        dispose: () => last?.dispose(),
      };
    },
  });
  const r = await runRecall({ contexts: [512], kinds: ['test-last-value', 'full-attention'], print: false, queries: 64 });
  t.true(r.rows[0].accuracy < 0.2, `last-value accuracy ${r.rows[0].accuracy}`);
  t.true(r.rows[1].accuracy >= 0.99);
  await t.throwsAsync(() => runRecall({ kinds: ['nope'], print: false }), { instanceOf: EngramError, code: 'E_ARG', message: /registered: / });
});

test.serial('a kind the device cannot run (E_UNSUPPORTED) is skipped and reported; other errors still fail the run', async (t) => {
  const failing = (kind: string, code: 'E_UNSUPPORTED' | 'E_NAN') => registerMemory({
    kind,
    description: 'fails on its second write',
    floor: 0,
    create() {
      let writes = 0;
      return {
        async write() {
          if (++writes === 2) throw new EngramError(`${kind}: not supported on cuda for these inputs`, code);
        },
        async read() {
          throw new Error('unreachable');
        },
        bytes: () => 0,
        dispose: () => undefined,
      };
    },
  });
  failing('test-unsupported', 'E_UNSUPPORTED');
  failing('test-broken', 'E_NAN');
  const m0 = memory();
  let last = [0, 0];
  const r = await runRecall({
    contexts: [1024, 2048], chunk: 256, kinds: ['test-unsupported', 'full-attention'], print: false, queries: 32,
    onProgress: (done, total) => (last = [done, total]),
  });
  t.deepEqual(r.rows.map((x) => [x.memory, x.context]), [['full-attention', 1024], ['full-attention', 2048]]);
  t.deepEqual(r.skipped.map((x) => [x.memory, x.context]), [['test-unsupported', 1024], ['test-unsupported', 2048]]);
  t.regex(r.skipped[0].reason, /not supported on cuda/);
  t.is(last[0], last[1], 'the progress bar still reaches its end');
  t.is(memory().tensors, m0.tensors);
  await t.throwsAsync(() => runRecall({ contexts: [1024], chunk: 256, kinds: ['test-broken'], print: false, queries: 32 }),
    { instanceOf: EngramError, code: 'E_NAN' });
});
