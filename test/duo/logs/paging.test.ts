// Paging rules as pure functions: no network, no clock.
import t from 'tap';
import { nextV1, nextV2 } from '../../../src/duo/logs/paging.js';
import { authenticationLog } from '../../../src/duo/logs/authentication.js';
import { telephonyLog } from '../../../src/duo/logs/telephony.js';
import { administratorLog } from '../../../src/duo/logs/administrator.js';

const walk = { mintime: 1_700_000_000_000, maxtime: 1_700_000_900_000 };
const items = (n: number) => Array.from({ length: n }, (_, i) => ({ i }));

t.test('v2: the walk ends on an empty page, a null cursor, a short page, or a cursor that did not move', async (t) => {
  t.same(nextV2(walk, { items: [], nextOffset: null }, 1000), { done: true });
  t.same(nextV2(walk, { items: [], nextOffset: '1,a' }, 1000), { done: true }, 'empty page with a cursor still ends');
  t.same(nextV2(walk, { items: items(1000), nextOffset: null }, 1000), { done: true }, 'full page, null cursor');
  t.same(nextV2(walk, { items: items(999), nextOffset: '1700000000500,abc' }, 1000), { done: true }, 'final partial page with a cursor ends the walk');
  const same = nextV2({ ...walk, nextOffset: '5,x' }, { items: items(1000), nextOffset: '5,x' }, 1000);
  t.ok('done' in same && same.warning, 'a cursor that did not move ends the walk with a warning');
  t.same(nextV2(walk, { items: items(1000), nextOffset: '1700000000500,abc' }, 1000), { walk: { ...walk, nextOffset: '1700000000500,abc' } }, 'full page continues with the cursor; window frozen');
});

t.test('v1: next mintime is the largest second seen (inclusive); a full page in one second steps +1', async (t) => {
  const w = { mintime: 100, maxtime: 10_000 };
  t.same(nextV1(w, [100, 101, 150], 1000), { done: true }, 'short page ends');
  const full = Array.from({ length: 1000 }, (_, i) => 100 + Math.floor(i / 10));
  t.same(nextV1(w, full, 1000), { walk: { ...w, mintime: 199 } }, 'inclusive max');
  const oneSecond = new Array(1000).fill(150);
  const s = nextV1({ ...w, mintime: 150 }, oneSecond, 1000);
  t.ok('walk' in s && s.walk.mintime === 151 && s.warning, 'whole page in one second -> +1 with a warning');
  const pastCutoff = [...full.slice(0, 999), 20_000];
  t.same(nextV1(w, pastCutoff, 1000), { done: true }, 'rows past the delay cutoff end the walk');
  const stuck = [...new Array(999).fill(100), 100];
  const st = nextV1({ ...w, mintime: 100 }, stuck, 1000);
  t.ok('walk' in st && st.walk.mintime === 101, 'never re-asks the same mintime');
});

t.test('authentication: params, cursor normalisation, times with microseconds', async (t) => {
  t.same(authenticationLog.params({ ...walk, nextOffset: '1,a' }), { mintime: '1700000000000', maxtime: '1700000900000', limit: '1000', sort: 'ts:asc', next_offset: '1,a' });
  t.equal(authenticationLog.parse({ authlogs: [], metadata: { next_offset: ['1597671838335', '1f6e1807-aa'] } }).nextOffset, '1597671838335,1f6e1807-aa', 'array cursor sent back comma-joined');
  t.equal(authenticationLog.parse({ authlogs: [], metadata: { next_offset: null } }).nextOffset, null);
  t.equal(authenticationLog.parse({ authlogs: [] }).nextOffset, null, 'absent metadata');
  t.throws(() => authenticationLog.parse({ nope: 1 }), 'wrong shape is an error, not an empty page');
  t.equal(authenticationLog.timeUs({ isotimestamp: '2020-02-13T18:56:20.351346+00:00' }), Date.UTC(2020, 1, 13, 18, 56, 20) * 1000 + 351346);
  t.equal(authenticationLog.timeUs({ isotimestamp: '2020-02-13T19:56:20.351346+01:00' }), Date.UTC(2020, 1, 13, 18, 56, 20) * 1000 + 351346, 'offset honoured');
  t.equal(authenticationLog.timeUs({ timestamp: 1581620180 }), 1581620180e6, 'falls back to seconds');
});

t.test('telephony: string cursor, isotimestamp inserted after credits, eventtype and host last', async (t) => {
  t.equal(telephonyLog.parse({ items: [], metadata: { next_offset: '1664576469635,1c40324f' } }).nextOffset, '1664576469635,1c40324f');
  const rec = telephonyLog.shape(
    { context: 'authentication', credits: 2, phone: '+17345551311', telephony_id: 'x', ts: '2023-01-26T20:54:12.573580+00:00', txid: 'y', type: 'phone' },
    'api-x.duosecurity.com',
  );
  t.same(Object.keys(rec), ['context', 'credits', 'isotimestamp', 'phone', 'telephony_id', 'ts', 'txid', 'type', 'eventtype', 'host']);
  t.equal(rec.isotimestamp, '2023-01-26T20:54:12.573580+00:00', 'microseconds kept');
  t.equal(telephonyLog.id({ telephony_id: 'abc', txid: 'z' }), 'abc');
});

t.test('administrator: list response, seconds, content ids, shape', async (t) => {
  t.throws(() => administratorLog.parse({ authlogs: [] }), 'a non-list is an error');
  const row = { action: 'user_update', description: '{"a": 1}', isotimestamp: '2020-01-24T15:09:42+00:00', object: 'jsmith', timestamp: 1579878582, username: 'admin' };
  t.equal(administratorLog.timeUs(row), 1579878582e6);
  t.equal(administratorLog.id({ ...row }), administratorLog.id({ ...row }), 'same content, same id');
  t.not(administratorLog.id({ ...row, object: 'other' }), administratorLog.id(row));
  t.same(Object.keys(administratorLog.shape({ ...row }, 'h')), [...Object.keys(row), 'eventtype', 'host']);
  t.same(administratorLog.params({ mintime: 1579878582, maxtime: 1579879000 }), { mintime: '1579878582' }, 'v1 takes mintime only');
});
