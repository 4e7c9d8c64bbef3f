// The one native build entry point (npm "install" and "build:native").
// cmake-js (the build of record: CPU always, CUDA when nvcc is found) when
// cmake is on PATH, otherwise node-gyp with binding.gyp (CPU-only fallback).
//   ENGRAM_BUILD=cmake|gyp   force one
//   ENGRAM_CUDA=OFF          CPU-only cmake build
// A cmake build that FAILS is not retried with node-gyp: that would hide a
// broken CUDA/C++ build behind a CPU-only addon.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const run = (args) => {
  console.error(`[build-native] ${args.join(' ')}`);
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

const mode = process.env.ENGRAM_BUILD || (onPath('cmake') ? 'cmake' : 'gyp');
if (mode === 'cmake') {
  // cmake-js reuses a configured build/; start afresh when the CUDA switch
  // changed since the last build (recorded in build/.engram-cuda) or when
  // build/ came from node-gyp.
  const marker = join(root, 'build', '.engram-cuda');
  const wantCuda = !/^(off|0|no|false)$/i.test(process.env.ENGRAM_CUDA ?? 'ON');
  const cache = join(root, 'build', 'CMakeCache.txt');
  if (existsSync(join(root, 'build'))) {
    const had = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : '';
    if (!existsSync(cache) || had !== (wantCuda ? 'ON' : 'OFF')) rmSync(join(root, 'build'), { recursive: true, force: true });
  }
  const extra = wantCuda ? [] : ['--CDENGRAM_CUDA=OFF'];
  run([require.resolve('cmake-js/bin/cmake-js'), 'compile', ...extra, ...process.argv.slice(2)]);
  writeFileSync(marker, wantCuda ? 'ON\n' : 'OFF\n');
} else if (mode === 'gyp') {
  // npm puts its bundled node-gyp in npm_config_node_gyp for every script.
  const gyp = process.env.npm_config_node_gyp;
  if (!gyp) {
    console.error('[build-native] run this through npm (npm run build:native) so node-gyp is found');
    process.exit(1);
  }
  run([gyp, 'rebuild', ...process.argv.slice(2)]);
} else {
  console.error(`[build-native] unknown ENGRAM_BUILD=${mode} (cmake or gyp)`);
  process.exit(1);
}
