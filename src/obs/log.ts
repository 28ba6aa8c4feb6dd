/**
 * The bridge's own log: JSON lines on stderr (stdout belongs to the NDJSON sink).
 * `{"time":"…","level":"info","msg":"Sentence.", …fields}`. Secrets are redacted twice:
 * by key name (secret_key, shared_key, password, authorization …) and by value (every
 * secret the config loaded is registered with `registerSecret` and replaced wherever
 * it appears in a message or field).
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /secret|password|passwd|shared_key|authorization|private_key|token|skey/i;

const secrets = new Set<string>();

/** Register a secret value so that it never reaches any log line. Short values are ignored (too many false hits). */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

/** Replace every registered secret inside `text`. */
export function redact(text: string): string {
  for (const s of secrets) if (text.includes(s)) text = text.split(s).join('[REDACTED]');
  return text;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: Level;
  write?: (line: string) => void;
  bindings?: Record<string, unknown>;
}

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = { message: redact(value.message) };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (value.cause !== undefined && depth < 3) out.cause = scrub(value.cause, depth + 1);
    return out;
  }
  if (value && typeof value === 'object' && depth < 5) {
    if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v ? '[REDACTED]' : scrub(v, depth + 1);
    return out;
  }
  return value;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = LEVELS[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const bindings = opts.bindings ?? {};
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[level] < min) return;
    const rec = scrub({ ...bindings, ...fields }) as Record<string, unknown>;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg: redact(msg), ...rec }) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (b) => createLogger({ ...opts, bindings: { ...bindings, ...b } }),
  };
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = createLogger({ write: () => {} });
