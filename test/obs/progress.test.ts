// Progress: the catch-up estimate, and the one-line human summary on a terminal's stderr.
// The terminal path is tested twice: in a real pseudo-terminal (`script -qec`, util-linux) and
// through DLB_PROGRESS_TTY=1, which forces the same code path when stderr is a pipe.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { catchUpEtaSecs, formatSummary, humanDuration, ProgressLine, progressTtyEnabled } from '../../src/obs/progress.js';
import { newLogStats } from '../../src/pipeline/stats.js';
import { CLI, ROOT, ensureBuilt, logLines, runBridge } from '../helpers/bridge.js';

t.test('catch-up estimate', async (t) => {
  // 1 h behind (58 min beyond the 2-min delay); the position moved 10 min in 10 s: 60x speed.
  t.equal(catchUpEtaSecs(3_600_000, 120_000, 600_000, 10_000), Math.round(3_480_000 / 59 / 1000));
  t.equal(catchUpEtaSecs(60_000, 120_000, 0, 10_000), 0, 'within the availability delay: caught up');
  t.equal(catchUpEtaSecs(3_600_000, 120_000, 5_000, 10_000), undefined, 'slower than the clock: no estimate');
  t.equal(catchUpEtaSecs(3_600_000, 120_000, undefined, 10_000), undefined, 'no previous sample');
  t.equal(catchUpEtaSecs(undefined, 120_000, 1, 1), undefined, 'no position yet');
  t.equal(humanDuration(95), '1m 35s');
  t.equal(humanDuration(7384), '2h 3m');
  t.equal(humanDuration(200_000), '2d 7h');
});

t.test('summary line and the status line kept below the log lines', async (t) => {
  const a = newLogStats('administrator', 'h');
  a.eventsDelivered = 12345;
  a.position = { time: 1_000_000 - 7384, ids: [] }; // administrator: seconds
  a.etaSecs = 95;
  const tel = newLogStats('telephony', 'h');
  tel.eventsDelivered = 5;
  tel.position = { time: 1_000_000_000, ids: [] }; // ms
  tel.lastPollDone = 1;
  tel.etaSecs = 0;
  const line = formatSummary([a, tel], 1_000_000_000, { administrator: 1234.4 });
  t.equal(line, 'duo-log-bridge: administrator 12,345, 1,234/s, 2h 3m behind, ~1m 35s to catch up | telephony 5, 0s behind, caught up');

  // MSP: several accounts fold into one entry per log type.
  const c1 = newLogStats('telephony', 'child-1');
  c1.eventsDelivered = 10;
  c1.position = { time: 999_000_000, ids: [] };
  c1.etaSecs = 30;
  const c2 = newLogStats('telephony', 'child-2');
  c2.eventsDelivered = 15;
  c2.position = { time: 999_900_000, ids: [] };
  c2.etaSecs = 4000;
  t.equal(formatSummary([c1, c2], 1_000_000_000, { 'child-1\u0000telephony': 2, 'child-2\u0000telephony': 3 }), 'duo-log-bridge: 2 accounts: telephony 25, 5/s, 16m 40s behind, ~1h 6m to catch up', 'summed counts and rates, the worst lag and estimate');

  const out: string[] = [];
  let now = 0;
  const p = new ProgressLine(() => [tel], { write: (s) => out.push(s), columns: 40 }, 1000, () => now);
  p.writeLog('{"a":1}\n');
  t.same(out, ['{"a":1}\n'], 'before the first draw, log lines pass through untouched');
  now = 1000;
  p.draw();
  t.match(out[1], /^\r\x1b\[2Kduo-log-bridge: telephony 5, /);
  t.ok(out[1]!.length <= 40 + 4, 'cut to the terminal width');
  p.writeLog('{"b":2}\n');
  t.equal(out[2], '\r\x1b[2K{"b":2}\n' + out[1]!.slice(5), 'erase, log line whole, redraw');
  p.stop();
  t.equal(out.at(-1), '\n', 'the last summary stays on its own line');
  t.equal(progressTtyEnabled({}, { isTTY: true }), true);
  t.equal(progressTtyEnabled({}, { isTTY: false }), false);
  t.equal(progressTtyEnabled({ DLB_PROGRESS_TTY: '1' }, { isTTY: false }), true);
  t.equal(progressTtyEnabled({ DLB_PROGRESS_TTY: '0' }, { isTTY: true }), false);
});

const strip = (s: string) => s.replace(/\r\x1b\[2K[^\r\n{]*/g, '');

t.test('forced TTY path through the CLI: JSON lines stay whole, the summary counts what was delivered', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-progress-'));
  const r = await runBridge(['demo', '--events', '1500', '--once', '--checkpoint-dir', dir], { env: { DLB_PROGRESS_TTY: '1' } });
  t.equal(r.code, 0);
  const summaries = [...r.stderr.matchAll(/duo-log-bridge: (authentication[^\r\n]*)/g)].map((m) => m[1]!);
  t.ok(summaries.length >= 1, 'at least the final summary');
  t.match(summaries.at(-1)!, /^authentication 1,500, .*\| administrator 1,500, .*\| telephony 1,500, /, 'final summary: every event delivered');
  const lines = logLines(strip(r.stderr));
  t.ok(lines.length > 5);
  t.same(lines.filter((l) => 'raw' in l), [], 'every JSON log line still parses once the status line is removed');
  const caught = lines.filter((l) => l.msg === 'Caught up with this log.');
  t.equal(caught.length, 3);
  for (const l of caught) t.equal(l.eta_secs, 0, `${l.log}: caught up means an estimate of 0`);
  const off = await runBridge(['demo', '--events', '100', '--once', '--checkpoint-dir', mkdtempSync(path.join(os.tmpdir(), 'dlb-progress-'))]);
  t.notMatch(off.stderr, /\x1b\[2K/, 'stderr is a pipe: no terminal control codes');
});

t.test('a real pseudo-terminal (script -qec) gets the summary line', async (t) => {
  ensureBuilt();
  const has = spawnSync('script', ['--version']).status === 0;
  if (!has) return t.plan(0, 'util-linux script is not installed');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-progress-'));
  const cmd = `'${process.execPath}' '${CLI}' demo --events 800 --once --checkpoint-dir '${dir}' >/dev/null`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DLB_PROGRESS_TTY: '' }, timeout: 120_000 });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /\x1b\[2Kduo-log-bridge: authentication 800, [^\r\n]*telephony 800/, 'the status line drawn on the terminal');
  t.match(r.stdout, /"msg":"Caught up with this log\."/, 'the JSON log is there too');
});

t.test('events on the same terminal (stdout output on a TTY): no status line in the middle of them', async (t) => {
  ensureBuilt();
  if (spawnSync('script', ['--version']).status !== 0) return t.plan(0, 'util-linux script is not installed');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-progress-'));
  // stdout and stderr both on the terminal.
  const cmd = `'${process.execPath}' '${CLI}' demo --events 300 --once --checkpoint-dir '${dir}'`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DLB_PROGRESS_TTY: '' }, timeout: 120_000 });
  t.equal(r.status, 0);
  t.notMatch(r.stdout, /\x1b\[2K/, 'no status line drawn');
  const lines = r.stdout.split(/\r?\n/).filter(Boolean);
  t.ok(lines.every((l) => l.startsWith('{') && JSON.parse(l)), 'every line on the terminal is whole JSON');
  t.equal(lines.filter((l) => 'eventtype' in JSON.parse(l)).length, 900, 'all 900 events');
  t.ok(lines.some((l) => JSON.parse(l).msg === 'Caught up with this log.'), 'the bridge log is on the same terminal');
});
