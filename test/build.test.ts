/**
 * binding.gyp (CPU-only fallback) and CMake compile the same sources: both read
 * native/sources.txt; here we check what CMake actually compiled, then build
 * the gyp addon in a scratch copy and load it in a child process.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');

function sources(...sections: string[]): string[] {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'sources.mjs'), '--json', ...sections], { encoding: 'utf8' });
  return JSON.parse(r.stdout) as string[];
}

test('CMake compiled exactly the sources.txt lists', (t) => {
  const cc = join(root, 'build', 'compile_commands.json');
  if (!existsSync(cc)) return t.fail('build/compile_commands.json missing: run npm install');
  const cmds = JSON.parse(readFileSync(cc, 'utf8')) as { file: string }[];
  const compiled = new Set(cmds.map((c) => relative(root, c.file)).filter((f) => !f.startsWith('test/')));
  const cuda = compiled.has('cuda/backend_cuda.cu');
  const want = new Set(sources('core', 'napi', cuda ? 'cuda' : 'nocuda'));
  t.deepEqual([...compiled].sort(), [...want].sort());
  const gyp = sources('core', 'napi', 'nocuda');
  t.deepEqual(gyp.filter((f) => !want.has(f)), cuda ? sources('nocuda') : [], 'gyp differs only by the [nocuda] stubs');
});

test('the node-gyp fallback builds and its addon works', (t) => {
  const gyp = process.env.npm_config_node_gyp;
  if (process.env.ENGRAM_SKIP_GYP === '1') return t.pass('ENGRAM_SKIP_GYP=1');
  if (!gyp) return t.fail('run through npm (npm test) so npm_config_node_gyp is set');
  const dir = mkdtempSync(join(tmpdir(), 'engram-gyp-'));
  try {
    for (const p of ['binding.gyp', 'package.json', 'native', 'scripts']) cpSync(join(root, p), join(dir, p), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    const b = spawnSync(process.execPath, [gyp, 'rebuild', '--nodedir=/usr', '-j', '2'], { cwd: dir, encoding: 'utf8' });
    t.is(b.status, 0, b.stderr.slice(-3000));
    const node = join(dir, 'build', 'Release', 'engram.node');
    t.true(existsSync(node));
    const smoke = `
      const e = require(${JSON.stringify(join(root, 'dist', 'lib', 'index.js'))});
      const b = e.buildInfo(), cuda = e.backends().find((x) => x.name === 'cuda');
      const x = e.tensor([[1, 2], [3, 4]]);
      const y = e.ops.matmul(x, x).toFloat32();
      console.log(JSON.stringify({ cuda: b.cudaCompiled, reason: cuda.reason, y: Array.from(y) }));`;
    const r = spawnSync(process.execPath, ['-e', smoke], {
      encoding: 'utf8',
      env: { ...process.env, ENGRAM_NATIVE_PATH: node },
    });
    t.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    t.false(out.cuda);
    t.regex(out.reason, /built without CUDA/);
    t.deepEqual(out.y, [7, 10, 15, 22]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
