/** Live counters per log, read by progress lines, status and metrics. Plain data. */
import type { Position } from './cursor.js';

export interface LogStats {
  log: string;
  account: string;
  eventsFetched: number;
  eventsDelivered: number;
  requests: number;
  rateLimited: number;
  errors: number;
  sinkRetries: number;
  position: Position | null;
  lastCommit: number | undefined;
  lastPollDone: number | undefined;
  lastError: { at: number; code: string; message: string } | undefined;
}

export function newLogStats(log: string, account: string): LogStats {
  return { log, account, eventsFetched: 0, eventsDelivered: 0, requests: 0, rateLimited: 0, errors: 0, sinkRetries: 0, position: null, lastCommit: undefined, lastPollDone: undefined, lastError: undefined };
}
