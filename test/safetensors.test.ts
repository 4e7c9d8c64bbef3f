/**
 * safetensors: round trips of every dtype (buffered and memory-mapped), the
 * strict header checks one by one, and a fuzz run (truncations, lying
 * offsets, huge shapes, wrong dtypes, flipped bytes, random bytes) in which
 * every input either loads or is an EngramError — never a crash.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test from 'ava';

import {
  EngramError, loadSafetensors, loadSafetensorsSync, memory, parseSafetensors, randn, saveSafetensors,
  saveSafetensorsSync, serializeSafetensors, tensor, type Tensor,
} from 'engram';
import { seeded } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'engram-st-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const fmt = (re?: RegExp) => ({ instanceOf: EngramError, code: 'E_FORMAT', ...(re ? { message: re } : {}) }) as never;

/** A safetensors image from a header object and a data length (filled with a byte pattern). */
function image(header: unknown, dataBytes: number, opts: { rawHeader?: string } = {}): Uint8Array {
  const json = opts.rawHeader ?? JSON.stringify(header);
  const h = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + h.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  for (let i = 0; i < dataBytes; i++) out[8 + h.length + i] = (i * 37) & 0xff;
  return out;
}

function sample(): Record<string, Tensor> {
  return {
    'a.f32': randn([3, 5], { seed: 1 }),
    'b.f16': randn([7], { seed: 2, dtype: 'f16' }),
    'c.bf16': randn([2, 2, 3], { seed: 3, dtype: 'bf16' }),
    'd.i32': tensor(new Int32Array([1, -2, 3, 2147483647])),
    'e.u8': tensor(new Uint8Array([0, 255, 7])),
    'f.i8': tensor(new Int8Array([-128, 127, 0, 5, 6])),
    'g.empty': randn([0, 4], { seed: 4 }),
    'h.scalar': tensor([3.5], []),
  };
}

test('round trip of every dtype, metadata, buffered and mmap, async and sync', async (t) => {
  const src = sample();
  const meta = { format: 'engram', 'note ü': 'värde "quoted"' };
  const p1 = join(dir, 'all.safetensors'), p2 = join(dir, 'all-sync.safetensors');
  await saveSafetensors(p1, src, meta);
  saveSafetensorsSync(p2, new Map(Object.entries(src)), meta);
  for (const [p, mmap] of [[p1, false], [p1, true], [p2, true]] as [string, boolean][]) {
    const r = mmap ? await loadSafetensors(p, { mmap }) : loadSafetensorsSync(p, { mmap });
    t.is(r.mapped, mmap);
    t.deepEqual(r.metadata, meta);
    t.deepEqual(Object.keys(r.tensors), Object.keys(src));
    for (const [k, v] of Object.entries(src)) {
      t.is(r.tensors[k].dtype, v.dtype, k);
      t.deepEqual([...r.tensors[k].shape], [...v.shape], k);
      t.deepEqual([...r.tensors[k].toArray()], [...v.toArray()], k);
    }
    for (const x of Object.values(r.tensors)) x.dispose();
  }
  const bytes = serializeSafetensors(src, meta);
  const header = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  t.is((8 + header) % 8, 0, 'data starts 8-byte aligned');
  const r = parseSafetensors(bytes);
  t.deepEqual([...r.tensors['c.bf16'].toArray()], [...src['c.bf16'].toArray()]);
  for (const x of [...Object.values(r.tensors), ...Object.values(src)]) x.dispose();
});

test.serial('mmap tensors keep the mapping alive, writes stay private, unaligned data is copied', async (t) => {
  const w = randn([64, 64], { seed: 5 });
  const p = join(dir, 'big.safetensors');
  await saveSafetensors(p, { w });
  const before = memory().cpu.bytes;
  const r = await loadSafetensors(p, { mmap: true });
  t.is(memory().cpu.bytes, before, 'mapped tensors are not allocator memory');
  const x = r.tensors.w;
  x.data()[0] = 42; // copy-on-write: the file is unchanged
  const again = await loadSafetensors(p, { mmap: false });
  t.is(again.tensors.w.toFloat32()[0], w.toFloat32()[0]);
  t.is(x.toFloat32()[0], 42);
  const view = x.slice(0, 1, 3);
  x.dispose();
  t.is(view.toFloat32().length, 128); // the view still reads the mapping
  // An F32 tensor at an odd offset (valid file, unaligned data): loaded by copy.
  const img = image({ u8: { dtype: 'U8', shape: [1], data_offsets: [0, 1] }, f: { dtype: 'F32', shape: [2], data_offsets: [1, 9] } }, 9);
  const pu = join(dir, 'unaligned.safetensors');
  writeFileSync(pu, img);
  const u = await loadSafetensors(pu, { mmap: true });
  t.is(u.tensors.f.toFloat32().length, 2);
  for (const v of [view, w, again.tensors.w, u.tensors.f, u.tensors.u8]) v.dispose();
});

test('header validation: each check is an E_FORMAT naming the problem', (t) => {
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  t.notThrows(() => Object.values(parseSafetensors(image(ok, 8)).tensors).forEach((x) => x.dispose()));
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(5), /shorter than its 8-byte header/],
    ['header past EOF', image(ok, 8).slice(0, 20), /runs past the end/],
    ['header too large', (() => { const b = image(ok, 8); new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true); return b; })(), /100 MiB/],
    ['not JSON', image(null, 8, { rawHeader: '{"a": [1, 2' }), /safetensors header/],
    ['not an object', image(null, 8, { rawHeader: '[1,2]   ' }), /does not start with/],
    ['trailing garbage', image(null, 8, { rawHeader: JSON.stringify(ok) + 'x' }), /unexpected data/],
    ['duplicate key', image(null, 8, { rawHeader: '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{}}' }), /duplicate key 'a'/],
    ['unknown dtype', image({ a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, 8), /'F64' is not supported/],
    ['unknown field', image({ a: { ...ok.a, extra: 1 } }, 8), /unknown field 'extra'/],
    ['missing field', image({ a: { dtype: 'F32', shape: [2] } }, 8), /needs dtype, shape and data_offsets/],
    ['negative dim', image({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8), /non-negative integers/],
    ['fractional dim', image({ a: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } }, 8), /non-negative integers/],
    ['too many dims', image({ a: { dtype: 'U8', shape: [1, 1, 1, 1, 1, 1, 1, 1, 1], data_offsets: [0, 1] } }, 1), /at most 8/],
    ['size mismatch', image({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /hold 8 bytes but F32\[3\] needs 12/],
    ['huge shape', image({ a: { dtype: 'F32', shape: [2 ** 31, 2 ** 31, 2 ** 31], data_offsets: [0, 8] } }, 8), /overflows/],
    ['backwards offsets', image({ a: { dtype: 'U8', shape: [0], data_offsets: [8, 0] } }, 8), /run backwards/],
    ['data past EOF', image({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8), /past the end of the file/],
    ['overlap', image({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /overlaps tensor 'a'/],
    ['hole', image({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /belong to no tensor/],
    ['trailing data', image(ok, 12), /last 4 bytes/],
    ['metadata not strings', image({ __metadata__: { k: 1 }, ...ok }, 8), /__metadata__ value of 'k'/],
    ['empty name', image({ '': ok.a }, 8), /empty name/],
    ['bad escape', image(null, 8, { rawHeader: '{"a\\q":1}' }), /unknown escape/],
    ['lone surrogate', image(null, 8, { rawHeader: '{"\\ud800":1}' }), /surrogate/],
    ['deep nesting', image(null, 8, { rawHeader: '{"a":' + '['.repeat(50) + ']'.repeat(50) + '}' }), /nesting too deep/],
  ];
  for (const [what, bytes, re] of cases) {
    const e = t.throws(() => parseSafetensors(bytes), fmt(re), what);
    if (!e) t.log(what);
  }
});

test('a missing file is E_IO; a directory is E_IO', async (t) => {
  await t.throwsAsync(() => loadSafetensors(join(dir, 'nope.safetensors')), { instanceOf: EngramError, code: 'E_IO' });
  t.throws(() => loadSafetensorsSync(dir, { mmap: true }), { instanceOf: EngramError, code: 'E_IO' });
});

test('fuzz: corrupt and hostile files load or fail with EngramError, never crash', async (t) => {
  const rnd = seeded(2024);
  const int = (n: number) => Math.floor((rnd() + 0.5) * n) % Math.max(n, 1);
  const src = sample();
  const good = serializeSafetensors(src, { k: 'v' });
  for (const x of Object.values(src)) x.dispose();
  const hlen = Number(new DataView(good.buffer).getBigUint64(0, true));
  const headerText = Buffer.from(good.subarray(8, 8 + hlen)).toString('utf8');
  const mutants: Uint8Array[] = [];
  // truncations at every length around the header and a sample of the rest
  for (let n = 0; n < good.length; n += n < 8 + hlen + 16 ? 1 : 7) mutants.push(good.slice(0, n));
  // flipped / random bytes anywhere
  for (let i = 0; i < 600; i++) {
    const m = good.slice();
    const flips = 1 + int(4);
    for (let f = 0; f < flips; f++) m[int(m.length)] = int(256);
    mutants.push(m);
  }
  // header rewrites: lying offsets, huge shapes, wrong dtypes, odd JSON
  const edits: ((h: Record<string, any>) => void)[] = [
    (h) => { const k = Object.keys(h).find((x) => x !== '__metadata__')!; h[k].data_offsets = [int(1e6), int(1e6)]; },
    (h) => { const k = Object.keys(h).find((x) => x !== '__metadata__')!; h[k].data_offsets[1] += 1 + int(64); },
    (h) => { const k = Object.keys(h).find((x) => x !== '__metadata__')!; h[k].data_offsets = [0, 2 ** 63]; },
    (h) => { const k = Object.keys(h).find((x) => x !== '__metadata__')!; h[k].shape = [2 ** 40, 2 ** 40]; },
    (h) => { const k = Object.keys(h).find((x) => x !== '__metadata__')!; h[k].shape = [1e300]; },
    (h) => { const k = Object.keys(h).find((x) => x !== '__metadata__')!; h[k].dtype = ['F64', 'BOOL', 'I64', 'f32', '', 7][int(6)]; },
    (h) => { const k = Object.keys(h).find((x) => x !== '__metadata__')!; h[k].shape = 'x'; },
    (h) => { h.__metadata__ = [1, 2]; },
    (h) => { h['x'.repeat(int(5000))] = { dtype: 'U8', shape: [0], data_offsets: [0, 0] }; },
  ];
  for (let i = 0; i < 300; i++) {
    const h = JSON.parse(headerText) as Record<string, any>;
    edits[int(edits.length)](h);
    if (rnd() < 0.3) edits[int(edits.length)](h);
    mutants.push(image(null, good.length - 8 - hlen, { rawHeader: JSON.stringify(h) }));
  }
  // pure noise, with plausible and absurd header lengths
  for (let i = 0; i < 200; i++) {
    const m = Uint8Array.from({ length: int(300) }, () => int(256));
    if (m.length >= 8 && rnd() < 0.5) new DataView(m.buffer).setBigUint64(0, BigInt(int(m.length)), true);
    mutants.push(m);
  }
  let loaded = 0, rejected = 0;
  for (const m of mutants) {
    try {
      const r = parseSafetensors(m);
      for (const x of Object.values(r.tensors)) x.dispose();
      loaded++;
    } catch (e) {
      if (!(e instanceof EngramError) || !['E_FORMAT', 'E_OOM'].includes(e.code)) throw e;
      rejected++;
    }
  }
  // A sample through real files, both load paths.
  let files = 0;
  for (let i = 0; i < mutants.length; i += 9) {
    const p = join(dir, `fuzz-${i}.safetensors`);
    writeFileSync(p, mutants[i]);
    for (const mmap of [false, true]) {
      try {
        const r = await loadSafetensors(p, { mmap });
        for (const x of Object.values(r.tensors)) x.dispose();
      } catch (e) {
        if (!(e instanceof EngramError) || !['E_FORMAT', 'E_OOM'].includes(e.code)) throw e;
      }
      files++;
    }
    rmSync(p);
  }
  t.log(`${mutants.length} mutants: ${loaded} loaded, ${rejected} rejected; ${files} file loads`);
  t.true(rejected > mutants.length * 0.8);
  t.true(loaded > 0, 'some flips land in tensor data and still load');
});
