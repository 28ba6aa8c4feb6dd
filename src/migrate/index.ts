/**
 * migrate-config's core: detect which format a config is in, read it into the neutral form,
 * and write the bridge config as YAML text with a `# migrate-config:` comment on every setting
 * that was not carried over (or was changed on the way), saying why and what to do instead.
 * Pure: text in, text out; the clock comes in as `nowMs`.
 */
import { Document, isMap, isScalar, LineCounter, parseDocument, type Pair, type YAMLMap } from 'yaml';
import { parseEndpoint } from '../duo/client.js';
import { migrateDevo, devoInput } from './devo.js';
import { migrateDls } from './dls.js';
import { isObj, SOURCE_LABEL, type Migration, type Note, type SourceKind } from './types.js';

export { SOURCE_LABEL, type Migration, type SourceKind } from './types.js';

export class MigrateError extends Error {}

const BRIDGE_ONLY = ['output', 'checkpoint_dir', 'poll_interval_secs', 'api', 'log_level', 'shutdown_timeout_secs'];

/** Which format `cfg` (parsed YAML) is in; throws MigrateError with what was looked for. */
export function detect(cfg: unknown): SourceKind {
  if (!isObj(cfg)) {
    throw new MigrateError(`the file is not a YAML mapping (${cfg === null || cfg === undefined ? 'it is empty' : `it holds a ${Array.isArray(cfg) ? 'list' : typeof cfg}`})`);
  }
  const has = (k: string) => Object.prototype.hasOwnProperty.call(cfg, k);
  if (has('duoclient') || has('recoverFromCheckpoint') || (has('logs') && has('transport'))) return 'dls-legacy';
  const acc = cfg.account;
  if (has('dls_settings') || has('servers') || has('accounts') || (isObj(acc) && (has('version') || 'endpoint_server_mappings' in acc || 'is_msp' in acc))) return 'dls';
  if (has('credentials') && BRIDGE_ONLY.some(has)) {
    throw new MigrateError('this is already a duo-log-bridge config (it has credentials and ' + BRIDGE_ONLY.filter(has).join(', ') + '); check it with: duo-log-bridge check-config --config FILE');
  }
  const devo = devoInput(cfg);
  if (devo) return isObj(devo.input.credentials) ? 'devo-2' : 'devo-pre2';
  const keys = Object.keys(cfg).slice(0, 12);
  throw new MigrateError(
    'not a config migrate-config knows. Expected a duo_log_sync config (dls_settings/servers/account, or the old duoclient/logs/transport) ' +
      'or a Devo Duo collector config (credentials/services, account: {ikey, skey, hostname}, or inputs: {<name>: {...}}); ' +
      `found top-level keys: ${keys.length ? keys.join(', ') : 'none'}`,
  );
}

/** Parse YAML text; syntax errors name only the line and column (never the text, which may hold a key). */
export function parseSource(text: string): unknown {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: false, lineCounter: lines });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = lines.linePos(e.pos[0]);
    throw new MigrateError(`not valid YAML${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}: ${e.code}`);
  }
  return doc.toJS();
}

export function migrate(cfg: unknown, nowMs: number): Migration {
  const kind = detect(cfg);
  const c = cfg as Record<string, unknown>;
  return kind === 'dls' || kind === 'dls-legacy' ? migrateDls(c, kind, nowMs) : migrateDevo(c, kind as 'devo-pre2' | 'devo-2');
}

export interface RenderOptions {
  /** Shown in the header. */
  sourceName: string;
  nowMs: number;
  /** Write secret_key inline (only when the user asked). */
  includeSecret?: boolean;
  /** Write `secret_key_file: <this>` (the caller wrote the key there). */
  secretKeyFile?: string;
  /** The bridge's checkpoint_dir (absolute), when chosen. */
  checkpointDir?: string;
  /** Extra notes from the caller (checkpoint import), placed like the others. */
  extraNotes?: Note[];
}

/** The bridge account name for a hostname: what the bridge records (lower-case, no scheme or port). */
export function accountFor(hostname: string): string {
  return parseEndpoint(hostname).signHost;
}

function wrap(prefix: string, body: string, width = 110): string[] {
  const words = body.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let cur = prefix;
  for (const w of words) {
    if (cur.length + 1 + w.length > width && cur.trim() !== prefix.trim()) {
      lines.push(cur);
      cur = '  ' + w;
    } else cur = cur === prefix ? prefix + w : cur + ' ' + w;
  }
  lines.push(cur);
  return lines;
}

/** Comment text for yaml's commentBefore: each line gets a leading space after the `#`. */
function commentLines(notes: Note[]): string {
  return notes.flatMap((n) => wrap('migrate-config: ', n.text)).map((l) => ' ' + l).join('\n');
}

function findPair(map: YAMLMap, path: string[]): Pair | undefined {
  let cur: YAMLMap = map;
  let pair: Pair | undefined;
  for (const k of path) {
    pair = cur.items.find((p) => isScalar(p.key) && p.key.value === k) as Pair | undefined;
    if (!pair) return undefined;
    if (isMap(pair.value)) cur = pair.value;
  }
  return pair;
}

export function render(m: Migration, o: RenderOptions): string {
  const notes = [...m.notes, ...(o.extraNotes ?? [])];
  const cred: Record<string, unknown> = {};
  const c = m.credentials;
  if (!m.envCredentials) {
    if (c.integrationKey) cred.integration_key = c.integrationKey;
    else notes.push({ at: 'credentials', text: `${c.from.integrationKey} is empty in the source: set credentials.integration_key, or DUO_INTEGRATION_KEY in the environment.` });
    if (c.secretKey && o.includeSecret) cred.secret_key = c.secretKey;
    else if (o.secretKeyFile) {
      cred.secret_key_file = o.secretKeyFile;
      notes.push({ at: 'credentials.secret_key_file', text: `${c.from.secretKey} was written to this file (mode 0600), not into the config.` });
    } else if (c.secretKey) {
      notes.push({
        at: 'credentials',
        text:
          `${c.from.secretKey} not written here, so this file holds no secret: set DUO_SECRET_KEY in the environment, or add secret_key_file: /path/to/file ` +
          '(the key alone in it, mode 0600). migrate-config --secret-key-file PATH writes that file; --include-secret puts the key in this file instead.',
      });
    } else {
      notes.push({ at: 'credentials', text: `${c.from.secretKey} is empty in the source: set DUO_SECRET_KEY in the environment, or secret_key_file: /path/to/file.` });
    }
    if (c.hostname) {
      let ok = true;
      try {
        parseEndpoint(c.hostname);
      } catch {
        ok = false;
      }
      cred.hostname = c.hostname;
      if (!ok) notes.push({ at: 'credentials.hostname', text: `${c.from.hostname} ${JSON.stringify(c.hostname)} is not an API hostname the bridge accepts (api-xxxxxxxx.duosecurity.com); fix it.` });
    } else notes.push({ at: 'credentials', text: `${c.from.hostname} is empty in the source: set credentials.hostname (api-xxxxxxxx.duosecurity.com), or DUO_API_HOST.` });
  }

  const out: Record<string, unknown> = { credentials: cred };
  if (o.checkpointDir) out.checkpoint_dir = o.checkpointDir;
  if (m.pollIntervalSecs !== undefined) out.poll_interval_secs = m.pollIntervalSecs;
  if (m.proxy) out.api = { proxy: m.proxy };
  const services: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(m.services)) services[name] = s.start ? { start_datetime_utc: s.start } : {};
  if (!Object.keys(services).length) {
    for (const n of ['authentication', 'administrator', 'telephony']) services[n] = {};
    notes.push({ at: 'services', text: 'no log in the source could be carried over; the bridge\'s default logs are enabled. Remove the ones you do not want.' });
  }
  out.services = services;
  if (m.msp) out.msp = m.msp.exclude.length ? { enabled: true, exclude_accounts: m.msp.exclude } : { enabled: true };
  out.output = m.output ?? { type: 'stdout' };

  const doc = new Document(out);
  const root = doc.contents as YAMLMap;
  const header: Note[] = [];
  const byPair = new Map<Pair, Note[]>();
  for (const n of notes) {
    let path = n.at ? n.at.split('.') : [];
    let pair: Pair | undefined;
    while (path.length && !(pair = findPair(root, path))) path = path.slice(0, -1);
    if (!pair) header.push(n);
    else byPair.set(pair, [...(byPair.get(pair) ?? []), n]);
  }
  for (const [pair, ns] of byPair) (pair.key as { commentBefore?: string }).commentBefore = commentLines(ns);
  root.items.forEach((p, i) => ((p.key as { spaceBefore?: boolean }).spaceBefore = i > 0));
  const when = new Date(o.nowMs).toISOString();
  const head = [
    ` duo-log-bridge config written by migrate-config on ${when}`,
    ` from ${o.sourceName}: ${SOURCE_LABEL[m.kind]}.`,
    ' Check it with: duo-log-bridge check-config --config <this file>',
    ' Comments starting "migrate-config:" are settings not carried over (or changed), why, and what to do instead.',
  ];
  doc.commentBefore = [...head, ...(header.length ? ['', commentLines(header)] : [])].join('\n');
  let textOut = doc.toString({ lineWidth: 0 });
  // Belt and braces: the secret never appears except as the value the user asked for.
  if (c.secretKey && c.secretKey.length >= 8) {
    const lines = textOut.split('\n').map((l) => (o.includeSecret && /^\s*secret_key:/.test(l) ? l : l.split(c.secretKey!).join('[REDACTED]')));
    textOut = lines.join('\n');
  }
  return textOut;
}
