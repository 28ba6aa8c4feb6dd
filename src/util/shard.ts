/** Splitting MSP child accounts across N bridge replicas without coordination. */
import { createHash } from 'node:crypto';

export interface Shard {
  index: number;
  count: number;
}

/** `"I/N"` with 0 <= I < N. */
export function parseShard(text: string): Shard | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) return undefined;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return count >= 1 && index < count ? { index, count } : undefined;
}

/** Stable assignment of an account to one of N shards: the same on every replica. */
export function shardOf(accountId: string, count: number): number {
  return createHash('sha1').update(accountId).digest().readUInt32BE(0) % count;
}
