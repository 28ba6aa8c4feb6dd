/**
 * The bridge run the way Vector's `exec` source runs it (vector/exec-source.yaml):
 * `mode: streaming`, `respawn_on_exit: true`; the command is spawned directly (no shell) with
 * stdin on /dev/null, stdout and stderr on separate pipes; stdout is framed by newlines and each
 * line decoded as JSON (a line that does not parse is skipped, as Vector does); on shutdown Vector
 * sends SIGTERM. The exec source cannot acknowledge, so what this proves is the bridge's side:
 *   - run 1, SIGTERM (Vector shutting down): exit 0, the checkpoint covers exactly what was written;
 *     the next start resumes right after it (no gap, no duplicate);
 *   - run 2, SIGKILL (a crash), then respawn as respawn_on_exit does: nothing lost, duplicates only
 *     from the page in flight;
 *   - every stdout line is one Duo event, every stderr line a bridge log line (kept apart).
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimulator } from '../../src/sim/server.js';
import { CLI, ensureBuilt, writeConfig } from '../helpers/bridge.js';

const LOGS = ['authentication', 'administrator', 'telephony'] as const;

interface ExecRun {
  child: ChildProcess;
  /** Decoded events, per log, in the order read. */
  lines: Record<string, string[]>;
  count: number;
  parseErrors: number;
  /** Events decoded after a line that did not parse (must stay 0: only a crash's last, cut line may be broken). */
  goodAfterError: number;
  stderr: Record<string, unknown>[];
  stderrGarbage: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  onLine?: () => void;
}

/** Spawn like Vector's exec source: argv directly, stdin /dev/null, stdout and stderr piped apart. */
function execSource(config: string): ExecRun {
  ensureBuilt();
  const child = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const run: ExecRun = { child, lines: {}, count: 0, parseErrors: 0, goodAfterError: 0, stderr: [], stderrGarbage: [], exited: undefined as never };
  const out = createInterface({ input: child.stdout!, crlfDelay: Infinity });
  out.on('line', (line) => {
    if (line === '') return; // an empty frame gives no event
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      run.parseErrors++; // Vector logs the decode error and skips the frame
      return;
    }
    const type = (ev as { eventtype?: unknown }).eventtype;
    (run.lines[String(type)] ??= []).push(line);
    run.count++;
    if (run.parseErrors) run.goodAfterError++;
    run.onLine?.();
  });
  const err = createInterface({ input: child.stderr!, crlfDelay: Infinity });
  err.on('line', (line) => {
    try {
      run.stderr.push(JSON.parse(line));
    } catch {
      run.stderrGarbage.push(line);
    }
  });
  const closed = Promise.all([new Promise((r) => out.once('close', r)), new Promise((r) => err.once('close', r))]);
  run.exited = new Promise((resolve) => child.once('exit', (code, signal) => void closed.then(() => resolve({ code, signal }))));
  return run;
}

/** Resolve once `pred` holds after a stdout line (or right away); reject if the bridge exits first. */
function until(run: ExecRun, pred: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    if (pred()) return resolve();
    run.onLine = () => {
      if (pred()) {
        run.onLine = undefined;
        resolve();
      }
    };
    void run.exited.then((e) => {
      if (!pred()) reject(new Error(`the bridge exited early (${JSON.stringify(e)}): ${JSON.stringify(run.stderr.slice(-5))}`));
    });
  });
}

t.test("the exec source's way of running the bridge: SIGTERM saves the checkpoint, a crash respawns without loss", async (t) => {
  const N = 5000;
  const sim = await startSimulator({ events: { authentication: N, administrator: N, telephony: N }, seed: 31 });
  t.teardown(() => sim.close());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlb-exec-'));
  const config = writeConfig(dir, sim, { poll_interval_secs: 1, output: { type: 'stdout' } });
  const expected = Object.fromEntries(LOGS.map((l) => [l, sim.expectedLines(l)]));
  const total = LOGS.reduce((n, l) => n + expected[l]!.length, 0);
  const checkpoint = (log: string) => JSON.parse(readFileSync(path.join(dir, 'state', `127.0.0.1.${log}.json`), 'utf8')) as { events_delivered: number };

  // Run 1: Vector shuts down (SIGTERM) while the bridge streams.
  const r1 = execSource(config);
  await until(r1, () => r1.count >= total * 0.35);
  r1.child.kill('SIGTERM');
  const e1 = await r1.exited;
  t.same(e1, { code: 0, signal: null }, 'SIGTERM: the bridge exits 0 on its own');
  t.ok(r1.stderr.some((l) => /^Stopping/.test(String(l.msg)) && l.signal === 'SIGTERM'), 'it says it is stopping on SIGTERM');
  for (const log of LOGS) {
    const got = r1.lines[log] ?? [];
    t.equal(checkpoint(log).events_delivered, got.length, `${log}: checkpoint saved at exactly the ${got.length} events written`);
    t.ok(got.every((l, i) => l === expected[log]![i]), `${log}: run 1 wrote the first ${got.length} expected lines, in order`);
  }

  // Run 2: Vector starts the command again; this time the bridge crashes (SIGKILL).
  const r2 = execSource(config);
  await until(r2, () => r1.count + r2.count >= total * 0.7);
  r2.child.kill('SIGKILL');
  const e2 = await r2.exited;
  t.equal(e2.signal, 'SIGKILL');
  for (const log of LOGS) {
    const start = (r1.lines[log] ?? []).length;
    const got = r2.lines[log] ?? [];
    t.ok(got.every((l, i) => l === expected[log]![start + i]), `${log}: run 2 resumed right after run 1 (no gap, no duplicate) and stayed in order`);
  }

  // respawn_on_exit: after respawn_interval_secs Vector starts it again; it catches up and keeps polling.
  await new Promise((r) => setTimeout(r, 500));
  const r3 = execSource(config);
  const seen = (log: string) => new Set([...(r1.lines[log] ?? []), ...(r2.lines[log] ?? []), ...(r3.lines[log] ?? [])]).size;
  const distinct = LOGS.map((l) => new Set(expected[l]).size);
  await until(r3, () => LOGS.every((l, i) => seen(l) >= distinct[i]!));
  r3.child.kill('SIGTERM');
  const e3 = await r3.exited;
  t.same(e3, { code: 0, signal: null }, 'the respawned bridge also stops cleanly');

  for (const log of LOGS) {
    const exp = expected[log]!;
    const a = r2.lines[log] ?? [];
    const b = r3.lines[log] ?? [];
    const resume = exp.indexOf(b[0]!);
    const end2 = (r1.lines[log] ?? []).length + a.length;
    t.ok(resume >= 0 && resume <= end2 && end2 - resume <= 1000, `${log}: after the crash it resumed ${end2 - resume} events back (at most the page in flight)`);
    t.ok(b.every((l, i) => l === exp[resume + i]), `${log}: run 3 is a contiguous, in-order slice`);
    t.equal(resume + b.length, exp.length, `${log}: delivered to the end`);
    t.equal(checkpoint(log).events_delivered, exp.length, `${log}: final checkpoint covers every event`);
  }
  t.ok(r2.parseErrors <= 1 && r2.goodAfterError === 0, `run 2: at most the last line, cut by the SIGKILL, does not parse (${r2.parseErrors}); it was never checkpointed`);
  for (const [i, r] of [r1, r3].entries()) t.equal(r.parseErrors, 0, `run ${i === 0 ? 1 : 3}: every stdout line is one JSON event`);
  for (const [i, r] of [r1, r2, r3].entries()) {
    t.equal(r.stderrGarbage.length, 0, `run ${i + 1}: every stderr line is a JSON log line`);
    t.ok(r.stderr.every((l) => typeof l.msg === 'string' && typeof l.level === 'string' && !('eventtype' in l)), `run ${i + 1}: no event on stderr`);
    t.ok(Object.keys(r.lines).every((k) => (LOGS as readonly string[]).includes(k)), `run ${i + 1}: no log line on stdout`);
  }
});
