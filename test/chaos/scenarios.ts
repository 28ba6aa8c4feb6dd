/**
 * The chaos scenario library: each fault alone, then in combination, against the acknowledged
 * sinks (forward, vector gRPC, http) with stdout as the baseline. `scenarios('full')` is what
 * `npm run chaos` runs (10,000 events per log, sink outages of a minute); `scenarios('short')`
 * is the handful the tests run (test/e2e/chaos-short.test.ts).
 *
 * Fault scripts (the `during` functions) also check what the bridge does while the fault lasts:
 * with the sink down or the checkpoint unwritable it must stop fetching (the simulator sees no
 * new requests beyond one prefetched page per log) and hold memory; with the checkpoint dir
 * unusable at start it must refuse to start, saying so, without asking Duo for anything.
 */
import { rmSync, renameSync, writeFileSync, openSync, writeSync, closeSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { canMount, sh, type Ctx, type Scenario } from './harness.js';
import type { SinkName } from './peers.js';
import type { FaultKind } from '../../src/sim/server.js';

const ACKED_SINKS: SinkName[] = ['forward', 'vector', 'http'];
const ALL_DUO_FAULTS: FaultKind[] = ['429', '500', '503', 'truncated', 'html', '40105', 'reset', 'slow'];

/** Wait until `share` of the events was acknowledged. */
async function atShare(ctx: Ctx, share: number, ms = 180_000): Promise<void> {
  await ctx.until(() => ctx.acked() >= share * ctx.total(), `${Math.round(share * 100)}% acknowledged`, ms);
}

/**
 * While the fault holds: after a grace period (the page in flight and the one prefetched per log
 * settle), the bridge must make no more Duo requests than one outstanding prefetch per log, and
 * acknowledge nothing new when `noAcks`.
 */
async function holdAndCheckStall(ctx: Ctx, holdMs: number, what: string, noAcks: boolean): Promise<void> {
  const grace = Math.min(3000, holdMs / 3);
  await ctx.sleep(grace);
  // Pages (200 answers), not requests: a prefetch that meets Duo errors keeps retrying that one
  // request, which is not fetching more.
  const r0 = ctx.pagesServed();
  const a0 = ctx.acked();
  let rss = 0;
  const end = Date.now() + holdMs - grace;
  while (Date.now() < end && !ctx.aborted.aborted) {
    rss = Math.max(rss, ctx.rssMb());
    await ctx.sleep(250);
  }
  const dr = ctx.pagesServed() - r0;
  const da = ctx.acked() - a0;
  ctx.note(`${what}: ${dr} Duo pages served and ${da} acks in the last ${Math.round((holdMs - grace) / 1000)} s of the fault, RSS up to ${rss.toFixed(0)} MB`);
  if (dr > 3) ctx.fail(`${what}: the bridge kept fetching (${dr} Duo pages while it could not deliver or checkpoint)`);
  if (noAcks && da > 0) ctx.fail(`${what}: ${da} events acknowledged while the checkpoint could not be written`);
}

/**
 * A sink that goes away may have taken a page and sent its acknowledgement (forward ack, gRPC
 * OK, HTTP 200) without the bridge ever reading it: the connection is gone. The bridge must
 * resend that page (at least once), so each outage may duplicate up to one page per log, just
 * as a kill of the bridge may. Nothing else may be duplicated.
 */
async function takeDown(ctx: Ctx): Promise<void> {
  ctx.allowDuplicates(1000, 'the sink went away after acknowledging a page whose acknowledgement never reached the bridge: resent (at most one page per log per outage)');
  await ctx.peer.down();
}

function sinkDown(downMs: number, share = 0.3): (ctx: Ctx) => Promise<void> {
  return async (ctx) => {
    await atShare(ctx, share);
    await takeDown(ctx);
    await holdAndCheckStall(ctx, downMs, `sink down ${downMs / 1000} s`, false);
    await ctx.peer.up();
  };
}

function flapping(cycles: number): (ctx: Ctx) => Promise<void> {
  return async (ctx) => {
    await atShare(ctx, 0.05);
    let i = 0;
    for (; i < cycles && ctx.acked() < 0.95 * ctx.total(); i++) {
      await takeDown(ctx);
      await ctx.sleep(300 + Math.floor(ctx.rand() * 1500));
      await ctx.peer.up();
      await ctx.sleep(200 + Math.floor(ctx.rand() * 800));
    }
    ctx.note(`sink flapped ${i} times`);
  };
}

/**
 * Sink errors, a few at a time, each burst after a success. `splitPage`: the sink takes a page
 * in several calls (Vector batch_size < 1000), so a failure can follow a partial acknowledgement;
 * the Sink contract (src/sinks/types.ts) says the pipeline then resends the whole page, so up to
 * a page per injected error may be duplicated without any kill: documented, and allowed here.
 */
function erroring(everyMs: number, splitPage = false): (ctx: Ctx) => Promise<void> {
  return async (ctx) => {
    let injected = 0;
    while (ctx.acked() < 0.9 * ctx.total() && !ctx.aborted.aborted) {
      const n = 1 + Math.floor(ctx.rand() * 3);
      ctx.peer.fail(n);
      injected += n;
      if (splitPage) ctx.allowDuplicates(n * 1000, 'a failed call after other calls of the same page were acknowledged (batch_size < page): the whole page is resent, as the Sink contract documents');
      // Forward: a failure is a connection dropped mid-chunk, which also takes with it the acks
      // already written for other logs' chunks on that connection: those pages are resent.
      if (ctx.peer.name === 'forward') ctx.allowDuplicates(n * 1000, 'a forward connection dropped mid-chunk also lost the acks written for chunks of other logs on it: resent (at-least-once)');
      // The next errors only after a success: the injected ones were used up (no endless queue
      // against the bridge's growing backoff).
      const a0 = ctx.acked();
      await ctx.until(() => ctx.acked() > a0, 'an acknowledgement after injected sink errors', 300_000);
      await ctx.sleep(everyMs);
    }
    ctx.note(`${injected} sink errors injected`);
  };
}

/** Queue these Duo faults for the very next requests (so short runs surely meet them). */
function duoFaultsNow(kinds: FaultKind[]): (ctx: Ctx) => Promise<void> {
  return async (ctx) => ctx.sim.injectFaults(kinds);
}

function slowSink(ms: number): (ctx: Ctx) => Promise<void> {
  return async (ctx) => ctx.peer.slow(ms);
}

function all(...scripts: ((ctx: Ctx) => Promise<void>)[]): (ctx: Ctx) => Promise<void> {
  return async (ctx) => {
    await Promise.all(scripts.map((f) => f(ctx)));
  };
}

/**
 * Making the checkpoint directory unusable, for real, as root (chmod does not stop root):
 *  - 'full': checkpoint_dir is its own 256 KiB tmpfs; a filler file takes every free block, so
 *    the next checkpoint write fails with ENOSPC; deleting the filler frees it.
 *  - 'readonly': the same tmpfs remounted read-only (`mount -o remount,ro`): EROFS; then rw.
 *  - 'gone' (the fallback where mount is not permitted): the directory is renamed aside and a
 *    regular file put at its path, so the write fails with ENOTDIR; then put back.
 */
export type CpFault = 'full' | 'readonly' | 'gone';

function breakCheckpointDir(ctx: Ctx, kind: CpFault): () => void {
  const d = ctx.stateDir;
  if (kind === 'full') {
    const filler = path.join(d, 'zz-filler');
    const fd = openSync(filler, 'w');
    const block = Buffer.alloc(4096, 0x41);
    try {
      for (;;) writeSync(fd, block);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
    return () => unlinkSync(filler);
  }
  if (kind === 'readonly') {
    sh('mount', ['-o', 'remount,ro', d]);
    return () => sh('mount', ['-o', 'remount,rw', d]);
  }
  renameSync(d, d + '.aside');
  writeFileSync(d, 'not a directory\n');
  return () => {
    rmSync(d);
    renameSync(d + '.aside', d);
  };
}

const CP_MSG = 'Cannot save the checkpoint; fetching is paused until it can be saved.';
const CP_HINT: Record<CpFault, string> = { full: 'ENOSPC', readonly: 'EROFS', gone: 'ENOTDIR' };

function checkpointFault(kind: CpFault, holdMs: number, opts: { killDuringHold?: boolean; share?: number } = {}): (ctx: Ctx) => Promise<void> {
  return async (ctx) => {
    await atShare(ctx, opts.share ?? 0.3);
    const restore = breakCheckpointDir(ctx, kind);
    try {
      await ctx.until(() => ctx.stderr().includes(CP_MSG), 'the bridge reports it cannot save the checkpoint', 30_000);
      if (!ctx.stderr().includes(CP_HINT[kind])) ctx.fail(`the checkpoint error does not name ${CP_HINT[kind]}`);
      await holdAndCheckStall(ctx, holdMs, `checkpoint dir ${kind}`, true);
      if (opts.killDuringHold) {
        const pid = ctx.pid();
        if (pid) process.kill(pid, 'SIGKILL');
        ctx.note('SIGKILLed while the checkpoint could not be written');
        await ctx.sleep(500);
      }
    } finally {
      restore();
    }
  };
}

/** An unusable checkpoint dir at start: exit 1, say so, and ask Duo for nothing. */
function refuseToStart(kind: CpFault): (ctx: Ctx) => Promise<void> {
  // A full disk still passes the start's writability check (a real write is what fails), so
  // the start is tried read-only in that case.
  const at = kind === 'full' ? 'readonly' : kind;
  return async (ctx) => {
    const restore = breakCheckpointDir(ctx, at);
    try {
      const before = ctx.requests();
      const r = await ctx.runAlone();
      if (r.code !== 1) ctx.fail(`start with the checkpoint dir ${at}: exit ${r.code}, expected 1`);
      if (!/checkpoint_dir .* is not writable/.test(r.stderr)) ctx.fail(`start with the checkpoint dir ${at}: no "not writable" message: ${r.stderr.slice(-300)}`);
      if (ctx.requests() !== before) ctx.fail(`start with the checkpoint dir ${at}: ${ctx.requests() - before} Duo requests made`);
      else ctx.note(`start with checkpoint dir ${at}: exit 1, "not writable", no Duo request`);
    } finally {
      restore();
    }
  };
}

/**
 * Clock jumps on the bridge host (see clock-preload.mjs): within Duo's 5-minute tolerance
 * (accepted, so the walk windows move: ahead asks for times Duo does not show yet, behind has
 * nothing to ask for), and beyond it (Duo answers 40105; the bridge re-signs and retries).
 * The simulator keeps serving new events while this goes on (live mode), then the clock returns.
 */
function clockJumps(holdMs: number, rampMs: number, share = 0.15): (ctx: Ctx) => Promise<void> {
  return async (ctx) => {
    await atShare(ctx, share);
    for (const [offset, label] of [
      [240_000, '+4 min'],
      [-240_000, '-4 min'],
      [600_000, '+10 min'],
      [0, 'back'],
      [-600_000, '-10 min'],
      [3_600_000, '+1 h'],
      [-3_600_000, '-1 h'],
      [90_000, '+90 s'],
      [0, 'back'],
    ] as const) {
      ctx.clock(offset);
      ctx.note(`clock ${label}`);
      await ctx.sleep(holdMs);
    }
    const skew = Object.values(ctx.sim.counts).reduce((n, by) => n + (by[401] ?? 0), 0);
    ctx.note(`the simulator answered 401/40105 ${skew} times`);
    if (!skew) ctx.fail('no 40105 was provoked');
    // Let the events still becoming visible (live timeline) arrive before the run is ended.
    const left = ctx.startedAt + rampMs + 3000 - Date.now();
    if (left > 0) await ctx.sleep(left);
  };
}

/** Seconds of live timeline still to become visible when a clock scenario starts. */
function liveSim(rampMs: number) {
  // Duo (and the simulator) hide the newest 120 s; events end rampMs before that horizon passes them.
  return { spanMs: 30 * 60_000, endAgoMs: 120_000 - rampMs };
}

export function scenarios(mode: 'full' | 'short'): Scenario[] {
  const full = mode === 'full';
  const N = full ? 10_000 : 2000;
  const cpKinds: CpFault[] = canMount() ? ['full', 'readonly'] : ['gone'];
  const list: Scenario[] = [];
  const dx = (sink: SinkName) => ACKED_SINKS.indexOf(sink);

  if (full) {
    list.push({ name: 'baseline', sink: 'stdout', events: N, seed: 1 });
    for (const sink of ACKED_SINKS) list.push({ name: 'baseline', sink, events: N, seed: 2 + dx(sink) });
    for (const sink of ['stdout', ...ACKED_SINKS] as SinkName[]) list.push({ name: 'sigkill x20', sink, events: 2 * N, seed: 10 + dx(sink), kills: 20 });
    for (const sink of ACKED_SINKS) {
      list.push({ name: 'sink down 60 s', sink, events: N, seed: 20 + dx(sink), during: sinkDown(60_000) });
      list.push({ name: 'sink flapping (and slow)', sink, events: N, seed: 30 + dx(sink), during: all(slowSink(300), flapping(15)) });
      list.push({ name: 'sink slow (250 ms)', sink, events: N, seed: 40 + dx(sink), during: slowSink(250) });
      list.push({ name: 'sink errors', sink, events: N, seed: 50 + dx(sink), during: erroring(150) });
    }
    list.push({ name: 'sink errors, vector batch_size 500', sink: 'vector', events: N, seed: 55, peer: { vectorBatchSize: 500 }, during: erroring(150, true) });
    list.push({ name: 'duo 429 storm', sink: 'forward', events: N, seed: 60, sim: { rateLimit: { requests: 4, windowMs: 1000 }, faults: { rate: 0.3, kinds: ['429'], seed: 60 } }, mustLog: ['"error_code":"DLB_DUO_RATE_LIMITED"'] });
    list.push({ name: 'duo 5xx + resets', sink: 'vector', events: N, seed: 61, sim: { faults: { rate: 0.3, kinds: ['500', '503', 'reset'], seed: 61 } }, mustLog: ['"error_code":"DLB_DUO_SERVER"'] });
    list.push({ name: 'duo timeouts', sink: 'http', events: N, seed: 62, sim: { faults: { rate: 0.2, kinds: ['slow'], seed: 62 }, slowMs: 2500 }, api: { timeout_secs: 1 }, mustLog: ['"error_code":"DLB_DUO_TIMEOUT"'] });
    list.push({ name: 'duo truncated + html', sink: 'forward', events: N, seed: 63, sim: { faults: { rate: 0.3, kinds: ['truncated', 'html'], seed: 63 } }, mustLog: ['"error_code":"DLB_DUO_BAD_RESPONSE"'] });
    list.push({ name: 'duo 40105 clock skew', sink: 'vector', events: N, seed: 64, sim: { faults: { rate: 0.3, kinds: ['40105'], seed: 64 } }, mustLog: ['"error_code":"DLB_DUO_CLOCK_SKEW"'] });
    for (const [i, kind] of cpKinds.entries()) {
      const sink = ACKED_SINKS[i % 3]!;
      list.push({ name: `checkpoint ${kind} 30 s`, sink, events: N, seed: 70 + i, checkpointTmpfs: kind !== 'gone', preflight: refuseToStart(kind), during: checkpointFault(kind, 30_000), mustLog: [CP_MSG] });
    }
    list.push({ name: `checkpoint ${cpKinds[0]} + sigkill`, sink: 'vector', events: N, seed: 75, checkpointTmpfs: cpKinds[0] !== 'gone', during: checkpointFault(cpKinds[0]!, 8000, { killDuringHold: true }), mustLog: [CP_MSG] });
    for (const sink of ['vector', 'forward'] as SinkName[]) {
      const rampMs = 60_000;
      list.push({ name: 'clock jumps during backfill (live)', sink, events: N, seed: 80 + dx(sink), live: true, sim: liveSim(rampMs), api: { request_interval_secs: 1 }, during: clockJumps(3000, rampMs, 0.05), mustLog: ['"error_code":"DLB_DUO_CLOCK_SKEW"'], timeoutMs: 300_000 });
    }
    for (const sink of ACKED_SINKS) {
      list.push({
        name: 'combined: sigkill x20 + duo faults + sink flapping/slow/errors',
        sink,
        events: 2 * N,
        seed: 90 + dx(sink),
        kills: 20,
        sim: { faults: { rate: 0.15, kinds: ALL_DUO_FAULTS, seed: 90 + dx(sink) }, slowMs: 1500 },
        api: { timeout_secs: 1 },
        during: all(flapping(8), erroring(400), slowSink(30)),
      });
    }
    list.push({
      name: 'combined: clock jumps + checkpoint + duo faults + sink down',
      sink: 'http',
      events: N,
      seed: 95,
      live: true,
      checkpointTmpfs: cpKinds[0] !== 'gone',
      sim: { ...liveSim(60_000), faults: { rate: 0.1, kinds: ALL_DUO_FAULTS, seed: 95 }, slowMs: 1500 },
      api: { timeout_secs: 1 },
      during: all(clockJumps(4000, 60_000), checkpointFault(cpKinds[0]!, 6000, { share: 0.5 }), sinkDown(10_000, 0.7)),
    });
    return list;
  }

  // short: a handful, small counts, every fault family once.
  list.push({
    name: 'sigkill x20 + duo faults',
    sink: 'http',
    events: 15_000,
    seed: 101,
    kills: 20,
    sim: { faults: { rate: 0.1, kinds: ['429', '500', '503', 'truncated', 'html', '40105', 'reset'], seed: 101 } },
  });
  list.push({
    name: 'sink down 15 s, then flapping',
    sink: 'forward',
    events: 5000,
    seed: 102,
    during: async (ctx) => {
      await sinkDown(15_000, 0.2)(ctx);
      ctx.peer.slow(200); // so the flapping meets deliveries in flight
      await flapping(4)(ctx);
    },
  });
  list.push({
    name: 'sink slow + errors, duo timeouts',
    sink: 'vector',
    events: 5000,
    seed: 103,
    sim: { faults: { rate: 0.1, kinds: ['slow'], seed: 103 }, slowMs: 2000 },
    api: { timeout_secs: 1 },
    during: all(duoFaultsNow(['slow', 'slow', 'slow']), slowSink(50), erroring(200)),
    mustLog: ['"error_code":"DLB_DUO_TIMEOUT"'],
  });
  list.push({ name: `checkpoint ${cpKinds[0]} 8 s`, sink: 'forward', events: N, seed: 104, checkpointTmpfs: cpKinds[0] !== 'gone', preflight: refuseToStart(cpKinds[0]!), during: checkpointFault(cpKinds[0]!, 8000), mustLog: [CP_MSG] });
  const rampMs = 20_000;
  list.push({
    name: 'clock jumps during backfill (live)',
    sink: 'vector',
    events: 5000,
    seed: 105,
    live: true,
    sim: liveSim(rampMs),
    // Paced (1 request/s per log) so the backfill is still walking when the clock jumps.
    api: { request_interval_secs: 1 },
    during: clockJumps(1500, rampMs, 0.05),
    mustLog: ['"error_code":"DLB_DUO_CLOCK_SKEW"'],
    timeoutMs: 150_000,
  });
  return list;
}
