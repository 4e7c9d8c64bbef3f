// Prints the sources of sections of native/sources.txt, one per line (used by
// binding.gyp) or as JSON with --json. Usage: node scripts/sources.mjs core napi nocuda
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function readSources(file = join(root, 'native', 'sources.txt')) {
  const sections = {};
  let cur = null;
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      cur = m[1];
      sections[cur] ??= [];
    } else if (cur) {
      sections[cur].push(line);
    }
  }
  return sections;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const want = args.filter((a) => a !== '--json');
  const s = readSources();
  const out = want.flatMap((w) => s[w] ?? []);
  process.stdout.write(json ? JSON.stringify(out) : out.join('\n') + '\n');
}
