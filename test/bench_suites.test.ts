/**
 * engram.bench(opts) as a library call: with no suites it runs every
 * registered suite; the real gemm, kv and recall suites (quick) declare the
 * report's charts — GFLOP/s vs size, error vs bits, tokens/s vs context —
 * and, where Chromium is installed, the HTML report draws all of them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test from 'ava';

import { SUITES, bench, memory } from 'engram';
import { chartsFor } from '../lib/bench/charts.js';

const dir = mkdtempSync(join(tmpdir(), 'engram-bench-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('bench() with no suites runs every registered suite, in order', async (t) => {
  const names = Object.keys(SUITES);
  t.true(['gemm', 'graph', 'memory', 'kv', 'recall'].every((n) => names.includes(n)), names.join(', '));
  const saved = { ...SUITES };
  const ran: string[] = [];
  try {
    for (const n of names)
      SUITES[n] = async () => (async () => {
        ran.push(n);
        return { suite: n, title: n, rows: [{ x: 1 }] };
      });
    const r = await bench({ print: false });
    t.deepEqual(r.results.map((x) => x.suite), names);
    t.deepEqual(ran, names);
  } finally {
    Object.assign(SUITES, saved);
  }
});

function findChromium(): string | null {
  const env = process.env.CHROMIUM_PATH;
  if (env && existsSync(env)) return env;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

test.serial('gemm, kv and recall (quick) chart GFLOP/s vs size, error vs bits, tokens/s vs context; the page draws them', async (t) => {
  const m0 = memory();
  const html = join(dir, 'report.html'), json = join(dir, 'report.json');
  const r = await bench({ suites: ['gemm', 'kv', 'recall'], quick: true, html, json, print: false });
  const titles = r.results.map((x) => chartsFor(x).map((c) => `${c.title}:${c.series.length}`));
  t.log(titles.map((x, i) => `${r.results[i].suite}: ${x.join(', ')}`).join('\n'));
  const charts = r.results.flatMap((x) => chartsFor(x));
  for (const want of [/^GFLOP\/s vs size/, /^error vs bits/, /^tokens\/s vs context/]) {
    const c = charts.find((x) => want.test(x.title));
    t.truthy(c, String(want));
    t.true(c!.series.length >= 1 && c!.series.every((s) => s.points.length >= 1));
  }
  const recall = charts.find((c) => c.title === 'tokens/s vs context')!;
  t.true(recall.series.length >= 6, 'one line per memory kind');
  t.true(recall.series.every((s) => s.points.length === 2), '1K and 4K');
  const file = JSON.parse(readFileSync(json, 'utf8')) as { results: { suite: string }[] };
  t.deepEqual(file.results.map((x) => x.suite), ['gemm', 'kv', 'recall']);
  const m1 = memory();
  t.is(m1.tensors, m0.tensors);
  const chromium = findChromium();
  if (!chromium) {
    t.log('SKIPPED the browser half: no Chromium');
    return;
  }
  const dom = execFileSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage',
    `--user-data-dir=${join(dir, 'profile')}`, '--virtual-time-budget=5000', '--dump-dom', `file://${html}`],
  { encoding: 'utf8', timeout: 60000, stdio: ['ignore', 'pipe', 'ignore'] });
  t.regex(dom, new RegExp(`data-charts-drawn="${charts.length}"`));
  const drawn = [...dom.matchAll(/data-drawn="(\d+)"/g)].map((x) => Number(x[1]));
  t.is(drawn.length, charts.length);
  t.true(drawn.every((n) => n > 0));
});
