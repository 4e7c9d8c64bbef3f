/**
 * The HTML report (engram bench --html): rendered in headless Chromium, the
 * inline script must have drawn every chart (DOM after scripts) and the
 * screenshot must show the series colours. Skipped, with a message, when no
 * Chromium is installed (CI installs the Debian package `chromium`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test from 'ava';

import { SUITES, bench } from 'engram';
import { decodePng } from './png.js';

function findChromium(): string | null {
  const env = process.env.CHROMIUM_PATH;
  if (env && existsSync(env)) return env;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

const chromium = findChromium();
if (!chromium) console.log('html_report: SKIPPED — no Chromium found (apt-get install -y chromium, or set CHROMIUM_PATH)');
const dir = mkdtempSync(join(tmpdir(), 'engram-html-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run', '--disable-dev-shm-usage',
  `--user-data-dir=${join(dir, 'profile')}`];

// Three fake suites shaped like the real ones: gemm (GFLOP/s vs size), memory (tokens/s vs
// context, one line per kind) and kv (error vs bits).
SUITES['test-gemm'] = async () => async () => ({
  suite: 'test-gemm', title: 'GEMM',
  rows: [256, 512, 1024].map((n, i) => ({ shape: `${n}x${n}x${n}`, batch: 1, 'engram GFLOP/s': 40 + 10 * i, 'OpenBLAS GFLOP/s': 45 + 9 * i })),
});
SUITES['test-memory'] = async () => async () => ({
  suite: 'test-memory', title: 'memory ops',
  rows: ['titans', 'gdn'].flatMap((op, j) => [2048, 8192, 32768].map((T, i) => ({ op, context: T, 'tokens/s': 1e5 / (1 + i + j) }))),
});
SUITES['test-kv'] = async () => async () => ({
  suite: 'test-kv', title: 'KV formats',
  rows: [2, 2.5, 3, 3.5, 4].map((bits) => ({ format: 'turboquant', bits, 'rel L2 error': Math.pow(4, -bits) })),
});

(chromium ? test : test.skip)('bench --html renders every chart in headless Chromium', async (t) => {
  const html = join(dir, 'report.html');
  await bench({ suites: ['test-gemm', 'test-memory', 'test-kv'], html, print: false });
  const page = readFileSync(html, 'utf8');
  t.false(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(page), 'no external resources');
  const dom = execFileSync(chromium!, [...FLAGS, '--virtual-time-budget=5000', '--dump-dom', `file://${html}`],
    { encoding: 'utf8', timeout: 60000, stdio: ['ignore', 'pipe', 'ignore'] });
  t.regex(dom, /data-charts-drawn="3"/);
  const drawn = [...dom.matchAll(/data-drawn="(\d+)"/g)].map((m) => Number(m[1]));
  t.deepEqual(drawn, [6, 6, 5]); // points per chart: 2 lines x 3 sizes, 2 kinds x 3 contexts, 5 bit widths
  t.is((dom.match(/<polyline/g) ?? []).length, 5);
  t.regex(dom, /GFLOP\/s vs size[\s\S]*tokens\/s vs context[\s\S]*error vs bits/);
  const png = join(dir, 'shot.png');
  execFileSync(chromium!, [...FLAGS, '--window-size=800,1800', `--screenshot=${png}`, `file://${html}`],
    { timeout: 60000, stdio: 'ignore' });
  const img = decodePng(readFileSync(png));
  let blue = 0, red = 0, ink = 0;
  for (let i = 0; i < img.width * img.height; i++) {
    const [r, g, b] = [img.rgba[i * 4], img.rgba[i * 4 + 1], img.rgba[i * 4 + 2]];
    if (r < 240 || g < 240 || b < 240) ink++;
    if (Math.abs(r - 0x1f) < 30 && Math.abs(g - 0x77) < 30 && Math.abs(b - 0xb4) < 30) blue++; // first series
    if (Math.abs(r - 0xd6) < 30 && Math.abs(g - 0x27) < 30 && Math.abs(b - 0x28) < 30) red++; // second series
  }
  t.log(`screenshot ${img.width}x${img.height}: ${ink} inked pixels, ${blue} blue, ${red} red`);
  t.true(blue > 500, 'first-series lines are drawn');
  t.true(red > 300, 'second-series lines are drawn');
  t.true(ink > img.width * img.height * 0.02);
});
