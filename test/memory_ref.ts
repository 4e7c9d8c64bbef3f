/**
 * Float64 JS oracles for the test-time memory ops, written from
 * algorithms.md independently of the C++ (token loops only):
 *   gdnRef        — the gated delta rule recurrence (§10(b))
 *   titansRef     — Titans stale-anchor token loop, linear or residual-MLP memory (§3(b))
 *   tttRef        — TTT primal mini-batch loop, linear or MLP, LN + residual (§9(b))
 * Data are flat row-major arrays: sequences [B, T, H, D], gates [B, T, H],
 * states [B, H, ...].
 */
import { tensor, type Tensor } from 'engram';

import { seeded } from './helpers.js';

export interface Dims {
  B: number;
  T: number;
  H: number;
  dk: number;
  dv: number;
}

export const idx4 = (d: { T: number; H: number }, D: number, b: number, t: number, h: number, i: number) =>
  ((b * d.T + t) * d.H + h) * D + i;
export const idx3 = (d: { T: number; H: number }, b: number, t: number, h: number) => (b * d.T + t) * d.H + h;

/** Gaussian-ish data in [-1, 1) * scale, or unit-norm rows over the last axis. */
export function data(n: number, seed: number, scale = 1): Float64Array {
  const r = seeded(seed);
  return Float64Array.from({ length: n }, () => 2 * r() * scale);
}
export function unitRows(rows: number, D: number, seed: number): Float64Array {
  const x = data(rows * D, seed);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < D; i++) s += x[r * D + i] ** 2;
    const inv = 1 / Math.sqrt(s + 1e-12);
    for (let i = 0; i < D; i++) x[r * D + i] *= inv;
  }
  return x;
}
export function uniform(n: number, seed: number, lo: number, hi: number): Float64Array {
  const r = seeded(seed);
  return Float64Array.from({ length: n }, () => lo + (hi - lo) * (r() + 0.5));
}

export const T32 = (x: ArrayLike<number>, shape: number[]): Tensor => tensor(Float32Array.from(x), shape);
/** Values exactly representable in f32 (so oracle and kernel see the same inputs). */
export const f32 = (x: Float64Array): Float64Array => Float64Array.from(Float32Array.from(x));

/** ‖got − want‖ / ‖want‖ (fla's RMS-ratio metric). */
export function rmsRatio(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

// ---- Gated DeltaNet ----
export function gdnRef(
  d: Dims,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  g: Float64Array,
  beta: Float64Array,
  scale: number,
  S0?: Float64Array,
): { o: Float64Array; S: Float64Array } {
  const { B, T, H, dk, dv } = d;
  const o = new Float64Array(B * T * H * dv);
  const Sout = new Float64Array(B * H * dk * dv);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const S = S0 ? S0.slice((b * H + h) * dk * dv, (b * H + h + 1) * dk * dv) : new Float64Array(dk * dv);
      for (let t = 0; t < T; t++) {
        const dec = Math.exp(g[idx3(d, b, t, h)]), be = beta[idx3(d, b, t, h)];
        for (let i = 0; i < S.length; i++) S[i] *= dec;
        const u = new Float64Array(dv);
        for (let j = 0; j < dv; j++) {
          let kS = 0;
          for (let e = 0; e < dk; e++) kS += k[idx4(d, dk, b, t, h, e)] * S[e * dv + j];
          u[j] = be * (v[idx4(d, dv, b, t, h, j)] - kS);
        }
        for (let e = 0; e < dk; e++) for (let j = 0; j < dv; j++) S[e * dv + j] += k[idx4(d, dk, b, t, h, e)] * u[j];
        for (let j = 0; j < dv; j++) {
          let s = 0;
          for (let e = 0; e < dk; e++) s += q[idx4(d, dk, b, t, h, e)] * S[e * dv + j];
          o[idx4(d, dv, b, t, h, j)] = scale * s;
        }
      }
      Sout.set(S, (b * H + h) * dk * dv);
    }
  return { o, S: Sout };
}

// ---- activations ----
export type Act = 'gelu' | 'geluTanh' | 'silu' | 'relu' | 'tanh';
function erf(x: number): number {
  // erfc by the Numerical Recipes Chebyshev fit (|relative error| < 1.2e-7).
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - y : y - 1;
}
export function act(a: Act, x: number): number {
  switch (a) {
    case 'gelu':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'geluTanh':
      return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)));
    case 'silu':
      return x / (1 + Math.exp(-x));
    case 'relu':
      return Math.max(x, 0);
    case 'tanh':
      return Math.tanh(x);
  }
}
/** Derivative by a central difference of act (independent of the kernels' closed forms). */
export function actGrad(a: Act, x: number): number {
  if (a === 'relu') return x > 0 ? 1 : 0;
  const h = 1e-5;
  return (act(a, x + h) - act(a, x - h)) / (2 * h);
}

// ---- Titans ----
export interface TitansRefOpts {
  C: number;
  momentum: boolean;
  decay: boolean;
  mlp?: { dh: number; act: Act };
}
/**
 * The stale-anchor token loop. Linear: state M [dv, dk] (+ S), y = M q.
 * MLP: W1 [d, dh], W2 [dh, d] (+ S1, S2), y = q + W1 act(W2 q).
 * `state` holds the initial tensors per (b, h) in that order (flat, [B, H, ...]).
 */
export function titansRef(
  d: Dims,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  theta: Float64Array,
  alpha: Float64Array | null,
  eta: Float64Array | null,
  o: TitansRefOpts,
  state: Float64Array[] = [],
): { o: Float64Array; state: Float64Array[] } {
  const { B, T, H, dk, dv } = d;
  const out = new Float64Array(B * T * H * dv);
  const sizes = o.mlp ? [dk * o.mlp.dh, o.mlp.dh * dk, dk * o.mlp.dh, o.mlp.dh * dk] : [dv * dk, dv * dk];
  const finals = sizes.map((s) => new Float64Array(B * H * s));
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const st = sizes.map((s, i) => (state[i] ? state[i].slice((b * H + h) * s, (b * H + h + 1) * s) : new Float64Array(s)));
      let anchors: Float64Array[] = [];
      for (let t = 0; t < T; t++) {
        if (t % o.C === 0) anchors = o.mlp ? [st[0].slice(), st[1].slice()] : [st[0].slice()];
        const th = theta[idx3(d, b, t, h)];
        const a = o.decay ? 1 - alpha![idx3(d, b, t, h)] : 1;
        const et = o.momentum ? eta![idx3(d, b, t, h)] : 0;
        const kt = Array.from({ length: dk }, (_, i) => k[idx4(d, dk, b, t, h, i)]);
        const vt = Array.from({ length: dv }, (_, i) => v[idx4(d, dv, b, t, h, i)]);
        const qt = Array.from({ length: dk }, (_, i) => q[idx4(d, dk, b, t, h, i)]);
        let grads: Float64Array[];
        if (!o.mlp) {
          const A = anchors[0];
          const g = new Float64Array(dv * dk);
          for (let j = 0; j < dv; j++) {
            let r = -vt[j];
            for (let e = 0; e < dk; e++) r += A[j * dk + e] * kt[e];
            for (let e = 0; e < dk; e++) g[j * dk + e] = 2 * r * kt[e];
          }
          grads = [g];
        } else {
          const { dh, act: f } = o.mlp;
          const [A1, A2] = anchors;
          const z = new Float64Array(dh), hh = new Float64Array(dh);
          for (let j = 0; j < dh; j++) {
            let s = 0;
            for (let i = 0; i < dk; i++) s += A2[j * dk + i] * kt[i];
            z[j] = s;
            hh[j] = act(f, s);
          }
          const e = new Float64Array(dk);
          for (let i = 0; i < dk; i++) {
            let s = kt[i] - vt[i];
            for (let j = 0; j < dh; j++) s += A1[i * dh + j] * hh[j];
            e[i] = s;
          }
          const g1 = new Float64Array(dk * dh), g2 = new Float64Array(dh * dk);
          for (let i = 0; i < dk; i++) for (let j = 0; j < dh; j++) g1[i * dh + j] = 2 * e[i] * hh[j];
          for (let j = 0; j < dh; j++) {
            let s = 0;
            for (let i = 0; i < dk; i++) s += A1[i * dh + j] * e[i];
            const dl = 2 * s * actGrad(f, z[j]);
            for (let i = 0; i < dk; i++) g2[j * dk + i] = dl * kt[i];
          }
          grads = [g1, g2];
        }
        const nw = grads.length;
        for (let w = 0; w < nw; w++) {
          const W = st[w], S = st[nw + w] ?? new Float64Array(0), g = grads[w];
          for (let i = 0; i < W.length; i++) {
            S[i] = et * S[i] - th * g[i];
            W[i] = a * W[i] + S[i];
          }
        }
        if (!o.mlp) {
          const M = st[0];
          for (let j = 0; j < dv; j++) {
            let s = 0;
            for (let e = 0; e < dk; e++) s += M[j * dk + e] * qt[e];
            out[idx4(d, dv, b, t, h, j)] = s;
          }
        } else {
          const { dh, act: f } = o.mlp;
          const [W1, W2] = st;
          const hq = new Float64Array(dh);
          for (let j = 0; j < dh; j++) {
            let s = 0;
            for (let i = 0; i < dk; i++) s += W2[j * dk + i] * qt[i];
            hq[j] = act(f, s);
          }
          for (let i = 0; i < dk; i++) {
            let s = qt[i];
            for (let j = 0; j < dh; j++) s += W1[i * dh + j] * hq[j];
            out[idx4(d, dv, b, t, h, i)] = s;
          }
        }
      }
      sizes.forEach((s, i) => finals[i].set(st[i], (b * H + h) * s));
    }
  return { o: out, state: finals };
}

// ---- TTT ----
export interface TttRefOpts {
  C: number;
  ln: boolean;
  residual: boolean;
  bias: boolean;
  tokenIdx?: boolean;
  eps?: number;
  mlp?: { dh: number; act: Act };
  gamma?: Float64Array; // [H, dv]
  beta?: Float64Array;
}
function lnRow(z: Float64Array, g: Float64Array | null, b: Float64Array | null, eps: number): Float64Array {
  const D = z.length;
  let mu = 0;
  for (const x of z) mu += x;
  mu /= D;
  let v = 0;
  for (const x of z) v += (x - mu) ** 2;
  v /= D;
  const rs = 1 / Math.sqrt(v + eps);
  return z.map((x, j) => (g ? g[j] : 1) * (x - mu) * rs + (b ? b[j] : 0));
}
/** Gradient of ‖LN(z) − tgt‖² by central differences of the loss (independent of the closed form). */
function lossGrad(z: Float64Array, tgt: Float64Array, o: TttRefOpts, g: Float64Array | null, b: Float64Array | null) {
  const loss = (zz: Float64Array) => {
    const y = o.ln ? lnRow(zz, g, b, o.eps ?? 1e-6) : zz;
    let s = 0;
    for (let j = 0; j < y.length; j++) s += (y[j] - tgt[j]) ** 2;
    return s;
  };
  const out = new Float64Array(z.length);
  for (let j = 0; j < z.length; j++) {
    const hstep = 1e-6 * Math.max(1, Math.abs(z[j]));
    const zp = z.slice(), zm = z.slice();
    zp[j] += hstep;
    zm[j] -= hstep;
    out[j] = (loss(zp) - loss(zm)) / (2 * hstep);
  }
  return out;
}
/**
 * Primal mini-batch loop. Linear state [W [dk, dv], b [dv]]; MLP
 * [W1 [dk, dh], b1 [dh], W2 [dh, dv], b2 [dv]] (biases zero and unused without bias).
 */
export function tttRef(
  d: Dims,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  eta: Float64Array,
  o: TttRefOpts,
  state: Float64Array[] = [],
): { o: Float64Array; state: Float64Array[] } {
  const { B, T, H, dk, dv } = d;
  const dh = o.mlp?.dh ?? 0;
  const sizes = o.mlp ? [dk * dh, dh, dh * dv, dv] : [dk * dv, dv];
  const finals = sizes.map((s) => new Float64Array(B * H * s));
  const out = new Float64Array(B * T * H * dv);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const gam = o.gamma ? o.gamma.slice(h * dv, (h + 1) * dv) : null;
      const bet = o.beta ? o.beta.slice(h * dv, (h + 1) * dv) : null;
      const st = sizes.map((s, i) => (state[i] ? state[i].slice((b * H + h) * s, (b * H + h + 1) * s) : new Float64Array(s)));
      // f_res(x; params) -> [pre-activation z1 (mlp), hidden x2 (mlp), output z]
      const fres = (x: ArrayLike<number>, p: Float64Array[]) => {
        if (!o.mlp) {
          const z = new Float64Array(dv);
          for (let j = 0; j < dv; j++) {
            let s = o.bias ? p[1][j] : 0;
            for (let e = 0; e < dk; e++) s += x[e] * p[0][e * dv + j];
            z[j] = s;
          }
          return { z1: null, x2: null, z };
        }
        const z1 = new Float64Array(dh), x2 = new Float64Array(dh), z = new Float64Array(dv);
        for (let j = 0; j < dh; j++) {
          let s = o.bias ? p[1][j] : 0;
          for (let e = 0; e < dk; e++) s += x[e] * p[0][e * dh + j];
          z1[j] = s;
          x2[j] = act(o.mlp.act, s);
        }
        for (let j = 0; j < dv; j++) {
          let s = o.bias ? p[3][j] : 0;
          for (let e = 0; e < dh; e++) s += x2[e] * p[2][e * dv + j];
          z[j] = s;
        }
        return { z1, x2, z };
      };
      for (let t0 = 0; t0 < T; t0 += o.C) {
        const n = Math.min(o.C, T - t0);
        const anchor = st.map((x) => x.slice());
        const sums = sizes.map((s) => new Float64Array(s));
        for (let i = 0; i < n; i++) {
          const t = t0 + i;
          const kt = Array.from({ length: dk }, (_, e) => k[idx4(d, dk, b, t, h, e)]);
          const vt = Array.from({ length: dv }, (_, e) => v[idx4(d, dv, b, t, h, e)]);
          const qt = Array.from({ length: dk }, (_, e) => q[idx4(d, dk, b, t, h, e)]);
          const tgt = Float64Array.from(vt, (x, j) => x - (o.residual ? kt[j] : 0));
          const f = fres(kt, anchor);
          const gz = lossGrad(f.z, tgt, o, gam, bet);
          const et = eta[idx3(d, b, t, h)];
          if (!o.mlp) {
            for (let e = 0; e < dk; e++) for (let j = 0; j < dv; j++) sums[0][e * dv + j] += et * kt[e] * gz[j];
            for (let j = 0; j < dv; j++) sums[1][j] += et * gz[j];
          } else {
            const gz1 = new Float64Array(dh);
            for (let e = 0; e < dh; e++) {
              let s = 0;
              for (let j = 0; j < dv; j++) s += gz[j] * anchor[2][e * dv + j];
              gz1[e] = s * actGrad(o.mlp.act, f.z1![e]);
            }
            for (let e = 0; e < dk; e++) for (let j = 0; j < dh; j++) sums[0][e * dh + j] += et * kt[e] * gz1[j];
            for (let j = 0; j < dh; j++) sums[1][j] += et * gz1[j];
            for (let e = 0; e < dh; e++) for (let j = 0; j < dv; j++) sums[2][e * dv + j] += et * f.x2![e] * gz[j];
            for (let j = 0; j < dv; j++) sums[3][j] += et * gz[j];
          }
          const ct = o.tokenIdx ? 1 / (i + 1) : 1;
          st.forEach((x, w) => {
            for (let e = 0; e < x.length; e++) x[e] = anchor[w][e] - ct * sums[w][e];
          });
          const zb = fres(qt, st).z;
          const y = o.ln ? lnRow(zb, gam, bet, o.eps ?? 1e-6) : zb;
          for (let j = 0; j < dv; j++) out[idx4(d, dv, b, t, h, j)] = y[j] + (o.residual ? qt[j] : 0);
        }
      }
      sizes.forEach((s, i) => finals[i].set(st[i], (b * H + h) * s));
    }
  return { o: out, state: finals };
}
