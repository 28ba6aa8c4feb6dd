// Walk planning and boundary dedupe: pure, driven without a network.
import t from 'tap';
import { acceptPage, planWalk, walkExpired, WINDOW_MS, type Position } from '../../src/pipeline/cursor.js';
import { authenticationLog } from '../../src/duo/logs/authentication.js';
import { administratorLog } from '../../src/duo/logs/administrator.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const iso = (ms: number, us = 0) => new Date(ms).toISOString().slice(0, 23) + String(us).padStart(3, '0') + '+00:00';
const auth = (ms: number, txid: string, us = 0) => ({ isotimestamp: iso(ms, us), txid });

t.test('planWalk: maxtime = now - delay; configured start; checkpoint inclusive; 180-day clamp', async (t) => {
  const p = planWalk(authenticationLog, null, { nowMs: NOW, delayMs: 120_000, startMs: NOW - 3_600_000 })!;
  t.same(p.walk, { mintime: NOW - 3_600_000, maxtime: NOW - 120_000 });
  t.equal(p.clampedFromMs, undefined);
  const c = planWalk(authenticationLog, { time: NOW - 1000_000, ids: ['a'] }, { nowMs: NOW, delayMs: 120_000, startMs: 0 })!;
  t.equal(c.walk.mintime, NOW - 1000_000, 'resumes AT the checkpoint time (inclusive)');
  const old = planWalk(authenticationLog, null, { nowMs: NOW, delayMs: 120_000, startMs: NOW - 200 * 86_400_000 })!;
  t.equal(old.clampedFromMs, NOW - 200 * 86_400_000, 'clamp reported');
  t.ok(old.walk.mintime > NOW - WINDOW_MS, 'never sent older than 180 days');
  t.ok(old.walk.maxtime - old.walk.mintime < WINDOW_MS, 'span under 180 days');
  t.equal(planWalk(authenticationLog, { time: NOW - 60_000, ids: [] }, { nowMs: NOW, delayMs: 120_000, startMs: 0 }), null, 'nothing to ask inside the delay');
  const adm = planWalk(administratorLog, { time: Math.floor(NOW / 1000) - 500, ids: [] }, { nowMs: NOW, delayMs: 120_000, startMs: 0 })!;
  t.same(adm.walk, { mintime: Math.floor(NOW / 1000) - 500, maxtime: Math.floor(NOW / 1000) - 120 }, 'administrator works in seconds');
  t.ok(walkExpired(authenticationLog, { mintime: NOW - WINDOW_MS, maxtime: NOW }, NOW));
  t.notOk(walkExpired(authenticationLog, p.walk, NOW));
});

t.test('acceptPage: many events in one millisecond across pages and restarts', async (t) => {
  const ms = NOW - 600_000;
  const w = { mintime: ms - 10, maxtime: NOW };
  const page1 = [auth(ms - 5, 'a'), auth(ms, 'b', 1), auth(ms, 'c', 2)];
  const a1 = acceptPage(authenticationLog, null, w, page1);
  t.equal(a1.fresh.length, 3);
  t.same(a1.position, { time: ms, ids: ['b', 'c'] });
  // Next page (or a restart at mintime = ms) sends b, c again plus d in the same ms and e later.
  const page2 = [auth(ms, 'b', 1), auth(ms, 'c', 2), auth(ms, 'd', 3), auth(ms + 1, 'e')];
  const a2 = acceptPage(authenticationLog, a1.position, w, page2);
  t.same(a2.ids, ['d', 'e'], 'boundary rows already delivered are dropped by id, none skipped');
  t.same(a2.position, { time: ms + 1, ids: ['e'] });
  const a3 = acceptPage(authenticationLog, a2.position, w, []);
  t.same(a3.fresh, [], 'empty page');
  t.same(a3.position, a2.position, 'empty page keeps the position');
  t.same(a1.timesUs[1], ms * 1000 + 1, 'µs kept');
});

t.test('acceptPage: administrator rows without ids dedupe as a multiset', async (t) => {
  const row = (sec: number, o: string) => ({ action: 'a', description: null, isotimestamp: '', object: o, timestamp: sec, username: 'x' });
  const w = { mintime: 100, maxtime: 1000 };
  const a1 = acceptPage(administratorLog, null, w, [row(100, 'p'), row(101, 'q'), row(101, 'q')]);
  t.equal(a1.fresh.length, 3, 'two identical rows are two events');
  t.equal(a1.position!.ids.length, 2);
  const a2 = acceptPage(administratorLog, a1.position, { ...w, mintime: 101 }, [row(101, 'q'), row(101, 'q'), row(101, 'q'), row(102, 'r')]);
  t.equal(a2.fresh.length, 2, 'a third identical row is new; the two seen are not');
  const a3 = acceptPage(administratorLog, null, { mintime: 100, maxtime: 101 }, [row(100, 'p'), row(102, 'late')]);
  t.equal(a3.fresh.length, 1, 'rows past maxtime (inside the delay) wait for a later poll');
  t.equal(a3.notYetDue, 1);
});

t.test('acceptPage: rows without a usable time are delivered, position unchanged', async (t) => {
  const pos: Position = { time: 5, ids: ['x'] };
  const a = acceptPage(authenticationLog, pos, { mintime: 0, maxtime: NOW }, [{ txid: 'no-time' }]);
  t.equal(a.fresh.length, 1);
  t.equal(a.untimed, 1);
  t.same(a.position, pos);
});
