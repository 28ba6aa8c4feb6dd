/**
 * The event as it travels from a log cursor to a sink. `record` is already shaped:
 * Duo's keys in the order Duo sent them, then `eventtype` and `host` (and
 * `child_account_id` for MSP children) appended, as Duo's own Python client does.
 */
export type LogType = 'authentication' | 'administrator' | 'telephony';

export const CORE_LOG_TYPES: readonly LogType[] = ['authentication', 'administrator', 'telephony'];

export class DuoEvent {
  /** The JSON text of `record`, built once on first use and shared by every encoder. */
  #json: string | undefined;

  constructor(
    /** `authentication`, `administrator`, `telephony`, ... (the `eventtype` value). */
    readonly logType: string,
    /** The event's own time in microseconds since the Unix epoch (UTC), from Duo's fields. */
    readonly timeUs: number,
    /** Duo's id for the event (txid, telephony_id, ...) or a content hash where Duo has none. */
    readonly id: string,
    readonly record: Record<string, unknown>,
  ) {}

  /** Compact JSON, no spaces, key order as in `record`. */
  get json(): string {
    return (this.#json ??= JSON.stringify(this.record));
  }
}
