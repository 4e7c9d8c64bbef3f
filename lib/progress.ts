/** A one-line progress bar on stderr (a plain line per update when stderr is not a TTY). */
export function renderProgress(name: string, done: number, total: number, label: string, print = true): void {
  if (!print) return;
  if (process.stderr.isTTY) {
    const w = 30, f = Math.round((done / Math.max(total, 1)) * w);
    process.stderr.write(`\r${name} [${'#'.repeat(f)}${'.'.repeat(w - f)}] ${done}/${total} ${label.padEnd(40).slice(0, 40)}`);
    if (done >= total) process.stderr.write('\n');
  } else {
    process.stderr.write(`${name}: ${done}/${total} ${label}\n`);
  }
}
