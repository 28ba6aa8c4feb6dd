/**
 * DuoEvent[] -> the bytes of one `vector.PushEventsRequest` (vector/proto/vector.proto, vector/proto/event.proto).
 *
 * Hand-written protobuf writer for the few messages a log needs, so that encoding is one pass
 * over the record with no intermediate message objects and no per-event reflection:
 *
 *   PushEventsRequest.events(1) = EventWrapper { log(1) = Log { value(2) = Value { map(7) =
 *     ValueMap { fields(1) = entry { key(1), value(2) = Value } ... } } } }
 *
 * Each event becomes a map of its record fields plus `timestamp` (a google.protobuf.Timestamp
 * built from `timeUs`, microsecond precision) and, only when asked, `message` (the NDJSON line).
 * JSON value kinds map to Vector's: string -> raw_bytes (UTF-8; Vector has no string kind),
 * safe integer -> integer (int64), other numbers -> float (double), boolean, null, object -> map,
 * array -> array. Like JSON.stringify: `undefined`/function members are left out of maps and
 * become null inside arrays, and `toJSON()` is honoured (a Date becomes its ISO string).
 * A JSON number written `1.0` by Duo has already become the integer 1 in JavaScript.
 *
 * test/sinks/vector-encode.test.ts decodes the output with the repo's .proto files through
 * @grpc/proto-loader (an independent decoder) and checks every kind and the timestamp.
 */
import type { DuoEvent } from '../../format/event.js';

export interface EncodeOptions {
  /** Key of the event time (Vector's legacy `log_schema.timestamp_key`). Replaces a record field of that name. */
  timestampKey: string;
  /** When true, the NDJSON line (`event.json`) is also sent under `message`. */
  includeMessage: boolean;
}

// Wire tags: (field number << 3) | wire type; 0 = varint, 1 = 64-bit, 2 = length-delimited.
const T_REQ_EVENTS = 0x0a; // PushEventsRequest.events = 1
const T_WRAPPER_LOG = 0x0a; // EventWrapper.log = 1
const T_LOG_VALUE = 0x12; // Log.value = 2
const T_VALUE_BYTES = 0x0a; // Value.raw_bytes = 1
const T_VALUE_TIMESTAMP = 0x12; // Value.timestamp = 2
const T_VALUE_INTEGER = 0x20; // Value.integer = 4
const T_VALUE_FLOAT = 0x29; // Value.float = 5
const T_VALUE_BOOLEAN = 0x30; // Value.boolean = 6
const T_VALUE_MAP = 0x3a; // Value.map = 7
const T_VALUE_ARRAY = 0x42; // Value.array = 8
const T_VALUE_NULL = 0x48; // Value.null = 9
const T_MAP_FIELDS = 0x0a; // ValueMap.fields = 1 (map entry)
const T_ENTRY_KEY = 0x0a; // map entry key = 1
const T_ENTRY_VALUE = 0x12; // map entry value = 2
const T_ARRAY_ITEMS = 0x0a; // ValueArray.items = 1
const T_TS_SECONDS = 0x08; // Timestamp.seconds = 1
const T_TS_NANOS = 0x10; // Timestamp.nanos = 2

const MAX_DEPTH = 64;

/** A growable byte buffer with protobuf primitives. Length prefixes are patched after the content. */
export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  reset(): void {
    this.pos = 0;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned varint for 0 <= n <= 2^53. */
  varint(n: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (n >= 0x80) {
      buf[pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  /** int64 varint: negatives are 64-bit two's complement (always 10 bytes). */
  int64(n: number): void {
    if (n >= 0) return this.varint(n);
    let v = BigInt.asUintN(64, BigInt(n));
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** Start a length-delimited field body; returns the mark for `end`. One byte is reserved for the length. */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Write the length at `mark`, moving the body right when the length needs more than one byte. */
  end(mark: number): void {
    const len = this.pos - mark - 1;
    if (len < 0x80) {
      this.buf[mark] = len;
      return;
    }
    const size = varintSize(len);
    this.ensure(size - 1);
    this.buf.copyWithin(mark + size, mark + 1, this.pos);
    this.pos += size - 1;
    let p = mark;
    let n = len;
    while (n >= 0x80) {
      this.buf[p++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[p] = n;
  }

  /** A length-delimited UTF-8 string (length prefix included). */
  string(s: string): void {
    const n = s.length;
    // Short ASCII strings (most keys and values) are copied in JS; the rest go through Buffer.write.
    if (n < 0x80) {
      this.ensure(1 + n * 3);
      const buf = this.buf;
      let pos = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[pos++] = c;
      }
      if (i === n) {
        buf[this.pos] = n;
        this.pos = pos;
        return;
      }
    }
    this.ensure(5 + n * 3);
    const mark = this.begin();
    this.pos += this.buf.write(s, this.pos, 'utf8');
    this.end(mark);
  }

  /** Copy of the bytes written so far. */
  take(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** The encoded `key` field of a map entry (tag + length + UTF-8), cached: Duo logs reuse a few dozen keys. */
const keyCache = new Map<string, Buffer>();
const KEY_CACHE_MAX = 4096;
const keyWriter = new ProtoWriter(256);

function writeKey(w: ProtoWriter, key: string): void {
  let enc = keyCache.get(key);
  if (enc === undefined) {
    keyWriter.reset();
    keyWriter.byte(T_ENTRY_KEY);
    keyWriter.string(key);
    enc = keyWriter.take();
    if (keyCache.size < KEY_CACHE_MAX) keyCache.set(key, enc);
  }
  w.ensure(enc.length);
  enc.copy(w.buf, w.pos);
  w.pos += enc.length;
}

/** Write a `Value` message body (its oneof member) for a JSON-like JavaScript value. */
export function writeValue(w: ProtoWriter, v: unknown, depth = 0): void {
  switch (typeof v) {
    case 'string':
      w.byte(T_VALUE_BYTES);
      w.string(v);
      return;
    case 'number':
      if (Number.isSafeInteger(v)) {
        w.byte(T_VALUE_INTEGER);
        w.int64(v);
      } else {
        w.byte(T_VALUE_FLOAT);
        w.double(v);
      }
      return;
    case 'boolean':
      w.byte(T_VALUE_BOOLEAN);
      w.byte(v ? 1 : 0);
      return;
    case 'bigint':
      if (v >= -(2n ** 63n) && v < 2n ** 63n) {
        w.byte(T_VALUE_INTEGER);
        let u = BigInt.asUintN(64, v);
        w.ensure(10);
        while (u >= 0x80n) {
          w.buf[w.pos++] = Number(u & 0x7fn) | 0x80;
          u >>= 7n;
        }
        w.buf[w.pos++] = Number(u);
      } else {
        w.byte(T_VALUE_FLOAT);
        w.double(Number(v));
      }
      return;
    case 'object':
      break;
    default:
      // undefined, function, symbol at a position that needs a value: null, as JSON does in arrays.
      w.byte(T_VALUE_NULL);
      w.byte(0);
      return;
  }
  if (v === null) {
    w.byte(T_VALUE_NULL);
    w.byte(0);
    return;
  }
  if (depth >= MAX_DEPTH) throw new RangeError(`event nests deeper than ${MAX_DEPTH} levels`);
  const toJSON = (v as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return writeValue(w, toJSON.call(v), depth + 1);
  if (Array.isArray(v)) {
    w.byte(T_VALUE_ARRAY);
    const mark = w.begin();
    for (const item of v) {
      w.byte(T_ARRAY_ITEMS);
      const m = w.begin();
      writeValue(w, item, depth + 1);
      w.end(m);
    }
    w.end(mark);
    return;
  }
  w.byte(T_VALUE_MAP);
  const mark = w.begin();
  writeFields(w, v as Record<string, unknown>, undefined, undefined, depth + 1);
  w.end(mark);
}

/** ValueMap.fields entries for every own enumerable key (except `skipA`, `skipB`). */
function writeFields(w: ProtoWriter, obj: Record<string, unknown>, skipA: string | undefined, skipB: string | undefined, depth: number): void {
  for (const key in obj) {
    if (key === skipA || key === skipB || !Object.prototype.hasOwnProperty.call(obj, key)) continue;
    const val = obj[key];
    if (val === undefined || typeof val === 'function' || typeof val === 'symbol') continue;
    w.byte(T_MAP_FIELDS);
    const entry = w.begin();
    writeKey(w, key);
    w.byte(T_ENTRY_VALUE);
    const vm = w.begin();
    writeValue(w, val, depth);
    w.end(vm);
    w.end(entry);
  }
}

/** Value { timestamp = Timestamp { seconds, nanos } } for microseconds since the epoch. */
function writeTimestampValue(w: ProtoWriter, timeUs: number): void {
  const us = Math.round(timeUs);
  const seconds = Math.floor(us / 1e6);
  const nanos = (us - seconds * 1e6) * 1000; // 0 ..= 999_999_000, as Vector requires
  w.byte(T_VALUE_TIMESTAMP);
  const mark = w.begin();
  if (seconds !== 0) {
    w.byte(T_TS_SECONDS);
    w.int64(seconds);
  }
  if (nanos !== 0) {
    w.byte(T_TS_NANOS);
    w.varint(nanos);
  }
  w.end(mark);
}

/** One EventWrapper { log = Log { value = Value { map } } } (without the outer tag). */
export function writeEvent(w: ProtoWriter, e: DuoEvent, opts: EncodeOptions): void {
  w.byte(T_WRAPPER_LOG);
  const log = w.begin();
  w.byte(T_LOG_VALUE);
  const value = w.begin();
  w.byte(T_VALUE_MAP);
  const map = w.begin();
  if (opts.includeMessage) {
    writeFields(w, e.record, opts.timestampKey, 'message', 1);
    w.byte(T_MAP_FIELDS);
    const entry = w.begin();
    writeKey(w, 'message');
    w.byte(T_ENTRY_VALUE);
    const vm = w.begin();
    w.byte(T_VALUE_BYTES);
    w.string(e.json);
    w.end(vm);
    w.end(entry);
  } else {
    writeFields(w, e.record, opts.timestampKey, undefined, 1);
  }
  // An event without a usable time gets none (Vector then stamps it on receipt) rather than a bogus one.
  if (Number.isFinite(e.timeUs)) {
    w.byte(T_MAP_FIELDS);
    const entry = w.begin();
    writeKey(w, opts.timestampKey);
    w.byte(T_ENTRY_VALUE);
    const vm = w.begin();
    writeTimestampValue(w, e.timeUs);
    w.end(vm);
    w.end(entry);
  }
  w.end(map);
  w.end(value);
  w.end(log);
}

const scratch = new ProtoWriter(1 << 20);

/**
 * Encode `events` as one PushEventsRequest. Synchronous; the returned Buffer is owned by the caller.
 * Throws RangeError only for a record nested deeper than 64 levels (Duo records are 2-3 deep).
 */
export function encodePushEventsRequest(events: readonly DuoEvent[], opts: EncodeOptions): Buffer {
  const w = scratch;
  w.reset();
  for (const e of events) {
    w.byte(T_REQ_EVENTS);
    const mark = w.begin();
    writeEvent(w, e, opts);
    w.end(mark);
  }
  const out = w.take();
  // Do not keep a huge scratch buffer alive after an unusually large batch.
  if (w.buf.length > 64 << 20) w.buf = Buffer.allocUnsafe(1 << 20);
  return out;
}
