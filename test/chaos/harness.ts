/**
 * Runs one chaos scenario: the in-process Duo simulator, a sink peer, and the real bridge as a
 * child process (dist/cli.js), killed and restarted or left to drain, while the scenario's
 * fault script runs alongside. Then compares what the sink acknowledged with what the
 * simulator served, per log, as multisets (administrator rows carry no id and two of them can
 * be byte-identical):
 *   lost       = expected copies never acknowledged,
 *   duplicated = acknowledged copies beyond the expected count,
 *   stray      = acknowledged records the simulator never had.
 * Rules checked: lost = 0 and stray = 0 always; duplicated = 0 without a SIGKILL, else at most
 * one page (1000 events) per log per kill, the most one log can have unacknowledged (the
 * pipeline sends one page at a time per log and checkpoints it once acknowledged); peak RSS
 * under 150 MB; the last run ends cleanly (exit 0).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startSimulator, type SimOptions, type Simulator } from '../../src/sim/server.js';
import { logLines, spawnBridge, writeConfig } from '../helpers/bridge.js';
import { LOGS, normalisedExpected, startPeer, type Log, type Peer, type SinkName } from './peers.js';
import { mulberry32 } from '../../src/sim/generate.js';

export const PAGE = 1000;
/**
 * The V8 flags the bridge ships with (Dockerfile ENV and examples/systemd/duo-log-bridge.service
 * Environment=NODE_OPTIONS): a 4 MB young generation and a 128 MB old-space limit. With Node's
 * defaults V8 lets the heap grow well past the live data during a fast backfill: measured here
 * (VmHWM) 121-156 MB peak RSS at 10,000 events per log and 135-195 MB at 40,000 (stdout, http,
 * vector), over the 150 MB budget, against 90-110 MB with these flags. Set
 * DLB_CHAOS_NODE_OPTIONS='' to measure with Node's defaults.
 */
export const BRIDGE_NODE_OPTIONS = process.env.DLB_CHAOS_NODE_OPTIONS ?? '--max-semi-space-size=4 --max-old-space-size=256';
export const RSS_CAP_MB = 150;
const HERE = path.dirname(fileURLToPath(import.meta.url));
export const CLOCK_PRELOAD = path.join(HERE, 'clock-preload.mjs');

export interface Scenario {
  name: string;
  sink: SinkName;
  /** Events per log (the three core logs). */
  events: number;
  seed?: number;
  /** Simulator options (faults, rateLimit, slowMs, spanMs, endAgoMs ...). */
  sim?: Partial<SimOptions>;
  /** Merged into the config's `api:` section. */
  api?: Record<string, unknown>;
  /** Extra top-level config keys. */
  config?: Record<string, unknown>;
  /** SIGKILL the bridge at this many seeded random moments, restarting each time. */
  kills?: number;
  /** Run without --once (polling); SIGTERM once everything the simulator exposes was acknowledged. */
  live?: boolean;
  /** Put checkpoint_dir on its own small tmpfs (needed to make it full or read-only). */
  checkpointTmpfs?: boolean;
  /** Before the runs (e.g. a start with an unusable checkpoint dir). */
  preflight?: (ctx: Ctx) => Promise<void>;
  /** The fault script: runs from the first start until it returns, alongside the bridge runs. */
  during?: (ctx: Ctx) => Promise<void>;
  /** Text (e.g. `"error_code":"DLB_DUO_CLOCK_SKEW"`) the bridge's stderr must contain over the scenario. */
  mustLog?: string[];
  /** Peer options (e.g. a Vector batch_size smaller than a page). */
  peer?: { vectorBatchSize?: number };
  /** A hang guard for the whole scenario. */
  timeoutMs?: number;
}

export interface Row {
  scenario: string;
  sink: SinkName;
  served: number;
  delivered: number;
  lost: number;
  duplicated: number;
  stray: number;
  kills: number;
  /** Duplicates per log the scenario allows without a kill (documented at-least-once cases). */
  allowedDuplicates: number;
  peakRssMb: number;
  seconds: number;
  ok: boolean;
  failures: string[];
  notes: string[];
}

export interface Ctx {
  readonly sim: Simulator;
  readonly peer: Peer;
  readonly dir: string;
  readonly stateDir: string;
  readonly configFile: string;
  /** Events the simulator exposes now (all logs). */
  total(): number;
  acked(): number;
  /** Total requests the simulator answered (all statuses, resets included). */
  requests(): number;
  /** Requests the simulator answered 200 (pages handed out, truncated ones included). */
  pagesServed(): number;
  /** Stderr of every run so far, concatenated. */
  stderr(): string;
  /** The running bridge, if any. */
  pid(): number | undefined;
  rssMb(): number;
  sleep(ms: number): Promise<void>;
  until(pred: () => boolean, what: string, ms?: number): Promise<void>;
  /** Seeded random in [0, 1). */
  rand(): number;
  /** Move the bridge's wall clock by `offsetMs` from the real time (0 = back to real). */
  clock(offsetMs: number): void;
  note(s: string): void;
  fail(s: string): void;
  /**
   * Allow `n` more duplicates without a kill, for a documented reason (a sink that acknowledges
   * part of a page before failing the rest: the pipeline resends the whole page).
   */
  allowDuplicates(n: number, reason: string): void;
  /** Spawn a separate bridge run on the same config and wait for it. */
  runAlone(args?: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }>;
  readonly aborted: AbortSignal;
  /** When the scenario started (real ms), before the simulator. */
  readonly startedAt: number;
}


const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

function procKb(pid: number | undefined, field: 'VmHWM' | 'VmRSS'): number {
  if (!pid) return 0;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Can this process mount a tmpfs (root with CAP_SYS_ADMIN, as in this sandbox)? */
export function canMount(): boolean {
  if (process.platform !== 'linux') return false;
  const probe = mkdtempSync(path.join(os.tmpdir(), 'dlb-chaos-mnt-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
  if (r.status === 0) spawnSync('umount', [probe], { stdio: 'ignore' });
  rmSync(probe, { recursive: true, force: true });
  return r.status === 0;
}

export function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.status}`);
}

/** Events the checkpoint files say were delivered (all logs): distinct progress, resends excluded. */
function checkpointed(stateDir: string): number {
  let n = 0;
  let names: string[] = [];
  try {
    names = readdirSync(stateDir);
  } catch {
    return 0;
  }
  for (const f of names) {
    if (!f.endsWith('.json')) continue;
    try {
      n += Number((JSON.parse(readFileSync(path.join(stateDir, f), 'utf8')) as { events_delivered?: number }).events_delivered ?? 0);
    } catch {
      // replaced under us (atomic rename) or half-read: the next look sees it
    }
  }
  return n;
}

function multiset(xs: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

export async function runScenario(s: Scenario, log: (line: string) => void = () => {}): Promise<Row> {
  const started = Date.now();
  const failures: string[] = [];
  const notes: string[] = [];
  const rand = mulberry32((s.seed ?? 1) * 7919 + 17);
  const sim = await startSimulator({ events: { authentication: s.events, administrator: s.events, telephony: s.events }, seed: s.seed ?? 1, ...s.sim });
  const peer = await startPeer(s.sink, s.peer);
  const dir = mkdtempSync(path.join(os.tmpdir(), `dlb-chaos-${s.name.replace(/[^a-z0-9]+/gi, '-')}-`));
  const stateDir = path.join(dir, 'state');
  mkdirSync(stateDir, { recursive: true });
  let mounted = false;
  if (s.checkpointTmpfs) {
    sh('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', stateDir]);
    mounted = true;
  }
  const clockFile = path.join(dir, 'clock-offset');
  writeFileSync(clockFile, '0');
  const configFile = writeConfig(dir, sim, {
    api: { request_interval_secs: 0, backoff_initial_secs: 0.05, backoff_max_secs: 1, ...s.api },
    output: peer.output(),
    ...s.config,
  });
  // The bridge runs with the V8 flags it ships with (BRIDGE_NODE_OPTIONS) plus the clock
  // preload, and not with the test runner's own NODE_OPTIONS (tap's TypeScript loader and
  // process-info hooks would load into the bridge and add to its RSS).
  const env: NodeJS.ProcessEnv = {
    DLB_CHAOS_CLOCK_FILE: clockFile,
    NODE_OPTIONS: `${BRIDGE_NODE_OPTIONS} --import=${pathToFileURL(CLOCK_PRELOAD).href}`.trim(),
  };

  let allStderr = '';
  let child: ReturnType<typeof spawnBridge> | undefined;
  let peakKb = 0;
  let stoppedPeakMb = 0;
  let kills = 0;
  const abort = new AbortController();
  const hang = setTimeout(() => {
    failures.push(`hang: the scenario did not finish within ${Math.round((s.timeoutMs ?? 600_000) / 1000)} s`);
    abort.abort();
    child?.kill('SIGKILL');
  }, s.timeoutMs ?? 600_000);
  const sampler = setInterval(() => (peakKb = Math.max(peakKb, procKb(child?.pid, 'VmHWM'))), 100);

  const expectedNow = () => LOGS.reduce((n, l) => n + sim.expectedLines(l).length, 0);
  let totalCache = -1;
  let totalAt = 0;
  let allowed = 0;
  const allowedWhy = new Set<string>();
  const ctx: Ctx = {
    sim,
    peer,
    dir,
    stateDir,
    configFile,
    // expectedLines() builds every line: recount at most every 2 s (live timelines grow slowly),
    // or the runner's event loop, which also serves the simulator and the peer, starves.
    total() {
      if (totalCache < 0 || (s.live && Date.now() - totalAt > 2000)) {
        totalCache = expectedNow();
        totalAt = Date.now();
      }
      return totalCache;
    },
    acked: () => peer.ackedCount(),
    requests: () => Object.values(sim.counts).reduce((n, by) => n + Object.values(by).reduce((a, b) => a + b, 0), 0),
    pagesServed: () => Object.values(sim.counts).reduce((n, by) => n + (by[200] ?? 0), 0),
    stderr: () => allStderr,
    pid: () => child?.pid,
    rssMb: () => procKb(child?.pid, 'VmRSS') / 1024,
    sleep: (ms) => sleep(ms, abort.signal),
    async until(pred, what, ms = 120_000) {
      const end = Date.now() + ms;
      while (!pred()) {
        if (abort.signal.aborted) throw new Error(`aborted while waiting for ${what}`);
        if (Date.now() > end) throw new Error(`never happened within ${ms / 1000} s: ${what}`);
        await sleep(25);
      }
    },
    rand,
    clock(offsetMs) {
      writeFileSync(clockFile + '.tmp', String(offsetMs));
      // rename: the preload never reads a half-written number
      spawnSync('mv', [clockFile + '.tmp', clockFile]);
    },
    note: (x) => notes.push(x),
    fail: (x) => failures.push(x),
    allowDuplicates(n, reason) {
      allowed += n;
      allowedWhy.add(reason);
    },
    async runAlone(args = ['run', '--config', configFile, '--once'], extraEnv = {}) {
      const c = spawnBridge(args, { env: { ...env, ...extraEnv } });
      const r = await c.result;
      allStderr += r.stderr;
      return { code: r.code, stderr: r.stderr };
    },
    aborted: abort.signal,
    startedAt: started,
  };

  const spawnRun = (once: boolean) => {
    const c = spawnBridge(['run', '--config', configFile, ...(once ? ['--once'] : [])], { env });
    child = c;
    if (peer.feedStdout) c.stdout!.on('data', (d: string) => peer.feedStdout!(d));
    c.stderr!.on('data', (d: string) => (allStderr += d));
    if (process.env.DLB_CHAOS_DEBUG) c.stderr!.on('data', (d: string) => process.stderr.write(d));
    return c;
  };
  const ended = async (c: ReturnType<typeof spawnBridge>) => {
    const r = await c.result;
    peer.endRun?.();
    for (const l of logLines(r.stderr)) if (l.msg === 'Stopped.' || String(l.msg).startsWith('Stopped on')) stoppedPeakMb = Math.max(stoppedPeakMb, Number(l.peak_rss_mb ?? 0));
    return r;
  };

  let duringDone: Promise<void> = Promise.resolve();
  try {
    if (s.preflight) await s.preflight(ctx);
    duringDone = (s.during ? s.during(ctx) : Promise.resolve()).catch((err: Error) => {
      failures.push(`fault script: ${err.message}`);
    });

    // SIGKILLs at seeded random moments: each run is killed once it got a random number of
    // share of the events checkpointed (0 to twice a third of an even share, so some die while starting up
    // and the last run still has work), plus a random few ms, so kills land during fetches, sends
    // and checkpoint writes alike.
    // Progress is what the checkpoints cover (acknowledged copies include resends).
    const total = ctx.total();
    const share = total / (3 * (s.kills ?? 0) + 1);
    for (let k = 0; k < (s.kills ?? 0); k++) {
      if (abort.signal.aborted) break;
      if (checkpointed(stateDir) >= total) break;
      const target = Math.min(total - 1, checkpointed(stateDir) + Math.floor(rand() * 2 * share));
      const c = spawnRun(!s.live);
      let exited = false;
      void c.result.then(() => (exited = true));
      while (!exited && checkpointed(stateDir) < target && !abort.signal.aborted) await sleep(5);
      if (!exited) await sleep(Math.floor(rand() * 20));
      if (exited) {
        const r = await ended(c);
        notes.push(`a run ended by itself (exit ${r.code}) before its kill at ${target} acked`);
        if (r.code !== 0) failures.push(`run ended with exit ${r.code}: ${r.stderr.slice(-400)}`);
        break;
      }
      peakKb = Math.max(peakKb, procKb(c.pid, 'VmHWM'));
      c.kill('SIGKILL');
      const r = await ended(c);
      if (r.signal === 'SIGKILL') kills++;
    }

    // The last run: drains (--once) or polls until everything is acknowledged, then SIGTERM.
    // A fault script may SIGKILL it too (e.g. while the checkpoint cannot be written): restart.
    for (let attempt = 0; !abort.signal.aborted; attempt++) {
      const c = spawnRun(!s.live);
      if (s.live) {
        await duringDone;
        await ctx
          .until(() => c.exitCode !== null || c.signalCode !== null || checkpointed(stateDir) >= ctx.total(), 'every event the simulator exposes checkpointed (so acknowledged) (live run)', s.timeoutMs ?? 600_000)
          .catch((err: Error) => failures.push(err.message));
        c.kill('SIGTERM');
      }
      const r = await ended(c);
      if (r.signal === 'SIGKILL' && !abort.signal.aborted && attempt < 5) {
        kills++;
        notes.push('the fault script SIGKILLed the last run; restarted it');
        continue;
      }
      if (r.code !== 0) failures.push(`last run: exit ${r.code ?? r.signal}: ${r.stderr.slice(-600)}`);
      break;
    }
    await duringDone;
  } catch (err) {
    failures.push(`harness: ${(err as Error).stack ?? err}`);
  } finally {
    clearTimeout(hang);
    clearInterval(sampler);
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await child.result;
    }
    if (mounted) spawnSync('umount', ['-l', stateDir], { stdio: 'ignore' });
  }

  // Compare.
  const delivered = peer.delivered();
  let served = 0;
  let deliveredN = 0;
  let lost = 0;
  let dup = 0;
  let stray = 0;
  for (const l of LOGS) {
    const want = multiset(normalisedExpected(sim.expectedLines(l as Log)));
    const got = multiset(delivered[l]);
    let lLost = 0;
    let lDup = 0;
    for (const [k, n] of want) {
      served += n;
      const g = got.get(k) ?? 0;
      lLost += Math.max(0, n - g);
      lDup += Math.max(0, g - n);
    }
    let lStray = 0;
    for (const [k, n] of got) if (!want.has(k)) lStray += n;
    deliveredN += delivered[l].length;
    lost += lLost;
    dup += lDup;
    stray += lStray;
    if (lLost) failures.push(`${l}: ${lLost} lost`);
    if (lStray) failures.push(`${l}: ${lStray} delivered that Duo never had`);
    if (lDup > kills * PAGE + allowed) failures.push(`${l}: ${lDup} duplicates > ${kills} kills x ${PAGE} (one page in flight per kill)${allowed ? ` + ${allowed} allowed` : ''}`);
  }
  if (dup && allowed) notes.push(`duplicates without a kill allowed up to ${allowed} per log: ${[...allowedWhy].join('; ')}`);
  const stderrLines = logLines(allStderr);
  for (const m of s.mustLog ?? []) if (!allStderr.includes(m)) failures.push(`the bridge never logged ${m}`);
  const crashes = stderrLines.filter((l) => l.level === 'fatal' || /uncaught|unhandled/i.test(String(l.msg ?? l.raw ?? '')));
  if (crashes.length) failures.push(`crash lines: ${JSON.stringify(crashes[0]).slice(0, 300)}`);
  const peakRssMb = Math.max(stoppedPeakMb, Math.round(peakKb / 1024));
  if (peakRssMb >= RSS_CAP_MB) failures.push(`peak RSS ${peakRssMb} MB >= ${RSS_CAP_MB} MB`);
  if (!peakRssMb) failures.push('no peak RSS measured');
  await peer.close();
  await sim.close();
  if (!failures.length) rmSync(dir, { recursive: true, force: true });
  else {
    writeFileSync(path.join(dir, 'bridge-stderr.log'), allStderr);
    notes.push(`kept ${dir} (bridge-stderr.log: every run's stderr)`);
  }
  const row: Row = {
    scenario: s.name,
    sink: s.sink,
    served,
    delivered: deliveredN,
    lost,
    duplicated: dup,
    stray,
    kills,
    allowedDuplicates: allowed,
    peakRssMb,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    ok: failures.length === 0,
    failures,
    notes,
  };
  log(formatRow(row));
  return row;
}

export const HEADER = ['scenario', 'sink', 'served', 'delivered', 'lost', 'duplicated', 'kills', 'peak RSS MB', 'secs', 'result'];

export function formatRow(r: Row): string {
  return [r.scenario, r.sink, r.served, r.delivered, r.lost, r.duplicated, r.kills, r.peakRssMb, r.seconds, r.ok ? 'ok' : 'FAIL'].join(' | ');
}

export function formatTable(rows: Row[]): string {
  const cells = [HEADER, ...rows.map((r) => [r.scenario, r.sink, String(r.served), String(r.delivered), String(r.lost), String(r.duplicated), String(r.kills), String(r.peakRssMb), String(r.seconds), r.ok ? 'ok' : 'FAIL'])];
  const widths = HEADER.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => '| ' + c.map((x, i) => (i >= 2 && i < 9 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join(' | ') + ' |';
  const out = [line(cells[0]!), '|' + widths.map((w, i) => (i >= 2 && i < 9 ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|', ...cells.slice(1).map(line)];
  for (const r of rows) {
    for (const f of r.failures) out.push(`  FAIL ${r.scenario}: ${f}`);
    for (const n of r.notes) out.push(`  note ${r.scenario}: ${n}`);
  }
  return out.join('\n');
}
