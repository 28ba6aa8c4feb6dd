/**
 * One error base with a stable `code`; callers match on `code`, never on message text.
 * Each subclass says when it is thrown. Secrets never go into a message: errors are
 * built from Duo's JSON, HTTP statuses and config key names only.
 */
export class BridgeError extends Error {
  readonly code: string;
  /** True when trying the same operation again later can succeed. */
  readonly retryable: boolean;
  /** A lower bound for the next attempt, when the peer gave one (e.g. Duo's 429). */
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message: string, opts: { retryable?: boolean; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Thrown by config loading and validation; `problems` lists every bad key (the CLI exits 2). */
export class ConfigError extends BridgeError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super('DLB_CONFIG_INVALID', problems.map(formatProblem).join('\n'));
    this.problems = problems;
  }
}

export interface ConfigProblem {
  /** Dotted key path, e.g. `output.port` (empty for the whole file). */
  key: string;
  message: string;
  /** 1-based line in the YAML file, when known. */
  line?: number;
  file?: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.file ? `${p.file}${p.line ? `:${p.line}` : ''}: ` : p.line ? `line ${p.line}: ` : '';
  return `${where}${p.key ? `${p.key}: ` : ''}${p.message}`;
}

/** A Duo Admin API call failed: a FAIL envelope, a non-JSON body, a bad status, a network or TLS error. */
export class DuoApiError extends BridgeError {
  readonly httpStatus: number | undefined;
  readonly duoCode: number | undefined;
  /** A credential or permission problem: retrying quickly cannot help, a slow re-check can. */
  readonly isAuth: boolean;
  constructor(
    code: string,
    message: string,
    opts: { httpStatus?: number; duoCode?: number; retryable?: boolean; retryAfterMs?: number; isAuth?: boolean; cause?: unknown } = {},
  ) {
    super(code, message, opts);
    this.httpStatus = opts.httpStatus;
    this.duoCode = opts.duoCode;
    this.isAuth = opts.isAuth ?? false;
  }
}

/** A sink could not take a batch. `retryable` false means a resend cannot help (bad credentials, rejected data). */
export class SinkError extends BridgeError {}

/** A checkpoint could not be read or written. */
export class CheckpointError extends BridgeError {}
