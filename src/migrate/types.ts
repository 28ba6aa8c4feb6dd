/**
 * The neutral form every source format is read into before the bridge config is written.
 * Pure data: the readers (dls.ts, devo.ts) fill it, render.ts turns it into YAML text.
 */

/** A `# migrate-config:` comment. `at` is the bridge key it is written above (dotted path); none = the header. */
export interface Note {
  at?: string;
  text: string;
  /** The "add --import-checkpoints" hint, replaced when the import was done. */
  checkpointHint?: boolean;
}

export type SourceKind = 'dls' | 'dls-legacy' | 'devo-pre2' | 'devo-2' | 'env';

export const SOURCE_LABEL: Record<SourceKind, string> = {
  dls: 'duo_log_sync config (version 1.0.0: dls_settings/servers/account)',
  'dls-legacy': 'duo_log_sync config (old form: duoclient/logs/transport)',
  'devo-pre2': 'Devo Duo collector config (before 2.0: account ikey/skey/hostname)',
  'devo-2': 'Devo Duo collector config (2.0: credentials/services)',
  env: 'environment variables (DUO_API_HOST, DUO_INTEGRATION_KEY, DUO_SECRET_KEY, *_SINCE_TIME)',
};

export interface Migration {
  kind: SourceKind;
  credentials: {
    integrationKey?: string;
    /** Never written into comments or messages; into the config only when asked. */
    secretKey?: string;
    hostname?: string;
    /** Where each value came from in the source, for the notes. */
    from: { integrationKey: string; secretKey: string; hostname: string };
  };
  /** Bridge log name → its start (`start_datetime_utc`, '' = Duo's whole window). In emit order. */
  services: Record<string, { start: string }>;
  pollIntervalSecs?: number;
  proxy?: string;
  /** The bridge `output` mapping, or undefined for stdout. */
  output?: Record<string, unknown>;
  notes: Note[];
  /** DLS: the source pulled MSP child accounts (the bridge's `msp` section), minus these ids. */
  msp?: { exclude: string[] };
  /** The credentials stay in the environment (the bridge reads DUO_* itself): write none, add no per-key notes. */
  envCredentials?: boolean;
  /** DLS: where its checkpoint files were (when checkpointing was on), for the import hint. */
  dlsCheckpointDir?: string;
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** A non-empty trimmed string, or undefined. Numbers become strings (YAML `port: 8888`). */
export function text(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

/** A finite number (also from a numeric string), or undefined. */
export function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** YAML's and Python's spellings of booleans (`True`, `false`, `yes`). */
export function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase();
    if (['true', 'yes', 'on', '1'].includes(t)) return true;
    if (['false', 'no', 'off', '0'].includes(t)) return false;
  }
  return undefined;
}

/** Keys of `o` not in `known`, as dotted paths under `prefix`. */
export function unknownKeys(o: Record<string, unknown>, known: readonly string[], prefix: string): string[] {
  return Object.keys(o)
    .filter((k) => !known.includes(k))
    .map((k) => (prefix ? `${prefix}.${k}` : k));
}

/** ISO start for "N days before now", floored to the second: the form start_datetime_utc takes. */
export function daysAgoIso(days: number, nowMs: number): string {
  const ms = Math.floor((nowMs - days * 86_400_000) / 1000) * 1000;
  return new Date(ms).toISOString();
}
