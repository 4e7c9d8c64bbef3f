/**
 * Element types. f16/bf16 are stored as raw 16-bit patterns (Uint16Array);
 * u4/u2/u1 are bit-packed codes (Uint8Array of bytes, see docs/quant.md).
 */
import type { NativeDType, NativeDevice } from './binding.js';

export type DType = NativeDType;
export type FloatDType = 'f32' | 'f16' | 'bf16';
export type Device = NativeDevice;

export interface DTypeArrayMap {
  f32: Float32Array;
  f16: Uint16Array;
  bf16: Uint16Array;
  i32: Int32Array;
  u8: Uint8Array;
  i8: Int8Array;
  u4: Uint8Array;
  u2: Uint8Array;
  u1: Uint8Array;
}
export type TypedArrayFor<D extends DType> = DTypeArrayMap[D];

export const DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'i32', 'u8', 'i8', 'u4', 'u2', 'u1'];
export const FLOAT_DTYPES: readonly FloatDType[] = ['f32', 'f16', 'bf16'];

/** Bits per logical element. */
export function dtypeBits(d: DType): number {
  switch (d) {
    case 'f32':
    case 'i32':
      return 32;
    case 'f16':
    case 'bf16':
      return 16;
    case 'u8':
    case 'i8':
      return 8;
    case 'u4':
      return 4;
    case 'u2':
      return 2;
    case 'u1':
      return 1;
  }
}

export function isFloat(d: DType): d is FloatDType {
  return d === 'f32' || d === 'f16' || d === 'bf16';
}

// ---- scalar f16 / bf16 conversions (round to nearest even), for JS-side use ----
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32ToBf16(x: number): number {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16ToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export function f32ToF16(x: number): number {
  f32[0] = x;
  const u = u32[0];
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a < 0x38800000) {
    if (a < 0x33000000) return sign;
    const e = a >>> 23;
    const m = (a & 0x7fffff) | 0x800000;
    const shift = 126 - e;
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  const r = a - 0x38000000;
  return sign | (((r + 0xfff + ((r >>> 13) & 1)) >>> 13) & 0xffff);
}
