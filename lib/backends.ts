/** What the addon was built with and what this machine offers. */
import { native, type NativeBackendInfo, type NativeBuildInfo } from './binding.js';

export type BackendInfo = NativeBackendInfo;

/** CPU and CUDA backends: availability (with the reason when not), threads, features, GPU. */
export function backends(): BackendInfo[] {
  return native.backends();
}

export function buildInfo(): NativeBuildInfo {
  return native.buildInfo();
}

/** True when a CUDA device is usable now. */
export function cudaAvailable(): boolean {
  return native.backends().some((b) => b.name === 'cuda' && b.available);
}

/** Threads used by CPU kernels (default: the number of cores, or ENGRAM_NUM_THREADS). */
export function setNumThreads(n: number): number {
  return native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}

export interface MemoryInfo {
  /** Live JS tensor handles (not yet disposed or collected). */
  tensors: number;
  cpu: { buffers: number; bytes: number; peakBytes: number };
  cuda: { buffers: number; bytes: number; peakBytes: number };
}

/** Live tensors and native bytes per device. */
export function memory(): MemoryInfo {
  const m = native.memory();
  return {
    tensors: m.handles,
    cpu: { buffers: m.cpu.buffers, bytes: m.cpu.bytes, peakBytes: m.cpu.peakBytes },
    cuda: { buffers: m.cuda.buffers, bytes: m.cuda.bytes, peakBytes: m.cuda.peakBytes },
  };
}
