/**
 * safetensors files: loadSafetensors (validated natively, off the JS thread,
 * memory-mapped for large files) and saveSafetensors (header + data written
 * from the tensors' memory). The format:
 *   [u64 little-endian header length N][N bytes of JSON][data]
 *   {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "value"}}
 * engram writes the header padded with spaces to a multiple of 8 bytes and
 * the tensors back to back in the given order, as the reference writer does.
 * dtypes: f32 F32, f16 F16, bf16 BF16, i32 I32, u8 U8, i8 I8.
 */
import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { open as openAsync, rename as renameAsync, unlink as unlinkAsync } from 'node:fs/promises';

import { native, type NativeSafetensors } from '../binding.js';
import type { DType } from '../dtype.js';
import { EngramError, check } from '../errors.js';
import { Tensor, fromHandle } from '../tensor.js';

const TO_ST: Partial<Record<DType, string>> = { f32: 'F32', f16: 'F16', bf16: 'BF16', i32: 'I32', u8: 'U8', i8: 'I8' };

export interface LoadOptions {
  /**
   * Map the file instead of reading it: tensors view the mapping (copy-on-write)
   * and keep it alive. Default: files of 64 MiB and more.
   */
  mmap?: boolean;
}

export interface SafetensorsContents {
  /** Tensors by name, in file order (the caller owns them). */
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
  /** Whether the tensors view a memory mapping. */
  mapped: boolean;
}

export type TensorMap = Record<string, Tensor> | Map<string, Tensor>;

const MMAP_THRESHOLD = 64 * 2 ** 20;

function wrap(r: NativeSafetensors): SafetensorsContents {
  const tensors: Record<string, Tensor> = {};
  r.names.forEach((n, i) => (tensors[n] = fromHandle(r.tensors[i])));
  return { tensors, metadata: { ...r.metadata }, mapped: r.mapped };
}

function wantMmap(path: string, o: LoadOptions): boolean {
  if (o.mmap !== undefined) return o.mmap;
  try {
    return statSync(path).size >= MMAP_THRESHOLD;
  } catch {
    return false; // the native open reports the error with its code
  }
}

/** Reads a safetensors file (validated; a corrupt file is an EngramError E_FORMAT). */
export async function loadSafetensors(path: string, o: LoadOptions = {}): Promise<SafetensorsContents> {
  return wrap(await native.loadSafetensors(path, wantMmap(path, o)));
}

export function loadSafetensorsSync(path: string, o: LoadOptions = {}): SafetensorsContents {
  return wrap(native.loadSafetensorsSync(path, wantMmap(path, o)));
}

/** Parses safetensors bytes held in memory (copies the tensors out). */
export function parseSafetensors(bytes: Uint8Array): SafetensorsContents {
  return wrap(native.parseSafetensors(bytes));
}

interface Prepared {
  header: Buffer;
  parts: { t: Tensor; bytes: number }[];
}

function prepare(tensors: TensorMap, metadata?: Record<string, string>): Prepared {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const head: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata))
      check(typeof v === 'string', 'E_ARG', `saveSafetensors: metadata '${k}' must be a string`);
    head.__metadata__ = metadata;
  }
  let off = 0;
  const parts: Prepared['parts'] = [];
  for (const [name, t] of entries) {
    check(name.length > 0 && name !== '__metadata__', 'E_ARG', `saveSafetensors: bad tensor name '${name}'`);
    check(t instanceof Tensor, 'E_ARG', `saveSafetensors: '${name}' is not a Tensor`);
    check(!t.isDisposed, 'E_DISPOSED', `saveSafetensors: '${name}' was disposed`);
    const st = TO_ST[t.dtype];
    if (!st) throw new EngramError(`saveSafetensors: '${name}' is ${t.dtype}, which safetensors cannot hold`, 'E_DTYPE');
    const bytes = t.nbytes;
    head[name] = { dtype: st, shape: [...t.shape], data_offsets: [off, off + bytes] };
    off += bytes;
    parts.push({ t, bytes });
  }
  let json = JSON.stringify(head);
  const raw = Buffer.byteLength(json);
  json += ' '.repeat((8 - ((8 + raw) % 8)) % 8);
  const n = Buffer.byteLength(json);
  const header = Buffer.alloc(8 + n);
  header.writeBigUInt64LE(BigInt(n), 0);
  header.write(json, 8, 'utf8');
  return { header, parts };
}

/** The bytes of a tensor: a zero-copy view for contiguous CPU tensors, else a copy. */
function bytesOf(t: Tensor): Uint8Array {
  const a = t.device === 'cpu' && t.isContiguous ? t.data() : t.toArray();
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Writes tensors (+ string metadata) as a safetensors file. The file appears
 * atomically (written next to `path`, then renamed).
 */
export async function saveSafetensors(path: string, tensors: TensorMap, metadata?: Record<string, string>): Promise<void> {
  const p = prepare(tensors, metadata);
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fh = await openAsync(tmp, 'w');
  try {
    await fh.write(p.header);
    for (const { t } of p.parts) await fh.write(bytesOf(t));
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlinkAsync(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  await renameAsync(tmp, path);
}

export function saveSafetensorsSync(path: string, tensors: TensorMap, metadata?: Record<string, string>): void {
  const p = prepare(tensors, metadata);
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, p.header);
    for (const { t } of p.parts) writeSync(fd, bytesOf(t));
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/** The serialized bytes (what saveSafetensors writes), for tests and in-memory use. */
export function serializeSafetensors(tensors: TensorMap, metadata?: Record<string, string>): Uint8Array {
  const p = prepare(tensors, metadata);
  const out = new Uint8Array(p.header.length + p.parts.reduce((a, x) => a + x.bytes, 0));
  out.set(p.header, 0);
  let off = p.header.length;
  for (const { t, bytes } of p.parts) {
    out.set(bytesOf(t), off);
    off += bytes;
  }
  return out;
}

/**
 * Renames tensors by rules ([pattern, replacement] pairs, first match wins;
 * unmatched names are kept unless `dropUnmatched`). For mapping checkpoints
 * from other naming schemes (docs/weights.md).
 */
export function renameTensors(
  tensors: Record<string, Tensor>,
  rules: readonly [RegExp, string][],
  o: { dropUnmatched?: boolean } = {},
): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const rule = rules.find(([re]) => re.test(name));
    if (!rule && o.dropUnmatched) continue;
    const to = rule ? name.replace(rule[0], rule[1]) : name;
    check(!(to in out), 'E_ARG', `renameTensors: two tensors map to '${to}'`);
    out[to] = t;
  }
  return out;
}
