/**
 * `engram bench kv`: quantized KV caches against f32 and bf16 caches in the
 * same run. Head dim 128, 8 heads, context 4K…128K (quick: 1K, 4K). For each
 * format: bytes per token, bits per value (codes + norms/scales + window),
 * encode throughput (vectors/s through append), decode-step attention time
 * (one query per head, timed natively) next to the f32 and bf16 caches and
 * as GB/s of cache bytes read against the machine's read bandwidth measured
 * now, and the attention-output error vs the f32 cache (mean cosine,
 * relative L2, 16 queries × 8 heads) on random Gaussian keys and on
 * heavy-tailed keys (8 outlier channels per head with a ±12 offset and 4×
 * spread). Key quantizers are calibrated on the first 1024 keys (outlier
 * channels per head; `center` subtracts the per-channel mean, which leaves
 * attention unchanged); values are Gaussian.
 */
import { native } from '../binding.js';
import { getNumThreads } from '../backends.js';
import { KVCache, type CacheStorage } from '../quant/kvcache.js';
import * as quant from '../quant/quantizer.js';
import { Tensor, randn } from '../tensor.js';
import type { BenchResult, BenchRow, Suite } from './types.js';

const H = 8, D = 128, CHUNK = 4096, NQ = 16;

interface Format {
  name: string;
  bits: string;  // nominal label
  make: (calib: Tensor) => [CacheStorage, CacheStorage];
}

const FORMATS: Format[] = [
  { name: 'f32', bits: '32', make: () => ['f32', 'f32'] },
  { name: 'bf16', bits: '16', make: () => ['bf16', 'bf16'] },
  { name: 'int8', bits: '8', make: () => [quant.int8(), quant.int8()] },
  { name: 'turbo 4', bits: '4', make: (c) => [quant.turboQuant({ dim: D, bits: 4, seed: 1, calibration: c, center: true }), quant.turboQuant({ dim: D, bits: 4, seed: 2 })] },
  {
    name: 'turbo 3.5',
    bits: '3.5',
    make: (c) => [quant.turboQuant({ dim: D, bits: 3.5, seed: 1, calibration: c, center: true }), quant.turboQuant({ dim: D, bits: 3.5, seed: 2 })],
  },
  {
    name: 'turbo 3.5 uncentered',
    bits: '3.5',
    make: (c) => [quant.turboQuant({ dim: D, bits: 3.5, seed: 1, calibration: c }), quant.turboQuant({ dim: D, bits: 3.5, seed: 2 })],
  },
  {
    name: 'turbo 3.5 prod-K',
    bits: '3.5',
    make: (c) => [
      quant.turboQuant({ dim: D, bits: 3.5, seed: 1, variant: 'prod', calibration: c, center: true }),
      quant.turboQuant({ dim: D, bits: 3.5, seed: 2 }),
    ],
  },
  {
    name: 'turbo 2.5',
    bits: '2.5',
    make: (c) => [quant.turboQuant({ dim: D, bits: 2.5, seed: 1, calibration: c, center: true }), quant.turboQuant({ dim: D, bits: 2.5, seed: 2 })],
  },
  { name: 'turbo 3.5 hadamard', bits: '3.5', make: (c) => [
    quant.turboQuant({ dim: D, bits: 3.5, seed: 1, rotation: 'hadamard', calibration: c, center: true }),
    quant.turboQuant({ dim: D, bits: 3.5, seed: 2, rotation: 'hadamard' })] },
  { name: 'qjl-256 K / kivi-2 V', bits: '≈3', make: (c) => [
    quant.qjl({ dim: D, sketchDim: 256, outliers: 8, outlierSketchDim: 128, seed: 1, calibration: c, center: true }), quant.kivi({ bits: 2 })] },
  { name: 'kivi 4', bits: '4', make: () => [quant.kivi({ bits: 4 }), quant.kivi({ bits: 4 })] },
  { name: 'kivi 2', bits: '2', make: () => [quant.kivi({ bits: 2 }), quant.kivi({ bits: 2 })] },
];

/** Keys of one chunk: Gaussian, or with 8 outlier channels per head (offset ±12, spread 4). */
function keysChunk(kind: string, t0: number, n: number): Tensor {
  const k = randn([n, H, D], { seed: 1000 + t0 });
  if (kind === 'random') return k;
  const a = k.data<'f32'>();
  for (let t = 0; t < n; t++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < 8; i++) {
        const c = (h * 37 + i * 13 + 5) % D;  // a fixed, head-dependent outlier set
        const idx = (t * H + h) * D + c;
        a[idx] = (i % 2 ? 12 : -12) + 4 * a[idx];
      }
  return k;
}

function outputError(got: Float32Array, want: Float32Array): { cos: number; rel: number } {
  let cos = 0, e = 0, s = 0;
  const vecs = got.length / D;
  for (let v = 0; v < vecs; v++) {
    let dot = 0, ng = 0, nw = 0;
    for (let c = 0; c < D; c++) {
      const x = got[v * D + c], y = want[v * D + c];
      dot += x * y; ng += x * x; nw += y * y;
      e += (x - y) * (x - y); s += y * y;
    }
    cos += dot / Math.sqrt(ng * nw);
  }
  return { cos: cos / vecs, rel: Math.sqrt(e / s) };
}

export const kvSuite: Suite = async (ctx) => {
  const contexts = ctx.quick ? [1024, 4096] : [4096, 16384, 65536, 131072];
  const maxN = contexts[contexts.length - 1];
  const reps = ctx.quick ? 3 : 5;
  const bw = native.quantReadBandwidth(ctx.quick ? 256 : 1024, 3);
  const rows: BenchRow[] = [];
  const kinds = ['random', 'heavy-tailed'];
  const total = kinds.length * (maxN / Math.min(CHUNK, contexts[0]) + contexts.length);
  let step = 0;
  const summary: Record<string, unknown> = { readBandwidthGBs: bw, threads: getNumThreads(), contexts };

  for (const kind of kinds) {
    const calib = keysChunk(kind, 0, 1024);
    const caches = FORMATS.map((f) => {
      const [k, v] = f.make(calib);
      return { f, cache: new KVCache({ heads: H, headDim: D, maxTokens: maxN, keys: k, values: v }), encMs: 0 };
    });
    calib.dispose();
    const q = randn([NQ, H, D], { seed: 7 });
    const q1 = randn([1, H, D], { seed: 8 });
    const chunk = Math.min(CHUNK, contexts[0]);
    for (let t0 = 0; t0 < maxN; t0 += chunk) {
      const n = Math.min(chunk, maxN - t0);
      ctx.progress(step++, total, `${kind}: append ${t0 + n}`);
      const k = keysChunk(kind, t0, n), v = randn([n, H, D], { seed: 5000 + t0 });
      for (const c of caches) {
        const t = performance.now();
        c.cache.append(k, v);
        c.encMs += performance.now() - t;
      }
      k.dispose();
      v.dispose();
      const len = t0 + n;
      if (!contexts.includes(len)) continue;
      ctx.progress(step++, total, `${kind}: attend at ${len}`);
      const ref = caches[0].cache.attend(q, { causal: false });
      const refA = ref.toFloat32();
      ref.dispose();
      // Decode-step times, round-robin over the formats so load spikes hit them alike.
      const times = new Map<string, number>();
      for (let r = 0; r < reps; r++)
        for (const c of caches) {
          const ms = c.cache.benchAttend(q1, 1).best;
          times.set(c.f.name, Math.min(times.get(c.f.name) ?? Infinity, ms));
        }
      for (const c of caches) {
        const o = c.cache.attend(q, { causal: false });
        const err = outputError(o.toFloat32(), refA);
        o.dispose();
        const ms = times.get(c.f.name)!;
        const bytes = c.cache.bytes();
        const bpv = (bytes * 8) / (len * H * D * 2);
        rows.push({
          keys: kind,
          context: len,
          format: c.f.name,
          'bits/value': bpv,
          'bytes/token': bytes / len,
          'vs 16-bit': 16 / bpv,
          'encode Mvec/s': (len * H * 2) / c.encMs / 1000,
          'attend ms': ms,
          'vs bf16': 0,
          'vs f32': 0,
          'GB/s': bytes / ms / 1e6,
          '% of bw': (100 * bytes / ms / 1e6) / bw,
          cosine: err.cos,
          'rel L2': err.rel,
        });
      }
      for (const r of rows)
        if (r.keys === kind && r.context === len) {
          r['vs bf16'] = (times.get('bf16') ?? NaN) / (r['attend ms'] as number);
          r['vs f32'] = (times.get('f32') ?? NaN) / (r['attend ms'] as number);
        }
    }
    q.dispose();
    q1.dispose();
    for (const c of caches) c.cache.dispose();
  }
  ctx.progress(total, total, 'done');

  // Targets.
  const at = (kind: string, name: string, len = maxN) => rows.find((r) => r.keys === kind && r.format === name && r.context === len)!;
  const t35 = at('random', 'turbo 3.5'), t25 = at('random', 'turbo 2.5');
  const q35 = quant.turboQuant({ dim: D, bits: 3.5 }).bits(), q25 = quant.turboQuant({ dim: D, bits: 2.5 }).bits();
  const cosR = at('random', 'turbo 3.5').cosine as number, cosH = at('heavy-tailed', 'turbo 3.5').cosine as number;
  const speed = Math.min(...kinds.map((k) => at(k, 'turbo 3.5')['vs bf16'] as number));
  const speed25 = Math.min(...kinds.map((k) => at(k, 'turbo 2.5')['vs bf16'] as number));
  const yes = (b: boolean) => (b ? 'met' : 'NOT met');
  const notes = [
    `Machine: ${getNumThreads()} threads; read bandwidth measured now ${bw.toFixed(1)} GB/s. Times are best of ${reps} native attend() calls per format, interleaved (one query per head, 8 heads).`,
    `"vs bf16"/"vs f32" = that cache's attend time / this one's (>1 = faster). "GB/s" = cache bytes / attend time. Compression "vs 16-bit" counts every stored byte (codes, f16 norms/scales, f32 residual window).`,
    `Compression at 3.5 bits: ${(t35['vs 16-bit'] as number).toFixed(2)}x with norms counted (${q35.bitsPerValue} bits/value), ${q35.codeCompression.toFixed(2)}x on code bits alone (the paper's accounting): target >= 4.5x ${yes((t35['vs 16-bit'] as number) >= 4.5)} counting norms, ${yes(q35.codeCompression >= 4.5)} on codes.`,
    `Compression at 2.5 bits: ${(t25['vs 16-bit'] as number).toFixed(2)}x with norms (${q25.bitsPerValue} bits/value), ${q25.codeCompression.toFixed(2)}x on codes: target >= 6x ${yes((t25['vs 16-bit'] as number) >= 6)} counting norms, ${yes(q25.codeCompression >= 6)} on codes.`,
    `Attention-output cosine at 3.5 bits (turbo 3.5, ${maxN} tokens): random ${cosR.toFixed(4)}, heavy-tailed ${cosH.toFixed(4)}: target >= 0.99 ${yes(cosR >= 0.99 && cosH >= 0.99)}.`,
    `Decode attention at ${maxN} tokens, turbo 3.5 vs bf16: ${speed.toFixed(2)}x (turbo 2.5: ${speed25.toFixed(2)}x): target "no slower" ${yes(speed >= 1)}. turbo 3.5 reads ${(at('random', 'turbo 3.5')['GB/s'] as number).toFixed(1)} GB/s of codes (${(at('random', 'turbo 3.5')['% of bw'] as number).toFixed(0)}% of bandwidth: compute-bound), bf16 ${(at('random', 'bf16')['GB/s'] as number).toFixed(1)} GB/s (${(at('random', 'bf16')['% of bw'] as number).toFixed(0)}%).`,
  ];
  Object.assign(summary, { cosine35: { random: cosR, heavy: cosH }, speedVsBf16: speed, compression35: t35['vs 16-bit'], compression25: t25['vs 16-bit'] });
  const result: BenchResult = {
    suite: 'kv',
    title: `KV cache formats, ${H} heads × ${D}, decode step (1 query/head), contexts ${contexts.join(', ')}`,
    rows,
    columns: ['keys', 'context', 'format', 'bits/value', 'bytes/token', 'vs 16-bit', 'encode Mvec/s', 'attend ms', 'vs bf16', 'vs f32',
      'GB/s', '% of bw', 'cosine', 'rel L2'],
    notes,
    summary,
    charts: [
      { title: `error vs bits (${maxN} tokens)`, x: 'bits/value', y: 'rel L2', series: 'keys', where: { context: maxN }, logY: true },
      { title: `attention cosine vs bits (${maxN} tokens)`, x: 'bits/value', y: 'cosine', series: 'keys', where: { context: maxN } },
      { title: 'decode attend ms vs context (random keys)', x: 'context', y: 'attend ms', series: 'format', where: { keys: 'random' }, logX: true, logY: true },
    ],
  };
  return result;
};
