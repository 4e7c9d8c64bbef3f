/**
 * Every CPU dispatch path is checked, not just the best one this machine has:
 * the native parity harness (which `npm test` runs with the best ISA) runs
 * again under ENGRAM_ISA=avx2 and ENGRAM_ISA=generic, and a child process
 * confirms the cap reaches the addon (kernel names, backends().isa) and that
 * matmul / gelu agree with the default ISA. build/test_gemm and
 * build/test_vecmath switch ISAs in-process themselves (threaded paths too).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { backends } from 'engram';

const root = resolve(__dirname, '..', '..');
const features = backends().find((b) => b.name === 'cpu')?.features ?? [];

for (const isa of ['avx2', 'generic'] as const) {
  test(`parity harness under ENGRAM_ISA=${isa}`, (t) => {
    if (isa === 'avx2' && !features.includes('avx2')) return t.pass('no avx2 on this CPU');
    const bin = join(root, 'build', 'test_parity');
    if (!existsSync(bin)) return t.fail('build/test_parity missing: run npm install');
    // One thread: these runs overlap other test files (async.test.ts times the event loop).
    const env = { ...process.env, ENGRAM_ISA: isa, ENGRAM_NUM_THREADS: '1' };
    const r = spawnSync(bin, [], { env, encoding: 'utf8' });
    t.is(r.status, 0, r.stdout.split('\n').filter((l) => l.startsWith('FAIL')).slice(0, 20).join('\n'));
    t.regex(r.stdout, /parity: [1-9]\d* passed, 0 failed/);
  });
}

test('ENGRAM_ISA caps the kernels the addon picks, results agree', (t) => {
  const probe = `
    const e = require(${JSON.stringify(join(root, 'dist', 'lib', 'index.js'))});
    const a = e.randn([70, 65], { seed: 1 }), b = e.randn([65, 33], { seed: 2 });
    const c = e.ops.matmul(a, b).toFloat32(), g = e.ops.gelu(a).toFloat32();
    const cpu = e.backends().find((x) => x.name === 'cpu');
    console.log(JSON.stringify({ isa: cpu.isa, kernel: e.buildInfo().gemmKernel, c: Array.from(c), g: Array.from(g) }));`;
  const run = (env: Record<string, string>) => {
    const r = spawnSync(process.execPath, ['-e', probe], { env: { ...process.env, ...env }, encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { isa: string; kernel: string; c: number[]; g: number[] };
  };
  const best = run({});
  const generic = run({ ENGRAM_ISA: 'generic' });
  t.is(generic.isa, 'generic');
  t.regex(generic.kernel, /^generic/);
  for (const [x, y] of [[best.c, generic.c], [best.g, generic.g]]) {
    t.is(x.length, y.length);
    let worst = 0, scale = 0;
    for (let i = 0; i < x.length; i++) {
      worst = Math.max(worst, Math.abs(x[i] - y[i]));
      scale = Math.max(scale, Math.abs(y[i]));
    }
    t.true(worst <= 1e-5 * scale, `max difference ${worst} (values up to ${scale})`);
  }
  if (features.includes('avx2')) t.is(run({ ENGRAM_ISA: 'avx2' }).isa, 'avx2+fma');
});
