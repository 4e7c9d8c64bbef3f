/**
 * `engram bench gemm`: f32 GEMM GFLOP/s at 256…2048 and batched small GEMMs
 * (64×64, 128×128 — the memory-kernel shapes), next to the measured FMA peak
 * of this machine and OpenBLAS's cblas_sgemm in the same run when installed.
 * Kernel times are measured natively (no N-API or allocation in the loop).
 */
import { native } from '../binding.js';
import { getNumThreads } from '../backends.js';
import type { BenchResult, BenchRow, Suite } from './types.js';

export const gemmSuite: Suite = async (ctx) => {
  const threads = getNumThreads();
  const peak1 = native.peakGflops(1);
  const peakN = native.peakGflops(threads);
  const square = ctx.quick ? [256, 512] : [256, 512, 1024, 1536, 2048];
  const batched: [number, number][] = ctx.quick ? [[64, 64]] : [[64, 256], [128, 64]];
  const total = square.length + batched.length;
  const rows: BenchRow[] = [];
  let step = 0;
  const add = (shape: string, M: number, N: number, K: number, batch: number) => {
    const reps = M * N * K * batch > 2e9 ? 3 : 7;
    const ours = native.benchGemm('engram', M, N, K, batch, reps);
    const ob = native.benchGemm('openblas', M, N, K, batch, reps);
    const flop = 2 * M * N * K * batch;
    const g = flop / ours.ms / 1e6;
    const gob = ob.ms > 0 ? flop / ob.ms / 1e6 : null;
    rows.push({
      shape,
      batch,
      'engram GFLOP/s': g,
      'OpenBLAS GFLOP/s': gob,
      'vs OpenBLAS': gob ? g / gob : null,
      '% of peak': (100 * g) / peakN,
    });
    return ob.note;
  };
  let obNote = '';
  for (const n of square) {
    ctx.progress(step++, total, `${n}x${n}x${n}`);
    obNote = add(`${n}x${n}x${n}`, n, n, n, 1);
  }
  for (const [n, b] of batched) {
    ctx.progress(step++, total, `${b} x ${n}x${n}x${n}`);
    obNote = add(`${n}x${n}x${n}`, n, n, n, b);
  }
  ctx.progress(total, total, 'done');
  const big = rows.filter((r) => r.batch === 1 && Number(String(r.shape).split('x')[0]) >= 1024);
  const ratio = big.length && big.every((r) => r['vs OpenBLAS'] !== null)
    ? Math.min(...big.map((r) => r['vs OpenBLAS'] as number)) : null;
  const small = rows.find((r) => r.batch !== 1 && String(r.shape).startsWith('64x'));
  const result: BenchResult = {
    suite: 'gemm',
    title: `f32 GEMM, ${threads} threads (kernel ${native.buildInfo().gemmKernel})`,
    rows,
    notes: [
      `FMA peak measured now: ${peakN.toFixed(1)} GFLOP/s on ${threads} threads (${peak1.toFixed(1)} on 1).`,
      obNote ? `OpenBLAS: ${obNote}` : 'OpenBLAS: not installed; targets are relative to the peak.',
      ratio !== null
        ? `Target ≥ 0.8× OpenBLAS at n ≥ 1024: worst ${ratio.toFixed(2)}× — ${ratio >= 0.8 ? 'met' : 'NOT met'}.`
        : `Target ≥ 55% of peak at n ≥ 1024: ${big.map((r) => (r['% of peak'] as number).toFixed(0) + '%').join(', ')}.`,
      small ? `Batched 64×64 target ≥ 40% of peak: ${(small['% of peak'] as number).toFixed(0)}% — ${(small['% of peak'] as number) >= 40 ? 'met' : 'NOT met'}.` : '',
    ].filter(Boolean),
    summary: { peakGflops: peakN, peakGflops1: peakN && peak1, threads, worstVsOpenblas: ratio },
    charts: [{ title: 'GFLOP/s vs size (one GEMM)', x: 'shape', y: ['engram GFLOP/s', 'OpenBLAS GFLOP/s'], where: { batch: 1 }, logX: true }],
  };
  return result;
};
