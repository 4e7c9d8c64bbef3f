// Runs `ava --tap` (extra args passed through), echoes its output, then prints
// one plain closing line "N passed, N failed, N skipped" that CI log readers
// recognise, and exits with ava's exit code. Counts come from TAP result lines;
// TODO counts as skipped; a non-zero exit with no failing test (crash, no test
// files) counts as one failure.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const avaCli = join(dirname(require.resolve('ava')), 'cli.mjs');
const child = spawn(process.execPath, [avaCli, '--tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, ENGRAM_POISON: process.env.ENGRAM_POISON ?? '1' },
});
let out = '';
child.stdout.on('data', (d) => {
  out += d;
  process.stdout.write(d);
});
child.on('close', (code) => {
  let passed = 0,
    failed = 0,
    skipped = 0;
  for (const m of out.matchAll(/^(not ok|ok) \d+ .*?(?:# (SKIP|TODO)\b.*)?$/gm)) {
    if (m[2]) skipped++;
    else if (m[1] === 'ok') passed++;
    else failed++;
  }
  const exit = code ?? 1;
  if (exit !== 0 && failed === 0) failed = 1;
  console.log(`ava: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exitCode = exit;
});
