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
  /** Duo responses by HTTP status ('200', '429', ...) or 'timeout' / 'network' when none came (metrics). */
  responses: Record<string, number>;
  /** Requests whose page was accepted: Duo took the credentials (readiness). */
  okRequests: number;
  /** Events handed to the sink and not yet acknowledged. */
  inFlight: number;
  /** When the checkpoint in use was written (loaded or committed), ms since epoch. */
  checkpointAt: number | undefined;
  /** Estimated seconds to catch up at the current pace (set with each progress line; undefined = not catching up). */
  etaSecs: number | undefined;
}

export function newLogStats(log: string, account: string): LogStats {
  return { log, account, eventsFetched: 0, eventsDelivered: 0, requests: 0, rateLimited: 0, errors: 0, sinkRetries: 0, position: null, lastCommit: undefined, lastPollDone: undefined, lastError: undefined, responses: {}, okRequests: 0, inFlight: 0, checkpointAt: undefined, etaSecs: undefined };
}

/** Count one Duo answer by HTTP status; `err` undefined = a 2xx page. Timeouts and network errors have no status. */
export function countResponse(s: LogStats, err?: unknown): void {
  let key = '200';
  if (err !== undefined) {
    const e = err as { httpStatus?: number; code?: string };
    key = typeof e.httpStatus === 'number' && e.httpStatus > 0 ? String(e.httpStatus) : e.code === 'DLB_DUO_TIMEOUT' ? 'timeout' : 'network';
  }
  s.responses[key] = (s.responses[key] ?? 0) + 1;
}
