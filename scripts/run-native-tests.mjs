// Builds and runs the native test binaries (test/native/*.cpp) with plain
// CMake in build-native/ (CUDA when nvcc is found), without Node's headers.
// Prints their output; exits non-zero if any fails.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'build-native');
const sh = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  return r.status ?? 1;
};
const extra = /^(off|0|no|false)$/i.test(process.env.ENGRAM_CUDA ?? 'ON') ? ['-DENGRAM_CUDA=OFF'] : [];
if (sh('cmake', ['-S', '.', '-B', dir, '-DENGRAM_ADDON=OFF', '-DCMAKE_BUILD_TYPE=Release', ...extra]) !== 0) process.exit(1);
if (sh('cmake', ['--build', dir, '-j', '2']) !== 0) process.exit(1);
const tests = readdirSync(join(root, 'test', 'native')).filter((f) => /^test_.*\.cpp$/.test(f)).map((f) => f.slice(0, -4));
let failed = 0;
for (const t of tests) {
  console.log(`\n== ${t}`);
  if (sh(join(dir, t), process.argv.slice(2)) !== 0) failed++;
}
console.log(`\nnative: ${tests.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
