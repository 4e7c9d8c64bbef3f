// `npm test`: the ava suite (dist/test, after tsc) and the native test
// binaries built by `npm install` (build/test_*: the parity harness runs every
// op on every available backend). Ends with one line "N passed, N failed".
//   ENGRAM_TEST_NATIVE=0   skip the native binaries
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

let passed = 0, failed = 0, skipped = 0;
const ava = await run(process.execPath, [join(root, 'scripts', 'ava-summary.mjs'), ...process.argv.slice(2)]);
const m = /ava: (\d+) passed, (\d+) failed, (\d+) skipped/.exec(ava.out);
if (m) {
  passed += +m[1];
  failed += +m[2];
  skipped += +m[3];
} else failed++;

if (process.env.ENGRAM_TEST_NATIVE !== '0' && process.argv.length <= 2) {
  const dir = join(root, 'build');
  const bins = existsSync(dir)
    ? readdirSync(dir).filter((f) => /^test_\w+$/.test(f) && statSync(join(dir, f)).isFile())
    : [];
  if (!bins.length) {
    console.log('native: no test binaries in build/ (run npm install or npm run build:native)');
    failed++;
  }
  for (const b of bins) {
    console.log(`\n== native ${b}`);
    const r = await run(join(dir, b), []);
    const n = /(\d+) passed, (\d+) failed/.exec(r.out);
    if (n) {
      passed += +n[1];
      failed += +n[2];
    }
    if (r.code !== 0 && !(n && +n[2] > 0)) failed++;
  }
}
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
