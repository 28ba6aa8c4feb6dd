/**
 * The event as it travels from a log cursor to a sink. `record` is already shaped:
 * Duo's keys in the order Duo sent them, then `eventtype` and `host` (and
 * `child_account_id` for MSP children) appended, as Duo's own Python client does.
 */
export class DuoEvent {
  /** The JSON text of the record, built once on first use and shared by every encoder. */
  #json: string | undefined;
  #record: Record<string, unknown> | undefined;

  constructor(
    /** `authentication`, `administrator`, `telephony`, ... (the `eventtype` value). */
    readonly logType: string,
    /** The event's own time in microseconds since the Unix epoch (UTC), from Duo's fields. */
    readonly timeUs: number,
    /** Duo's id for the event (txid, telephony_id, ...) or a content hash where Duo has none. */
    readonly id: string,
    record: Record<string, unknown>,
  ) {
    this.#record = record;
  }

  /** The shaped record (parsed back from `json` if it was let go). */
  get record(): Record<string, unknown> {
    return (this.#record ??= JSON.parse(this.#json!) as Record<string, unknown>);
  }

  /** Compact JSON, no spaces, key order as in `record`. */
  get json(): string {
    return (this.#json ??= JSON.stringify(this.#record));
  }

  /**
   * Serialize now and let the parsed record go: for sinks that only write lines, so a page's
   * objects die young instead of living until the page is acknowledged (less GC work, less memory).
   */
  keepJsonOnly(): this {
    this.#json ??= JSON.stringify(this.#record);
    this.#record = undefined;
    return this;
  }
}
