/**
 * A msgpack encoder for forward entries `[EventTime, record]` where the record is JSON-shaped
 * (maps, arrays, strings, numbers, booleans, null), which is all a DuoEvent record holds.
 *
 * Why: msgpack encoding was ~30% of the bridge's CPU in a 150,000-event backfill, most of it
 * encoding the same few dozen map keys again for every event. This encoder writes into one
 * reused buffer, copies pre-encoded bytes for keys it has seen (a bounded cache), and lets
 * Node's native UTF-8 writer handle values.
 *
 * Output is byte-identical to @msgpack/msgpack 2.8 as @fluent-org/logger uses it (same
 * smallest-form choices; EventTime as fixext8 type 0), checked by a test on simulator records
 * and edge cases. One deliberate difference: a lone UTF-16 surrogate is written as U+FFFD
 * (valid UTF-8) where @msgpack/msgpack writes its raw 3-byte form for short strings.
 * Anything else (Dates, Maps, typed arrays, class instances, depth > 100) makes `pack` return
 * undefined so the caller uses the library's own encoder.
 */
import { EventTime } from '@fluent-org/logger';

const MAX_DEPTH = 100;
const KEY_CACHE_MAX = 4096;
const UNSUPPORTED = Symbol('unsupported');

export class EntryPacker {
  #buf = Buffer.allocUnsafe(64 * 1024);
  #pos = 0;
  readonly #keys = new Map<string, Buffer>();

  /** The entry's bytes in a fresh Buffer, or undefined when a value needs the general encoder. */
  pack(entry: unknown): Buffer | undefined {
    this.#pos = 0;
    try {
      this.#value(entry, 1);
    } catch (err) {
      if (err === UNSUPPORTED) return undefined;
      throw err;
    }
    const out = Buffer.allocUnsafe(this.#pos);
    this.#buf.copy(out, 0, 0, this.#pos);
    return out;
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  #value(v: unknown, depth: number): void {
    if (depth > MAX_DEPTH) throw UNSUPPORTED;
    switch (typeof v) {
      case 'string':
        return this.#string(v);
      case 'number':
        return this.#number(v);
      case 'boolean':
        this.#ensure(1);
        this.#buf[this.#pos++] = v ? 0xc3 : 0xc2;
        return;
      case 'undefined':
        this.#ensure(1);
        this.#buf[this.#pos++] = 0xc0;
        return;
      case 'object':
        if (v === null) {
          this.#ensure(1);
          this.#buf[this.#pos++] = 0xc0;
          return;
        }
        if (Array.isArray(v)) return this.#array(v, depth);
        if (v instanceof EventTime) return this.#eventTime(v);
        {
          const proto = Object.getPrototypeOf(v);
          if (proto !== Object.prototype && proto !== null) throw UNSUPPORTED;
        }
        return this.#map(v as Record<string, unknown>, depth);
      default:
        throw UNSUPPORTED;
    }
  }

  #header(small: number, smallMax: number, n: number, c8: number, c16: number, c32: number): void {
    this.#ensure(5);
    const b = this.#buf;
    if (n < smallMax) b[this.#pos++] = small + n;
    else if (c8 !== 0 && n < 0x100) {
      b[this.#pos++] = c8;
      b[this.#pos++] = n;
    } else if (n < 0x10000) {
      b[this.#pos++] = c16;
      b.writeUInt16BE(n, this.#pos);
      this.#pos += 2;
    } else {
      b[this.#pos++] = c32;
      b.writeUInt32BE(n, this.#pos);
      this.#pos += 4;
    }
  }

  #string(s: string): void {
    const len = s.length;
    if (len < 32) {
      // Short ASCII (most values): a JS loop beats a native call per string.
      this.#ensure(1 + len * 3);
      const b = this.#buf;
      const start = this.#pos;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[start + 1 + i] = c;
      }
      if (i === len) {
        b[start] = 0xa0 + len;
        this.#pos = start + 1 + len;
        return;
      }
    }
    if (len * 3 < 32) {
      // Fits a fixstr whatever the characters: write first, then the header.
      this.#ensure(1 + len * 3);
      const start = this.#pos;
      const n = len === 0 ? 0 : this.#buf.write(s, start + 1, 'utf8');
      this.#buf[start] = 0xa0 + n;
      this.#pos = start + 1 + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.#header(0xa0, 32, n, 0xd9, 0xda, 0xdb);
    this.#ensure(n);
    this.#pos += this.#buf.write(s, this.#pos, 'utf8');
  }

  #key(k: string): void {
    const cached = this.#keys.get(k);
    if (cached) {
      this.#ensure(cached.length);
      const b = this.#buf;
      let p = this.#pos;
      for (let i = 0; i < cached.length; i++) b[p++] = cached[i]!;
      this.#pos = p;
      return;
    }
    const start = this.#pos;
    this.#string(k);
    if (this.#keys.size < KEY_CACHE_MAX) this.#keys.set(k, Buffer.from(this.#buf.subarray(start, this.#pos)));
  }

  #number(n: number): void {
    this.#ensure(9);
    const b = this.#buf;
    if (Number.isSafeInteger(n)) {
      if (n >= 0) {
        if (n < 0x80) b[this.#pos++] = n;
        else if (n < 0x100) {
          b[this.#pos++] = 0xcc;
          b[this.#pos++] = n;
        } else if (n < 0x10000) {
          b[this.#pos++] = 0xcd;
          b.writeUInt16BE(n, this.#pos);
          this.#pos += 2;
        } else if (n < 0x100000000) {
          b[this.#pos++] = 0xce;
          b.writeUInt32BE(n, this.#pos);
          this.#pos += 4;
        } else {
          b[this.#pos++] = 0xcf;
          b.writeBigUInt64BE(BigInt(n), this.#pos);
          this.#pos += 8;
        }
      } else if (n >= -0x20) b[this.#pos++] = n & 0xff;
      else if (n >= -0x80) {
        b[this.#pos++] = 0xd0;
        b.writeInt8(n, this.#pos++);
      } else if (n >= -0x8000) {
        b[this.#pos++] = 0xd1;
        b.writeInt16BE(n, this.#pos);
        this.#pos += 2;
      } else if (n >= -0x80000000) {
        b[this.#pos++] = 0xd2;
        b.writeInt32BE(n, this.#pos);
        this.#pos += 4;
      } else {
        b[this.#pos++] = 0xd3;
        b.writeBigInt64BE(BigInt(n), this.#pos);
        this.#pos += 8;
      }
      return;
    }
    b[this.#pos++] = 0xcb;
    b.writeDoubleBE(n, this.#pos);
    this.#pos += 8;
  }

  #array(a: unknown[], depth: number): void {
    this.#header(0x90, 16, a.length, 0, 0xdc, 0xdd);
    for (let i = 0; i < a.length; i++) this.#value(a[i], depth + 1);
  }

  #map(o: Record<string, unknown>, depth: number): void {
    const keys = Object.keys(o);
    this.#header(0x80, 16, keys.length, 0, 0xde, 0xdf);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      this.#key(k);
      this.#value(o[k], depth + 1);
    }
  }

  #eventTime(t: EventTime): void {
    this.#ensure(10);
    const b = this.#buf;
    b[this.#pos++] = 0xd7;
    b[this.#pos++] = 0x00;
    b.writeUInt32BE(t.epoch, this.#pos);
    b.writeUInt32BE(t.nano, this.#pos + 4);
    this.#pos += 8;
  }
}
