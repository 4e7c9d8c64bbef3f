#!/usr/bin/env node
// The engram command line: `engram info`, `engram bench [suite...]`, `engram recall`.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

import engram from './index.js';

const { backends, buildInfo, getNumThreads, setNumThreads, bench, runRecall, memoryKinds, RECALL_DEFAULTS, EngramError } =
  engram as typeof import('./index.js');

const numbers = (v: unknown): number[] | undefined =>
  v === undefined ? undefined : String(v).split(',').filter(Boolean).map((x) => {
    const m = /^(\d+)([kK])?$/.exec(x.trim());
    if (!m) throw new EngramError(`not a size: '${x}' (use e.g. 1024 or 4k)`, 'E_ARG');
    return Number(m[1]) * (m[2] ? 1024 : 1);
  });

function fmtBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(0)} MiB`;
}

try {
  await yargs(hideBin(process.argv))
    .scriptName('engram')
    .command('info', 'show the build (CUDA compiled or not), backends, CPU features and threads', (y) =>
      y.option('json', { type: 'boolean', default: false, describe: 'print JSON' }), (argv) => {
      const b = buildInfo();
      const bs = backends();
      if (argv.json) {
        console.log(JSON.stringify({ build: b, backends: bs, threads: getNumThreads() }, null, 2));
        return;
      }
      console.log(`engram ${engram.version}  (N-API ${b.napiVersion}, ${b.compiler.split(' ')[0]} ${b.compiler.split(' ')[1] ?? ''})`);
      console.log(`CUDA compiled: ${b.cudaCompiled ? 'yes (sm_80, sm_90 + PTX)' : 'no'}`);
      for (const x of bs) {
        if (x.name === 'cpu') {
          console.log(`cpu:  available, ${x.threads} threads, kernels ${x.isa} (gemm ${b.gemmKernel})`);
          console.log(`      features: ${x.features.join(' ') || '(none)'}`);
        } else if (x.available) {
          console.log(`cuda: available, ${x.deviceName}, sm_${x.computeCapability}, ${fmtBytes(x.totalMemory ?? 0)}` +
            (x.deviceCount! > 1 ? `, ${x.deviceCount} devices` : ''));
        } else {
          console.log(`cuda: not available (${x.reason})`);
        }
      }
    })
    .command('bench [suites..]', `run benchmark suites (${Object.keys(engram.SUITES).join(', ')}) and print tables`, (y) =>
      y.positional('suites', { type: 'string', array: true, describe: 'suites to run (default: all of them)' })
        .option('json', { type: 'string', describe: 'write results as JSON to this file' })
        .option('html', { type: 'string', describe: 'write an HTML report with charts (opens offline)' })
        .option('quick', { type: 'boolean', default: false, describe: 'smaller sizes, fewer repetitions' })
        .option('device', { choices: ['cpu', 'cuda'] as const, default: 'cpu' as const }), async (argv) => {
      await bench({ suites: argv.suites as string[] | undefined, json: argv.json, html: argv.html, quick: argv.quick, device: argv.device });
      if (argv.json) console.log(`\nwrote ${argv.json}`);
      if (argv.html) console.log(`wrote ${argv.html}`);
    })
    .command('recall', 'long-context associative recall: accuracy, state bytes and tokens/s per memory kind', (y) =>
      y.option('contexts', { type: 'string', describe: `haystack lengths, e.g. 1k,4k,16k,64k (default ${RECALL_DEFAULTS.contexts.map((c) => c / 1024 + 'k').join(',')})` })
        .option('kinds', { type: 'string', describe: `memory kinds, comma-separated (registered: ${memoryKinds().join(', ')})` })
        .option('seed', { type: 'number', default: RECALL_DEFAULTS.seed })
        .option('queries', { type: 'number', default: RECALL_DEFAULTS.queries })
        .option('heads', { type: 'number', default: RECALL_DEFAULTS.heads })
        .option('key-dim', { type: 'number', default: RECALL_DEFAULTS.keyDim })
        .option('value-dim', { type: 'number', default: RECALL_DEFAULTS.valueDim })
        .option('codebook', { type: 'number', default: RECALL_DEFAULTS.codebook, describe: 'number of value classes' })
        .option('chunk', { type: 'number', default: RECALL_DEFAULTS.chunk, describe: 'tokens per memory write' })
        .option('device', { choices: ['cpu', 'cuda'] as const, default: 'cpu' as const })
        .option('threads', { type: 'number', describe: 'CPU threads (default: all cores)' })
        .option('json', { type: 'string', describe: 'write rows {memory, context, accuracy, bytes, tokensPerSec} as JSON' })
        .option('html', { type: 'string', describe: 'write an HTML report with charts (opens offline)' }), async (argv) => {
      if (argv.threads) setNumThreads(argv.threads);
      await runRecall({
        contexts: numbers(argv.contexts), kinds: argv.kinds ? argv.kinds.split(',').map((k) => k.trim()).filter(Boolean) : undefined,
        seed: argv.seed, queries: argv.queries, heads: argv.heads, keyDim: argv['key-dim'], valueDim: argv['value-dim'],
        codebook: argv.codebook, chunk: argv.chunk, device: argv.device, json: argv.json, html: argv.html,
      });
      if (argv.json) console.log(`\nwrote ${argv.json}`);
      if (argv.html) console.log(`wrote ${argv.html}`);
    })
    .demandCommand(1, 'name a command: info, bench, recall')
    .strict()
    .help()
    .parseAsync();
} catch (e) {
  if (e instanceof EngramError) {
    console.error(`engram: ${e.code}: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
