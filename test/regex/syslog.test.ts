// Real syslog headers in front of the JSON: the bridge (CLI child process, `run --once` against the Duo
// simulator) ships through its own syslog sink (TCP, LF framing, RFC 5424 and RFC 3164) to a listener
// here; the received lines go through every pattern in all four engines and must equal the oracle.
import t from 'tap';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../../src/sim/server.js';
import { runBridge, writeConfig } from '../helpers/bridge.js';
import { buildRust, loadTable, runAll } from './lib/engines.js';
import { Case, compare, render } from './lib/table.js';
// @ts-ignore -- plain ESM module
import { classicExpect, robustExpect, body } from '../../regex/oracle.mjs';

const PER_LOG = 100;

async function listen(): Promise<{ port: number; lines: () => string[]; close: () => Promise<void> }> {
  let buf = '';
  const socks = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    socks.add(s);
    s.setEncoding('utf8').on('data', (d: string) => (buf += d));
    s.on('close', () => socks.delete(s));
  });
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  return {
    port: (srv.address() as net.AddressInfo).port,
    lines: () => buf.split('\n').filter(Boolean),
    close: () => new Promise<void>((res) => { for (const s of socks) s.destroy(); srv.close(() => res()); }),
  };
}

t.test('patterns on the syslog sink output (RFC 5424 and RFC 3164 headers)', async (t) => {
  const sim = await startSimulator({ events: { authentication: PER_LOG, administrator: PER_LOG, telephony: PER_LOG } });
  t.teardown(() => sim.close());
  const dir = mkdtempSync(join(tmpdir(), 'duo-regex-syslog-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const all: { format: string; line: string }[] = [];
  for (const format of ['rfc5424', 'rfc3164']) {
    const rx = await listen();
    const cfg = writeConfig(join(dir, format), sim, { output: { type: 'syslog', host: '127.0.0.1', port: rx.port, protocol: 'tcp', framing: 'lf', format } });
    const r = await runBridge(['run', '--config', cfg, '--once']);
    t.equal(r.code, 0, `${format}: bridge exits 0 ${r.code ? r.stderr.slice(-500) : ''}`);
    await new Promise((res) => setTimeout(res, 100));
    const lines = rx.lines();
    await rx.close();
    t.equal(lines.length, 3 * PER_LOG, `${format}: every event arrived`);
    t.ok(lines.every((l) => /^<\d{1,3}>/.test(l) && !l.startsWith('{')), `${format}: every line carries a syslog header`);
    for (const line of lines) all.push({ format, line });
  }
  t.match(all[0].line, /^<\d+>1 \d{4}-/, 'RFC 5424 header (VERSION 1, ISO timestamp)');
  t.match(all[all.length - 1].line, /^<\d+>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d /, 'RFC 3164 header (Mmm dd hh:mm:ss)');

  const pats = loadTable();
  const lines = all.map((x) => x.line);
  const cases: Case[] = lines.map((line, li) => {
    const rec = body(line);
    const log = rec?.eventtype;
    const expect: Record<string, any> = {};
    for (const p of pats.filter((x) => x.log === log && x.family === 'robust')) expect[p.id] = robustExpect(log, p.fields[0], line);
    const c = classicExpect(log, line);
    if (c.kind !== 'unknown') expect[`${log}.classic`] = c.kind === 'match' ? c.fields : null;
    return { log, li, id: `${all[li].format}-${li}`, expect };
  });
  t.ok(cases.every((c) => ['authentication', 'administrator', 'telephony'].includes(c.log)), 'every syslog message holds a bridge record');

  const bin = await buildRust();
  const results = await runAll(bin, pats, lines);
  const rows = compare(pats, cases, results);
  const table = render(`Syslog sink output (RFC 5424 + RFC 3164 over TCP): ${lines.length} lines`, rows);
  t.comment('\n' + table);
  process.stderr.write(table + '\n');
  for (const row of rows) t.same(row.problems, [], `${row.id}: all engines equal the oracle and each other behind syslog headers`);
  for (const row of rows.filter((x) => !x.id.endsWith('.classic'))) {
    const want = cases.filter((c) => c.log === row.id.split('.')[0] && c.expect[row.id] !== null).length;
    t.ok(want > 0 && row.perEngine.ruby.matched === want, `${row.id} found on all ${want} syslog lines that hold it`);
  }
});
