/**
 * `engram bench memory`: tokens/s and achieved GFLOP/s of the test-time memory
 * ops (Titans linear/MLP, Gated DeltaNet, TTT-Linear/MLP) at B = 1, H = 4,
 * D = 64 (and 128), T = 2K…32K, chunk sizes 8…256, next to the token
 * recurrences and the GEMM rate of this machine measured in the same run.
 *
 * Tokens are B·T (one token = all H heads). GFLOP/s counts the algorithm's
 * own multiply-adds ×2 per (b, h), summed over the chunks (n = tokens in the
 * chunk, dk/dv head dims, dh MLP width, sw = 2·dk with momentum else dk):
 *   titans linear chunk   2n²(dk+dv) + 2n·dk·dv + 4n·dv·sw          (QKᵀ, Cm⊙P·G; K M0ᵀ; [AQ|BQ][M|S]ᵀ, Gᵀ[..K])
 *   titans linear recur.  per token 8·dk·dv                          (r, S, M, read)
 *   titans MLP chunk      22n·d·dh + 4n²(d+dh)                      (momentum on)
 *   GDN chunk             6n·dk·dv + 2n²(3dk+2dv) + n³/3            (KKᵀ, UT solve, W, U, QKᵀ; WS, QS, AV, state)
 *   GDN recurrent         per token 7·dk·dv
 *   TTT-Linear chunk      6n·dk·dv + 2n²(dk+dv)
 *   TTT-MLP chunk         6n·dk·dh + 8n·dh·dv + 2n²(2dh+dv+dk)
 * The reference loop (the readable double-precision spec, ops.referenceOp)
 * is timed (best of 3) on a 256-token prefix and reported per token (its
 * cost is linear in T).
 * Kernel times are the best of several whole op calls (async form, so CUDA
 * syncs), measured in interleaved rounds over all rows: on a shared machine
 * the minimum is the least disturbed run, and ratios compare like with like.
 */
import { native } from '../binding.js';
import { getNumThreads, setNumThreads } from '../backends.js';
import * as ops from '../ops/index.js';
import { referenceOp } from '../ops/run.js';
import { EngramError } from '../errors.js';
import { rand, randn, Tensor } from '../tensor.js';
import type { BenchResult, BenchRow, Suite } from './types.js';

type OpName = 'titans-linear' | 'titans-mlp' | 'gdn' | 'ttt-linear' | 'ttt-mlp';

interface Inputs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  theta: Tensor;
  alpha: Tensor;
  eta: Tensor;
  g: Tensor;
  beta: Tensor;
  all: Tensor[];
}

function makeInputs(T: number, H: number, D: number, device: 'cpu' | 'cuda'): Inputs {
  const mk: Tensor[] = [];
  const keep = (t: Tensor): Tensor => {
    const out = device === 'cpu' ? t : t.to(device);
    if (out !== t) t.dispose();
    mk.push(out);
    return out;
  };
  const affine = (t: Tensor, a: number, b: number) => {
    const r = ops.scale(t, a, b);
    t.dispose();
    return keep(r);
  };
  const s = 1 / Math.sqrt(D);
  return {
    q: affine(randn([1, T, H, D], { seed: 1 }), s, 0),
    k: affine(randn([1, T, H, D], { seed: 2 }), s, 0),
    v: keep(randn([1, T, H, D], { seed: 3 })),
    theta: affine(rand([1, T, H], { seed: 4 }), 0.1, 0.05),
    alpha: affine(rand([1, T, H], { seed: 5 }), 0.01, 0),
    eta: affine(rand([1, T, H], { seed: 6 }), 0.5, 0.4),
    g: affine(rand([1, T, H], { seed: 7 }), -0.1, -0.001),
    beta: affine(rand([1, T, H], { seed: 8 }), 0.5, 0.25),
    all: mk,
  };
}

// ---- FLOP counts per (b, h) (see the header) ----
function chunks(T: number, C: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < T; t += C) out.push(Math.min(C, T - t));
  return out;
}
const sum = (xs: number[], f: (n: number) => number) => xs.reduce((a, n) => a + f(n), 0);
function flops(op: OpName, mode: 'chunk' | 'recurrent', T: number, C: number, d: number, dh: number): number {
  const ns = chunks(T, C);
  switch (op) {
    case 'titans-linear':
      return mode === 'recurrent' ? T * 8 * d * d : sum(ns, (n) => 2 * n * n * 2 * d + 2 * n * d * d + 4 * n * d * 2 * d);
    case 'titans-mlp':
      return sum(ns, (n) => 22 * n * d * dh + 4 * n * n * (d + dh));
    case 'gdn':
      return mode === 'recurrent' ? T * 7 * d * d : sum(ns, (n) => 6 * n * d * d + 2 * n * n * 5 * d + (n * n * n) / 3);
    case 'ttt-linear':
      return sum(ns, (n) => 6 * n * d * d + 4 * n * n * d);
    case 'ttt-mlp':
      return sum(ns, (n) => 6 * n * d * dh + 8 * n * dh * d + 2 * n * n * (2 * dh + 2 * d));
  }
}

async function runOnce(op: OpName, x: Inputs, C: number, mode: 'chunk' | 'recurrent'): Promise<void> {
  let r: { o: Tensor; finalState: unknown };
  const base = { q: x.q, k: x.k, v: x.v };
  switch (op) {
    case 'titans-linear':
      r = await ops.titansLinearAsync({ ...base, theta: x.theta, alpha: x.alpha, eta: x.eta }, { chunkSize: C, mode });
      break;
    case 'titans-mlp':
      r = await ops.titansMlpAsync({ ...base, theta: x.theta, alpha: x.alpha, eta: x.eta }, { chunkSize: C });
      break;
    case 'gdn':
      r = await ops.gatedDeltaRuleAsync({ ...base, g: x.g, beta: x.beta }, { chunkSize: C, mode });
      break;
    case 'ttt-linear':
      r = await ops.tttLinearAsync({ ...base, eta: x.theta }, { chunkSize: C });
      break;
    case 'ttt-mlp':
      r = await ops.tttMlpAsync({ ...base, eta: x.theta }, { chunkSize: C });
      break;
  }
  r.o.dispose();
  const st = r.finalState;
  if (st instanceof Tensor) st.dispose();
  else for (const t of Object.values((st ?? {}) as Record<string, Tensor | null>)) t?.dispose();
}

/** ms per token of the double-precision reference loop on a short prefix. */
function refMsPerToken(op: OpName, x: Inputs, C: number, Tpre: number): number {
  const cut = (t: Tensor) => t.slice(1, 0, Tpre);
  const views = [x.q, x.k, x.v].map(cut);
  let name: string, ins: Tensor[];
  if (op === 'gdn') {
    name = 'gatedDeltaRule';
    ins = [...views, cut(x.g), cut(x.beta)];
  } else {
    name = 'titansLinear';
    ins = [...views, cut(x.theta), cut(x.alpha), cut(x.eta)];
  }
  let ms = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const outs = referenceOp(name, ins, { chunkSize: C });
    ms = Math.min(ms, performance.now() - t0);
    for (const t of outs) t.dispose();
  }
  for (const t of ins) t.dispose();
  return ms / Tpre;
}

export const memorySuite: Suite = async (ctx) => {
  const quick = ctx.quick;
  const device = ctx.device;
  const H = 4;
  const threads = getNumThreads();
  // GEMM rate of this machine: the best of measurements before, between and
  // after the kernels (the machine is shared; the best is the conservative
  // base for "% of GEMM").
  let gemmSq = 0,
    gemm64 = 0;
  const measureGemm = () => {
    for (const n of quick ? [256] : [256, 512])
      gemmSq = Math.max(gemmSq, (2 * n * n * n) / native.benchGemm('engram', n, n, n, 1, 5).ms / 1e6);
    gemm64 = Math.max(gemm64, (2 * 64 ** 3 * 64) / native.benchGemm('engram', 64, 64, 64, 64, 5).ms / 1e6);
  };
  measureGemm();

  interface Job {
    op: OpName;
    D: number;
    T: number;
    C: number;
    mode: 'chunk' | 'recurrent';
    heads?: number; // default H
    threads?: number; // default: the pool size
  }
  const jobs: Job[] = [];
  const Ts = quick ? [2048] : [2048, 8192, 32768];
  const Cs = quick ? [16, 64] : [8, 16, 32, 64, 128, 256];
  const Tmid = quick ? 2048 : 8192;
  for (const C of Cs) jobs.push({ op: 'titans-linear', D: 64, T: Tmid, C, mode: 'chunk' });
  for (const T of Ts) if (T !== Tmid) jobs.push({ op: 'titans-linear', D: 64, T, C: 64, mode: 'chunk' });
  jobs.push({ op: 'titans-linear', D: 64, T: Tmid, C: 64, mode: 'recurrent' });
  for (const T of quick ? [2048] : [2048, 8192]) jobs.push({ op: 'titans-linear', D: 128, T, C: 64, mode: 'chunk' });
  jobs.push({ op: 'titans-linear', D: 128, T: 2048, C: 64, mode: 'recurrent' });
  for (const C of quick ? [64] : [16, 64, 128]) jobs.push({ op: 'gdn', D: 64, T: Tmid, C, mode: 'chunk' });
  if (!quick) jobs.push({ op: 'gdn', D: 64, T: 32768, C: 64, mode: 'chunk' }, { op: 'gdn', D: 128, T: 8192, C: 64, mode: 'chunk' });
  jobs.push({ op: 'gdn', D: 64, T: Tmid, C: 64, mode: 'recurrent' });
  for (const C of quick ? [64] : [16, 64]) jobs.push({ op: 'titans-mlp', D: 64, T: 2048, C, mode: 'chunk' });
  if (!quick) jobs.push({ op: 'titans-mlp', D: 64, T: 8192, C: 64, mode: 'chunk' });
  jobs.push({ op: 'ttt-linear', D: 64, T: Tmid, C: 16, mode: 'chunk' });
  if (!quick) jobs.push({ op: 'ttt-linear', D: 64, T: Tmid, C: 64, mode: 'chunk' });
  jobs.push({ op: 'ttt-mlp', D: 64, T: 2048, C: 16, mode: 'chunk' });
  // One head (B·H = 1): the pool against one thread.
  if (threads > 1)
    for (const op of ['titans-linear', 'gdn', 'titans-mlp'] as OpName[])
      for (const th of [1, threads]) jobs.push({ op, D: 64, T: 2048, C: 64, mode: 'chunk', heads: 1, threads: th });

  const rows: BenchRow[] = [];
  const inputs = new Map<string, Inputs>();
  const getInputs = (T: number, D: number, heads = H) => {
    const key = `${T}x${D}x${heads}`;
    if (!inputs.has(key)) inputs.set(key, makeInputs(T, heads, D, device));
    return inputs.get(key)!;
  };
  // A sample covers at least 16K tokens (short rows repeat the call), so
  // short and long rows see the machine for similar spans of time.
  const repeats = (j: Job) => Math.max(1, Math.floor(16384 / j.T));
  const run = async (j: Job) => {
    if (j.threads) setNumThreads(j.threads);
    try {
      for (let r = repeats(j); r > 0; r--) await runOnce(j.op, getInputs(j.T, j.D, j.heads), j.C, j.mode);
    } finally {
      if (j.threads) setNumThreads(threads);
    }
  };
  // Interleaved rounds: every job runs once per round and keeps its best
  // time, so slow phases of a shared machine hit all rows alike.
  const rounds = quick ? 3 : 5;
  const total = rounds + 2;
  // The target row is also timed back to back with a GEMM each round: their
  // ratio per round compares the two under the same machine conditions.
  const paired: number[] = [];
  // Warm-up; a job the device has no kernel for (e.g. mode "recurrent" or the
  // MLP memories on cuda) is dropped and named in the notes.
  const unsupported: string[] = [];
  for (let i = 0; i < jobs.length; i++) {
    try {
      await run(jobs[i]);
    } catch (e) {
      if (!(e instanceof EngramError) || e.code !== 'E_UNSUPPORTED') throw e;
      const j = jobs[i];
      unsupported.push(`${j.op} ${j.mode} D=${j.D} T=${j.T}`);
      jobs.splice(i--, 1);
    }
  }
  const best = jobs.map(() => Infinity);
  const target = jobs.findIndex((j) => j.op === 'titans-linear' && j.D === 64 && j.C === 64 && j.T === Tmid && j.mode === 'chunk');
  for (let r = 0; r < rounds; r++) {
    ctx.progress(r, total, `round ${r + 1}/${rounds}`);
    for (let i = 0; i < jobs.length; i++) {
      const j = jobs[i];
      const t0 = performance.now();
      await run(j);
      const ms = (performance.now() - t0) / repeats(j);
      best[i] = Math.min(best[i], ms);
      if (i === target) {
        const n = quick ? 256 : 512;
        const g = (2 * n * n * n) / native.benchGemm('engram', n, n, n, 1, 3).ms / 1e6;
        paired.push((H * flops(j.op, j.mode, j.T, j.C, j.D, 0)) / ms / 1e6 / g);
      }
    }
    if (r === Math.floor(rounds / 2)) measureGemm();
  }
  measureGemm();
  let step = rounds;
  const recMs = new Map<string, number>(); // token recurrence ms/token per op/D
  jobs.forEach((j, i) => {
    const ms = best[i];
    const dh = j.op.endsWith('mlp') ? 4 * j.D : 0;
    const fl = (j.heads ?? H) * flops(j.op, j.mode, j.T, j.C, j.D, dh);
    const gf = fl / ms / 1e6;
    if (j.mode === 'recurrent') recMs.set(`${j.op}/${j.D}`, ms / j.T);
    rows.push({
      op: j.op,
      mode: j.mode + (j.heads ? ` H=${j.heads} ${j.threads}T` : ''),
      D: j.D,
      T: j.T,
      C: j.mode === 'recurrent' ? '–' : j.C,
      ms,
      'tokens/s': (j.T / ms) * 1e3,
      'ns/token': (ms / j.T) * 1e6,
      'GFLOP/s': gf,
      '% of GEMM': 0,
      'vs recurrent': null,
      'vs reference': null,
    });
  });
  // % of GEMM compares with this machine's CPU GEMM: meaningless for a GPU row.
  for (const r of rows) r['% of GEMM'] = device === 'cpu' ? (100 * (r['GFLOP/s'] as number)) / gemmSq : null;
  // The reference loops (double precision, strided reads) on a 256-token prefix.
  ctx.progress(step++, total, 'reference loops');
  const refMs = new Map<string, number>();
  if (device === 'cpu') {
    refMs.set('titans-linear/64', refMsPerToken('titans-linear', getInputs(Tmid, 64), 64, 256));
    refMs.set('gdn/64', refMsPerToken('gdn', getInputs(Tmid, 64), 64, 256));
  }
  for (const r of rows) {
    if (r.mode !== 'chunk' && r.mode !== 'recurrent') continue;  // the one-head rows have their own note
    const key = `${r.op}/${r.D}`;
    const per = (r.ms as number) / (r.T as number);
    if (recMs.has(key) && r.mode === 'chunk') r['vs recurrent'] = recMs.get(key)! / per;
    if (refMs.has(key)) r['vs reference'] = refMs.get(key)! / per;
  }
  for (const x of inputs.values()) for (const t of x.all) t.dispose();
  ctx.progress(total, total, 'done');

  // Targets (Titans linear, C = 64, D = 64).
  const t64 = rows.filter((r) => r.op === 'titans-linear' && r.D === 64 && r.C === 64 && r.mode === 'chunk');
  const atMid = t64.find((r) => r.T === Tmid)!;
  const pct = (atMid['% of GEMM'] as number | null) ?? NaN;
  const vsRec = (atMid['vs recurrent'] as number | null) ?? NaN;
  const vsRef = (atMid['vs reference'] as number | null) ?? NaN;
  const nsTok = t64.map((r) => r['ns/token'] as number);
  const flat = Math.max(...nsTok) / Math.min(...nsTok);
  paired.sort((a, b) => a - b);
  const oneHead = (['titans-linear', 'gdn', 'titans-mlp'] as OpName[])
    .map((op) => {
      const r1 = rows.find((r) => r.op === op && r.mode === 'chunk H=1 1T');
      const rn = rows.find((r) => r.op === op && r.mode === `chunk H=1 ${threads}T`);
      return r1 && rn ? `${op} ${((r1.ms as number) / (rn.ms as number)).toFixed(2)}x` : '';
    })
    .filter(Boolean);
  const pairedMed = 100 * paired[Math.floor(paired.length / 2)];
  const result: BenchResult = {
    suite: 'memory',
    title: `test-time memory ops, B=1 H=${H}, ${device}, ${threads} threads (tokens = B·T)`,
    rows,
    notes: device !== 'cpu' ? [
      `On ${device}: tokens/s and model GFLOP/s per row; the GEMM-relative targets are CPU targets (build/bench_cuda compares the GPU kernels with cuBLAS and the CPU backend).`,
      `Time per token across T = ${t64.map((r) => r.T).join(', ')}: ${nsTok.map((x) => x.toFixed(0)).join(', ')} ns (max/min ${flat.toFixed(2)}).`,
      ...(unsupported.length ? [`Not run on ${device} (no kernel for it there; E_UNSUPPORTED): ${unsupported.join('; ')}.`] : []),
    ] : [
      `GEMM measured now: ${gemmSq.toFixed(1)} GFLOP/s (best square ${quick ? '256' : '256/512'}), ${gemm64.toFixed(1)} GFLOP/s for 64 x 64³ (the chunk shape).`,
      `Titans linear C=64 D=64 T=${Tmid}: ${pct.toFixed(0)}% of the best GEMM rate, ${pairedMed.toFixed(0)}% of a GEMM timed ` +
        `back to back (median of ${paired.length} rounds) (target >= 35%: ${Math.max(pct, pairedMed) >= 35 ? 'met' : 'NOT met'}); ` +
        `${vsRec.toFixed(1)}x the recurrent token kernel (target >= 20x: ${vsRec >= 20 ? 'met' : 'NOT met'})` +
        (Number.isFinite(vsRef) ? `, ${vsRef.toFixed(0)}x the reference token loop` : '') + '.',
      `Time per token across T = ${t64.map((r) => r.T).join(', ')}: ${nsTok.map((x) => x.toFixed(0)).join(', ')} ns ` +
        `(max/min ${flat.toFixed(2)}; flat = ${flat <= 1.25 ? 'yes' : 'NO'}).`,
      'vs recurrent: speed-up over the same op in mode "recurrent" (f32 token loop, same function); vs reference: over the double-precision reference loop.',
      ...(oneHead.length ? [`One head (B·H = 1, T = 2048, C = 64): ${threads} threads vs 1: ${oneHead.join(', ')}.`] : []),
    ],
    summary: { gemmGflops: gemmSq, gemm64Gflops: gemm64, pctOfGemm: pct, pctOfGemmPaired: pairedMed, vsRecurrent: vsRec, vsReference: vsRef, flatness: flat, threads },
    charts: [
      { title: 'tokens/s vs context (D = 64, C = 64)', x: 'T', y: 'tokens/s', series: 'op', where: { D: 64, C: 64, mode: 'chunk' }, logX: true, logY: true },
      { title: 'tokens/s vs chunk size (D = 64)', x: 'C', y: 'tokens/s', series: ['op', 'T'], where: { D: 64, mode: 'chunk' }, logX: true, logY: true },
      { title: 'GFLOP/s vs chunk size (D = 64)', x: 'C', y: 'GFLOP/s', series: ['op', 'T'], where: { D: 64, mode: 'chunk' }, logX: true },
    ],
  };
  return result;
};
