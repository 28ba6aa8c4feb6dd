/**
 * The bytes the `vector` output sends, decoded with the repo's own vector/proto/ files through
 * @grpc/proto-loader (protobufjs: a decoder independent of the hand-written encoder):
 * every Vector value kind, the timestamp at microsecond precision, options, and a seeded
 * random round trip.
 */
import t from 'tap';
import { DuoEvent } from '../../src/format/event.js';
import { encodePushEventsRequest, ProtoWriter, writeValue } from '../../src/sinks/vector/encode.js';
import { decodePushEventsRequest, toJs, VectorTimestamp, type RawValue } from '../helpers/vector-grpc-server.js';

const DEFAULT = { timestampKey: 'timestamp', includeMessage: false };

function decodeOne(e: DuoEvent, opts = DEFAULT): Record<string, RawValue> {
  const req = decodePushEventsRequest(encodePushEventsRequest([e], opts));
  t.equal(req.events?.length, 1);
  const w = req.events![0]!;
  t.equal(w.event, 'log', 'EventWrapper carries a Log');
  t.equal(w.log?.fields, undefined, 'deprecated Log.fields is not used');
  t.equal(w.log?.value?.kind, 'map', 'Log.value is a map');
  return w.log!.value!.map!.fields!;
}

const long = 'x'.repeat(200);
const huge = 'é'.repeat(20_000); // 40,000 bytes: a 3-byte length prefix
const record = {
  str: 'hello',
  empty: '',
  unicode: 'Zoë — 東京 🚀',
  long,
  huge,
  zero: 0,
  one: 1,
  minus: -1,
  int32max: 2147483647,
  big: 2 ** 40 + 3,
  maxSafe: Number.MAX_SAFE_INTEGER,
  minSafe: Number.MIN_SAFE_INTEGER,
  half: 1.5,
  negFloat: -0.25,
  tiny: 5e-324,
  hugeFloat: 1e300,
  unsafeInt: 2 ** 53 + 2,
  yes: true,
  no: false,
  nothing: null,
  skipped: undefined,
  nested: { a: { b: { c: 'deep' } }, n: 7, emptyMap: {} },
  list: ['a', 2, 2.5, false, null, { k: 'v' }, [1, [2]], undefined],
  emptyList: [],
  when: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)),
};

t.test('every value kind decodes to the same value, with the right Vector kind', async (t) => {
  const f = decodeOne(new DuoEvent('authentication', 1_700_000_000_123_456, 'id1', record));
  const kinds = Object.fromEntries(Object.entries(f).map(([k, v]) => [k, v.kind]));
  t.same(kinds, {
    str: 'raw_bytes',
    empty: 'raw_bytes',
    unicode: 'raw_bytes',
    long: 'raw_bytes',
    huge: 'raw_bytes',
    zero: 'integer',
    one: 'integer',
    minus: 'integer',
    int32max: 'integer',
    big: 'integer',
    maxSafe: 'integer',
    minSafe: 'integer',
    half: 'float',
    negFloat: 'float',
    tiny: 'float',
    hugeFloat: 'float',
    unsafeInt: 'float',
    yes: 'boolean',
    no: 'boolean',
    nothing: 'null',
    nested: 'map',
    list: 'array',
    emptyList: 'array',
    when: 'raw_bytes',
    timestamp: 'timestamp',
  });
  t.notOk('skipped' in f, 'undefined members are left out, as in JSON');
  t.equal(f.minus!.integer, '-1', 'negative int64 (10-byte two\'s complement) decodes exactly');
  t.equal(f.minSafe!.integer, String(Number.MIN_SAFE_INTEGER));
  t.equal(f.maxSafe!.integer, String(Number.MAX_SAFE_INTEGER));
  t.equal(f.nothing!.null, 'NULL_VALUE');
  t.equal(f.no!.boolean, false, 'false is on the wire (a oneof member), not dropped as a default');
  t.equal(f.zero!.integer, '0');
  const js = toJs({ kind: 'map', map: { fields: f } }) as Record<string, unknown>;
  const { timestamp, ...rest } = js;
  const expected = JSON.parse(JSON.stringify(record));
  t.same(rest, expected, 'values equal the JSON view of the record');
  t.ok(timestamp instanceof VectorTimestamp);
  t.equal(js.huge, huge);
  t.equal(js.unicode, record.unicode);
  t.same(js.list, ['a', 2, 2.5, false, null, { k: 'v' }, [1, [2]], null], 'undefined inside an array becomes null');
  t.equal(js.when, '2026-01-02T03:04:05.678Z', 'toJSON is honoured (Date -> ISO string)');
  t.equal(js.message, undefined, 'no message by default');
});

t.test('timestamp round-trips at microsecond precision', async (t) => {
  const cases: [number, string, number][] = [
    [1_700_000_000_123_456, '1700000000', 123_456_000],
    [1_700_000_000_000_001, '1700000000', 1_000],
    [1_700_000_000_999_999, '1700000000', 999_999_000],
    [1_700_000_000_000_000, '1700000000', 0],
    [0, '0', 0],
    [999_999, '0', 999_999_000],
    [-1, '-1', 999_999_000], // one microsecond before the epoch: nanos stay in [0, 1e9)
    [-1_500_000, '-2', 500_000_000],
    [4_102_444_800_000_001, '4102444800', 1_000], // 2100-01-01, past 2^31 seconds
  ];
  for (const [us, seconds, nanos] of cases) {
    const f = decodeOne(new DuoEvent('telephony', us, 'id', { a: 1 }));
    const ts = f.timestamp!.timestamp ?? {};
    t.equal(ts.seconds ?? '0', seconds, `${us} µs -> seconds`);
    t.equal(ts.nanos ?? 0, nanos, `${us} µs -> nanos`);
    const back = toJs(f.timestamp) as VectorTimestamp;
    t.equal(back.micros, us, `${us} µs survives the round trip`);
  }
});

t.test('an event without a finite time is sent without a timestamp, not with a bogus one', async (t) => {
  const f = decodeOne(new DuoEvent('authentication', Number.NaN, 'id', { a: 1 }));
  t.same(Object.keys(f), ['a']);
});

t.test("the event time replaces a record field of the same name; timestamp_key moves it", async (t) => {
  const e = new DuoEvent('authentication', 1_600_000_000_654_321, 'id', { timestamp: 1_600_000_000, isotimestamp: '2020-09-13T12:26:40.654321+00:00', x: 'y' });
  const f = decodeOne(e);
  t.equal(f.timestamp!.kind, 'timestamp', "Duo's integer seconds are replaced by the exact time");
  t.equal(f.isotimestamp!.kind, 'raw_bytes');
  const g = decodeOne(e, { timestampKey: '@timestamp', includeMessage: false });
  t.equal(g.timestamp!.kind, 'integer', 'with another key the Duo field stays as it was');
  t.equal(g['@timestamp']!.kind, 'timestamp');
  t.equal((toJs(g['@timestamp']) as VectorTimestamp).micros, 1_600_000_000_654_321);
});

t.test('include_message adds the NDJSON line under message', async (t) => {
  const e = new DuoEvent('administrator', 1_700_000_000_000_000, 'id', { action: 'login', message: 'from Duo', n: 1 });
  const f = decodeOne(e, { timestampKey: 'timestamp', includeMessage: true });
  t.equal(toJs(f.message), e.json, 'message is exactly event.json');
  t.equal(toJs(f.action), 'login');
  const g = decodeOne(e);
  t.equal(toJs(g.message), 'from Duo', "without include_message a record's own message field is kept");
});

t.test('a batch keeps every event, in order', async (t) => {
  const events = Array.from({ length: 2_345 }, (_, i) => new DuoEvent('authentication', 1_700_000_000_000_000 + i, `tx${i}`, { txid: `tx${i}`, i, text: 'ü'.repeat(i % 300) }));
  const req = decodePushEventsRequest(encodePushEventsRequest(events, DEFAULT));
  t.equal(req.events!.length, events.length);
  let ok = 0;
  req.events!.forEach((w, i) => {
    const js = toJs(w.log!.value) as Record<string, unknown>;
    if (js.txid === `tx${i}` && js.i === i && js.text === 'ü'.repeat(i % 300) && (js.timestamp as VectorTimestamp).micros === 1_700_000_000_000_000 + i) ok++;
  });
  t.equal(ok, events.length, 'every event decodes to its own record and time');
});

/** A small seeded PRNG so failures can be reproduced. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
}

function randomValue(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 3 ? 6 : 8));
  switch (k) {
    case 0:
      return String.fromCodePoint(...Array.from({ length: Math.floor(r() * 40) }, () => (r() < 0.8 ? 32 + Math.floor(r() * 90) : 0x80 + Math.floor(r() * 0x2000))));
    case 1:
      return Math.floor((r() - 0.5) * 2 ** (r() * 60));
    case 2:
      return (r() - 0.5) * 10 ** Math.floor(r() * 20) + 0.5;
    case 3:
      return r() < 0.5;
    case 4:
      return null;
    case 5:
      return 'k'.repeat(Math.floor(r() * 300));
    case 6:
      return Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(r() * 6) }, (_, i) => [`f${i}_${Math.floor(r() * 100)}`, randomValue(r, depth + 1)]));
  }
}

function kindsMatch(v: unknown, raw: RawValue): boolean {
  if (typeof v === 'string') return raw.kind === 'raw_bytes';
  if (typeof v === 'number') return raw.kind === (Number.isSafeInteger(v) ? 'integer' : 'float');
  if (typeof v === 'boolean') return raw.kind === 'boolean';
  if (v === null) return raw.kind === 'null';
  if (Array.isArray(v)) return raw.kind === 'array' && v.every((x, i) => kindsMatch(x, raw.array!.items![i]!));
  return raw.kind === 'map' && Object.entries(v as object).every(([k, x]) => kindsMatch(x, raw.map!.fields![k]!));
}

t.test('seeded random records round-trip with the right kinds', async (t) => {
  const r = rng(20260523);
  let bad = 0;
  const events = Array.from({ length: 500 }, (_, i) => {
    const rec = Object.fromEntries(Array.from({ length: 1 + Math.floor(r() * 12) }, (_, j) => [`k${j}`, randomValue(r, 0)]));
    return new DuoEvent('telephony', 1_700_000_000_000_000 + i * 7919, `t${i}`, rec);
  });
  const req = decodePushEventsRequest(encodePushEventsRequest(events, DEFAULT));
  req.events!.forEach((w, i) => {
    const raw = w.log!.value!;
    const { timestamp, ...rest } = toJs(raw) as Record<string, unknown>;
    const { timestamp: _ts, ...rawRest } = raw.map!.fields!;
    const same = JSON.stringify(sortKeys(rest)) === JSON.stringify(sortKeys(events[i]!.record));
    if (!same || !kindsMatch(events[i]!.record, { kind: 'map', map: { fields: rawRest } }) || (timestamp as VectorTimestamp).micros !== events[i]!.timeUs) bad++;
  });
  t.equal(bad, 0, 'no event differs after decoding');
});

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

t.test('writer patches multi-byte lengths correctly', async (t) => {
  for (const n of [0, 127, 128, 16_383, 16_384, 2_097_152]) {
    const w = new ProtoWriter(16);
    writeValue(w, 'a'.repeat(n));
    const s = 'a'.repeat(n);
    const buf = w.take();
    const expect = Buffer.concat([Buffer.from([0x0a]), varint(n), Buffer.from(s)]);
    t.ok(buf.equals(expect), `string of ${n} bytes`);
  }
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

t.test('a record nested too deep is an error, not a stack overflow', async (t) => {
  let deep: Record<string, unknown> = { x: 1 };
  for (let i = 0; i < 100; i++) deep = { d: deep };
  t.throws(() => encodePushEventsRequest([new DuoEvent('authentication', 1, 'i', deep)], DEFAULT), RangeError);
});
