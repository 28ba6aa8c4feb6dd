/**
 * `npm run bench`: runs every test/bench/*.bench.ts (or those named on the command line) and
 * prints one table. Numbers, never pass/fail: benchmarks are not tests.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchRow } from './row.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !only.length || only.some((o) => f.startsWith(o)))
  .sort((a, b) => (a.startsWith('core') ? -1 : b.startsWith('core') ? 1 : a.localeCompare(b)));

const fmt = (n: number | undefined, d = 0) => (n === undefined || Number.isNaN(n) ? '-' : n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d }));
console.log(`duo-log-bridge bench: node ${process.version}, ${os()}`);
const rows: BenchRow[] = [];
for (const f of files) {
  const mod = (await import(pathToFileURL(path.join(here, f)).href)) as { default: () => Promise<BenchRow[]> };
  process.stderr.write(`running ${f}...\n`);
  try {
    for (const r of await mod.default()) {
      rows.push(r);
      console.log(
        `${r.case.padEnd(62)} ${fmt(r.events).padStart(10)} ev ${fmt(r.seconds, 2).padStart(7)} s ${fmt(r.eventsPerSec).padStart(9)} ev/s ${fmt(r.cpuUsPerEvent, 2).padStart(6)} µs CPU/ev ${fmt(r.peakRssMb).padStart(5)} MB${r.note ? `  ${r.note}` : ''}`,
      );
    }
  } catch (err) {
    console.log(`${f}: FAILED: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}

function os(): string {
  return `${process.platform}/${process.arch}`;
}
