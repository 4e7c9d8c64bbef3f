// Compiles the TypeScript (lib/ and test/) into dist/ when the compiler is
// installed (a clone with dev dependencies); a packaged install ships dist/.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let tsc;
try {
  // typescript's "exports" hide bin/tsc; find it next to package.json.
  tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
} catch {
  if (existsSync(join(root, 'dist', 'lib', 'index.js'))) process.exit(0);
  console.error('[build-ts] TypeScript is not installed and dist/ is missing');
  process.exit(1);
}
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
