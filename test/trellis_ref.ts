/**
 * Float64 JS oracles for ops.trellis, written from docs/trellis.md
 * independently of the C++ (token loops only):
 *   trellisRef — the reconstruction's token loop with stale anchors at chunk
 *                starts (chunkSize 1 = the exact recurrence), every option
 *   abcRef     — ABC (bounded-memory control): K̃ += φ kᵀ, Ṽ += φ vᵀ, o = Ṽᵀ softmax(K̃ q)
 *   gsaRef     — Gated Slot Attention: K̃ = diag(a) K̃ + (1 − a) kᵀ (same for Ṽ), o = Ṽᵀ softmax(K̃ q)
 * Flat row-major data: sequences [B, T, H, D], alpha / per-slot beta
 * [B, T, H, m], gates [B, T, H], states [B, H, m, D].
 */
export interface TrDims {
  B: number;
  T: number;
  H: number;
  dk: number;
  dv: number;
  m: number;
}

export interface TrRefOpts {
  C?: number;
  phi?: 'identity' | 'siluNorm' | 'layerNorm';
  f?: 'softmax' | 'siluNorm' | 'layerNormSilu' | 'identity';
  write?: 'ogd' | 'additive';
  scale?: number;
  lr?: number;
  eps?: number;
  /** per-slot beta [B, T, H, m] instead of [B, T, H] */
  slotBeta?: boolean;
  offset?: number;
  init?: { MK?: Float64Array; MV?: Float64Array; SK?: Float64Array; SV?: Float64Array; AK?: Float64Array; AV?: Float64Array };
}

export interface TrRefInputs {
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  alpha: Float64Array;
  beta?: Float64Array | null;
  gamma?: Float64Array | null;
  eta?: Float64Array | null;
}

const silu = (x: number) => x / (1 + Math.exp(-x));
const siluGrad = (x: number) => {
  const s = 1 / (1 + Math.exp(-x));
  return s * (1 + x * (1 - s));
};

/** u = J_φ(z)ᵀ (φ(z) − a), by the chain rule written out per kind. */
export function phiGrad(kind: string, z: number[], a: number[], eps: number): number[] {
  const m = z.length;
  if (kind === 'identity') return z.map((x, r) => x - a[r]);
  if (kind === 'siluNorm') {
    const s = z.map(silu);
    const n = Math.sqrt(s.reduce((p, x) => p + x * x, 0) + eps);
    const phi = s.map((x) => x / n);
    const g = phi.map((p, r) => p - a[r]);
    // dφ_i/ds_j = δ_ij / n − s_i s_j / n³
    const sg = s.reduce((p, x, j) => p + x * g[j], 0);
    return z.map((x, j) => siluGrad(x) * (g[j] / n - (s[j] * sg) / n ** 3));
  }
  // layerNorm: x̂ = (z − μ)/σ, σ = sqrt(var + eps); dx̂_i/dz_j = (δ_ij − 1/m − x̂_i x̂_j / m)/σ
  const mu = z.reduce((p, x) => p + x, 0) / m;
  const sd = Math.sqrt(z.reduce((p, x) => p + (x - mu) ** 2, 0) / m + eps);
  const xh = z.map((x) => (x - mu) / sd);
  const g = xh.map((x, r) => x - a[r]);
  return z.map((_, j) => {
    let acc = 0;
    for (let i = 0; i < m; i++) acc += g[i] * ((i === j ? 1 : 0) - 1 / m - (xh[i] * xh[j]) / m);
    return acc / sd;
  });
}

export function fMap(kind: string, x: number[], scale: number, eps: number): number[] {
  const y = x.map((v) => v * scale);
  if (kind === 'identity') return y;
  if (kind === 'softmax') {
    const mx = Math.max(...y);
    const e = y.map((v) => Math.exp(v - mx));
    const s = e.reduce((p, v) => p + v, 0);
    return e.map((v) => v / s);
  }
  const s = y.map(silu);
  if (kind === 'siluNorm') {
    const n = Math.sqrt(s.reduce((p, v) => p + v * v, 0) + eps);
    return s.map((v) => v / n);
  }
  const mu = s.reduce((p, v) => p + v, 0) / s.length;
  const sd = Math.sqrt(s.reduce((p, v) => p + (v - mu) ** 2, 0) / s.length + eps);
  return s.map((v) => (v - mu) / sd);
}

export function trellisRef(d: TrDims, x: TrRefInputs, o: TrRefOpts = {}) {
  const { B, T, H, dk, dv, m } = d;
  const C = o.C ?? 1, scale = o.scale ?? 1, eps = o.eps ?? 1e-6, lr = o.lr ?? 1;
  const phi = o.phi ?? 'identity', f = o.f ?? 'layerNormSilu', write = o.write ?? 'ogd', off = o.offset ?? 0;
  const mom = !!x.eta;
  const out = new Float64Array(B * T * H * dv);
  const fin = {
    MK: new Float64Array(B * H * m * dk), MV: new Float64Array(B * H * m * dv),
    SK: new Float64Array(B * H * m * dk), SV: new Float64Array(B * H * m * dv),
    AK: new Float64Array(B * H * m * dk), AV: new Float64Array(B * H * m * dv),
  };
  const row = (a: Float64Array, i: number, n: number) => Array.from(a.subarray(i * n, (i + 1) * n));
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const init = (k: keyof NonNullable<TrRefOpts['init']>, w: number) => {
        const s = o.init?.[k];
        return s ? Array.from(s.subarray(bh * m * w, (bh + 1) * m * w)) : new Array(m * w).fill(0);
      };
      const MK = init('MK', dk), MV = init('MV', dv), SK = init('SK', dk), SV = init('SV', dv);
      let AK = o.init?.AK ? init('AK', dk) : [...MK], AV = o.init?.AV ? init('AV', dv) : [...MV];
      const pass = (M: number[], S: number[], A: number[], w: number[], a: number[], be: number[], g: number, e: number) => {
        const W = w.length;
        const z = Array.from({ length: m }, (_, r) => w.reduce((p, x, j) => p + A[r * W + j] * x, 0));
        const u = write === 'additive' ? a.map((v) => -v) : phiGrad(phi, z, a, eps);
        for (let r = 0; r < m; r++)
          for (let j = 0; j < W; j++) {
            const step = g * u[r] * w[j];
            if (mom) {
              S[r * W + j] = e * S[r * W + j] - step;
              M[r * W + j] = be[r] * M[r * W + j] + S[r * W + j];
            } else M[r * W + j] = be[r] * M[r * W + j] - step;
          }
      };
      for (let t = 0; t < T; t++) {
        if ((off + t) % C === 0) {
          AK = [...MK];
          AV = [...MV];
        }
        const i3 = (b * T + t) * H + h;
        const a = row(x.alpha, i3, m);
        const be = x.beta ? (o.slotBeta ? row(x.beta, i3, m) : new Array(m).fill(x.beta[i3])) : new Array(m).fill(1);
        const g = x.gamma ? x.gamma[i3] : lr, e = x.eta ? x.eta[i3] : 0;
        const q = row(x.q, i3, dk), k = row(x.k, i3, dk), v = row(x.v, i3, dv);
        pass(MK, SK, AK, k, a, be, g, e);
        const s = fMap(f, Array.from({ length: m }, (_, r) => q.reduce((p, y, j) => p + MK[r * dk + j] * y, 0)), scale, eps);
        pass(MV, SV, AV, v, a, be, g, e);
        for (let j = 0; j < dv; j++) out[i3 * dv + j] = s.reduce((p, y, r) => p + y * MV[r * dv + j], 0);
      }
      fin.MK.set(MK, bh * m * dk);
      fin.MV.set(MV, bh * m * dv);
      fin.SK.set(SK, bh * m * dk);
      fin.SV.set(SV, bh * m * dv);
      fin.AK.set(AK, bh * m * dk);
      fin.AV.set(AV, bh * m * dv);
    }
  return { o: out, ...fin, offset: (off + T) % C };
}

/** ABC (Peng et al. 2022) with control vectors φ = alpha; optional query scale. */
export function abcRef(d: TrDims, q: Float64Array, k: Float64Array, v: Float64Array, phi: Float64Array, scale = 1) {
  return slotRef(d, q, k, v, scale, (i3, r) => [1, phi[i3 * d.m + r]]);
}

/** Gated Slot Attention (Zhang et al. 2024) with per-slot forget gate a [B, T, H, m]. */
export function gsaRef(d: TrDims, q: Float64Array, k: Float64Array, v: Float64Array, a: Float64Array, scale = 1) {
  return slotRef(d, q, k, v, scale, (i3, r) => [a[i3 * d.m + r], 1 - a[i3 * d.m + r]]);
}

// K̃[r] = keep K̃[r] + write k, Ṽ[r] = keep Ṽ[r] + write v; o = Ṽᵀ softmax(scale K̃ q).
function slotRef(d: TrDims, q: Float64Array, k: Float64Array, v: Float64Array, scale: number,
  gate: (i3: number, r: number) => [number, number]) {
  const { B, T, H, dk, dv, m } = d;
  const out = new Float64Array(B * T * H * dv);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const K = new Float64Array(m * dk), V = new Float64Array(m * dv);
      for (let t = 0; t < T; t++) {
        const i3 = (b * T + t) * H + h;
        for (let r = 0; r < m; r++) {
          const [keep, w] = gate(i3, r);
          for (let j = 0; j < dk; j++) K[r * dk + j] = keep * K[r * dk + j] + w * k[i3 * dk + j];
          for (let j = 0; j < dv; j++) V[r * dv + j] = keep * V[r * dv + j] + w * v[i3 * dv + j];
        }
        const logits = Array.from({ length: m }, (_, r) => {
          let s = 0;
          for (let j = 0; j < dk; j++) s += K[r * dk + j] * q[i3 * dk + j];
          return s * scale;
        });
        const mx = Math.max(...logits);
        const e = logits.map((x) => Math.exp(x - mx));
        const z = e.reduce((p, x) => p + x, 0);
        for (let j = 0; j < dv; j++) {
          let y = 0;
          for (let r = 0; r < m; r++) y += (e[r] / z) * V[r * dv + j];
          out[i3 * dv + j] = y;
        }
      }
    }
  return out;
}
