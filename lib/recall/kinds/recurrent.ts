/**
 * Shared by the recurrent-memory recall kinds (gdn, titans-linear,
 * titans-mlp): the fixed gate settings and small helpers.
 *
 * These memories learn at test time from the raw stream (unit keys k,
 * codebook values v, q = k while writing; no projections, no trained
 * weights). They are run as delta-rule associative memories: one write of
 * (k, v) moves the memory's prediction at k a fraction RECALL_STEP = 0.25 of
 * the way to v (GDN: β = 0.25; Titans: 2θ‖k‖²/(1 − η) = 0.25, with momentum
 * η = 0.5; the MLP memory normalises θ by its feature norm, see
 * titans_mlp.ts). No forgetting (g = 0, α off): the task asks for needles at
 * every depth. A partial step (rather than β = 1, which keeps only the last
 * ~Dk pairs exactly) keeps a least-squares-like blend of more pairs: about
 * 150–200 pairs per head are recalled at Dk = 64 — so at context T the
 * accuracy is roughly 150/T (≈ 15% at 1K, ≈ 5% at 4K; chance is 1/1024).
 * That is the honest capacity of a Dk × Dv state, not a tuning artefact:
 * 0.2–0.3 all give the same numbers within a point.
 */
import * as ops from '../../ops/index.js';
import { Tensor, tidy, zeros } from '../../tensor.js';
import type { Device } from '../../dtype.js';

/** Fraction of the error at k one write corrects. */
export const RECALL_STEP = 0.25;
/** Momentum decay of the Titans memories. */
export const RECALL_ETA = 0.5;

/** A [1, n, H] gate filled with `value`. */
export function constGate(n: number, heads: number, value: number, device: Device): Tensor {
  return tidy(() => {
    const z = zeros([1, n, heads], { device });
    return value === 0 ? ops.copy(z) : ops.scale(z, 0, value);
  });
}

/** Per-head product: x [1, Q, H, D] with w [1 | B, H, ...] → [H, Q, D] @ w_h (transB: w_hᵀ) as [1, Q, H, N]. */
export function perHead(x: Tensor, w: Tensor, transB: boolean): Tensor {
  return tidy(() => {
    const [, Q, H, D] = x.shape;
    const xh = x.reshape([Q, H, D]).transpose(0, 1); // [H, Q, D]
    const wh = w.reshape(w.shape.slice(1)); // [H, ., .]
    const y = ops.matmul(xh, wh, { transB }); // [H, Q, N]
    return ops.copy(y.transpose(0, 1)).reshape([1, Q, H, y.shape[2]]);
  });
}
