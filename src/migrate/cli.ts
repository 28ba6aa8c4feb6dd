/**
 * `duo-log-bridge migrate-config FROM [TO]`: the I/O around the pure migration.
 * Exit codes: 0 done; 2 bad usage, unreadable or unrecognised input, or a file that would be
 * overwritten without --force; 1 a write that failed. Nothing is written unless everything
 * checked out. The secret key is never printed in comments, messages or errors.
 */
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DuoClient } from '../duo/client.js';
import { registerSecret } from '../obs/log.js';
import { parseAccountList } from '../pipeline/accounts.js';
import { writeAtomic } from '../pipeline/checkpoint.js';
import { USER_AGENT } from '../version.js';
import {
  bridgeCheckpoint,
  bridgeCheckpointFile,
  convertValue,
  listDlsDir,
  resolveBoundary,
  type Converted,
  type DuoGetter,
} from './checkpoints.js';
import { migrateEnv } from './env.js';
import { accountFor, migrate, MigrateError, parseSource, render } from './index.js';
import type { Note } from './types.js';

const HELP = `Usage: duo-log-bridge migrate-config FROM [TO] [options]
       duo-log-bridge migrate-config --from-env [TO]

Reads a duo_log_sync config (dls_settings/servers/account, or the old duoclient/logs/transport)
or a Devo Duo collector config (before 2.0 or 2.0), and prints the equivalent duo-log-bridge
config (or writes it to TO). Every setting that could not be carried over gets a
"# migrate-config:" comment saying why and what to do instead.

With --from-env, reads DUO_API_HOST, DUO_INTEGRATION_KEY, DUO_SECRET_KEY (left in the environment:
the bridge reads them itself) and ADMIN_SINCE_TIME (seconds), AUTH_SINCE_TIME and
TELEPHONY_SINCE_TIME (milliseconds), which become start_datetime_utc.

Options:
  --from-env                     read the environment instead of a FROM file
  --force                        overwrite TO, the secret key file and existing bridge checkpoints
  --include-secret               write the secret key into the config (default: left out; set
                                 DUO_SECRET_KEY, or use --secret-key-file)
  --secret-key-file PATH         write the secret key alone to PATH (mode 0600) and point the
                                 config's secret_key_file at it
  --checkpoint-dir DIR           the bridge's checkpoint_dir, written into the config
  --import-checkpoints DLS_DIR   convert duo_log_sync's <log>_checkpoint_data*.txt files in DLS_DIR
                                 into bridge checkpoints in --checkpoint-dir, so the bridge resumes
                                 exactly where DLS stopped
  --offline                      with --import-checkpoints: do not ask Duo which events share the
                                 boundary millisecond (events DLS sent in that one millisecond,
                                 before its last one, may then be sent again)

Exit codes: 0 done, 1 a write failed, 2 bad usage or input (nothing written).`;

class Usage extends Error {}

interface Planned {
  file: string;
  text: string;
}

export async function migrateConfigMain(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    return await run(argv, env);
  } catch (err) {
    if (err instanceof Usage || err instanceof MigrateError) {
      process.stderr.write(`duo-log-bridge migrate-config: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`duo-log-bridge migrate-config: failed: ${(err as Error).message}\n`);
    return 1;
  }
}

async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        force: { type: 'boolean' },
        'include-secret': { type: 'boolean' },
        'secret-key-file': { type: 'string' },
        'checkpoint-dir': { type: 'string' },
        'import-checkpoints': { type: 'string' },
        offline: { type: 'boolean' },
        'from-env': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new Usage(`${(err as Error).message}; see duo-log-bridge migrate-config --help`);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const fromEnv = !!v['from-env'];
  const [from, to, ...extra] = fromEnv ? ['(environment)', ...parsed.positionals] : parsed.positionals;
  if (fromEnv && parsed.positionals.length > 1) throw new Usage('--from-env takes only an optional TO');
  if (fromEnv && (v['include-secret'] || v['secret-key-file'] || v['import-checkpoints'])) {
    throw new Usage('--from-env leaves the credentials in the environment and has no checkpoints to import: drop --include-secret, --secret-key-file and --import-checkpoints');
  }
  if (!from) throw new Usage('needs FROM, the duo_log_sync or Devo config to read; see duo-log-bridge migrate-config --help');
  if (extra.length) throw new Usage(`takes FROM and an optional TO, not ${parsed.positionals.length} paths`);
  if (v['include-secret'] && v['secret-key-file']) throw new Usage('--include-secret and --secret-key-file exclude each other: choose where the key goes');
  if (v['import-checkpoints'] && !v['checkpoint-dir']) throw new Usage('--import-checkpoints needs --checkpoint-dir DIR: where the bridge will keep its checkpoints (written into the config)');
  if (v.offline && !v['import-checkpoints']) throw new Usage('--offline applies to --import-checkpoints only');
  const force = !!v.force;

  const nowMs = Date.now();
  let m;
  if (fromEnv) m = migrateEnv(env);
  else {
    let source: string;
    try {
      source = readFileSync(from, 'utf8');
    } catch (err) {
      throw new Usage(`cannot read ${from} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    m = migrate(parseSource(source), nowMs);
  }
  registerSecret(m.credentials.secretKey);
  const secret = m.credentials.secretKey ?? env.DUO_SECRET_KEY;
  const redact = (s: string) => (secret && secret.length >= 8 ? s.split(secret).join('[REDACTED]') : s);

  if (to && !fromEnv && path.resolve(to) === path.resolve(from)) throw new Usage('TO is FROM: write the bridge config somewhere else (the source stays as it is)');
  if (to && existsSync(to) && !force) throw new Usage(`${to} exists; add --force to overwrite it`);
  const secretFile = v['secret-key-file'] ? path.resolve(v['secret-key-file']) : undefined;
  if (secretFile) {
    if (!m.credentials.secretKey) throw new Usage(`--secret-key-file: the source has no secret key (${m.credentials.from.secretKey} is empty)`);
    if (existsSync(secretFile) && !force) throw new Usage(`${secretFile} exists; add --force to overwrite it`);
  }
  const checkpointDir = v['checkpoint-dir'] ? path.resolve(v['checkpoint-dir']) : undefined;

  // Checkpoints: planned in full before anything is written.
  const planned: Planned[] = [];
  const report: string[] = [];
  const extraNotes: Note[] = [];
  if (v['import-checkpoints']) {
    const dlsDir = v['import-checkpoints'];
    const hostname = m.credentials.hostname ?? env.DUO_API_HOST;
    if (!hostname) throw new Usage(`--import-checkpoints: the source names no API hostname (${m.credentials.from.hostname}), and a bridge checkpoint is kept per account`);
    let account: string;
    try {
      account = accountFor(hostname);
    } catch (err) {
      throw new Usage(`--import-checkpoints: ${m.credentials.from.hostname} is not a usable API hostname (${(err as Error).message})`);
    }
    let listed;
    try {
      listed = await listDlsDir(dlsDir);
    } catch (err) {
      throw new Usage(`cannot read the DLS checkpoint directory ${dlsDir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!listed.files.length) throw new Usage(`no duo_log_sync checkpoint files (<log>_checkpoint_data.txt) in ${dlsDir}`);
    const ikey = m.credentials.integrationKey ?? env.DUO_INTEGRATION_KEY;
    let client: DuoClient | undefined;
    let offlineWhy = v.offline ? '--offline' : undefined;
    if (!offlineWhy && !(ikey && secret)) offlineWhy = 'no integration key and secret key to ask Duo with (set DUO_SECRET_KEY)';
    const clients: DuoClient[] = [];
    const newClient = (h: string) => {
      const c = new DuoClient({ ikey: ikey!, skey: secret!, hostname: h, proxy: m.proxy, timeoutMs: 30_000, userAgent: USER_AGENT });
      clients.push(c);
      return c;
    };
    if (!offlineWhy) client = newClient(hostname);
    // MSP child files: ask each child at its own api_hostname, with account_id (as the bridge will).
    const childGetters = new Map<string, DuoGetter>();
    let childWhy: string | undefined;
    if (client && listed.files.some((f) => f.child)) {
      try {
        for (const a of parseAccountList(await client.post('/accounts/v1/account/list', {}))) {
          const h = /^https?:\/\//i.test(a.apiHostname) || client.endpoint.scheme === 'https' ? a.apiHostname : `http://${a.apiHostname}`;
          let cc: DuoClient | undefined;
          childGetters.set(a.accountId, { get: (p, params) => (cc ??= newClient(h)).get(p, { ...params, account_id: a.accountId }) });
        }
      } catch (err) {
        childWhy = `listing the child accounts failed (${redact((err as Error).message)})`;
      }
    }
    const imported: string[] = [];
    try {
      for (const f of listed.files) {
        const src = path.join(dlsDir, f.name);
        const raw = await fs.readFile(src, 'utf8');
        let c: Converted;
        try {
          c = convertValue(f.dlsLog, raw, nowMs);
        } catch (err) {
          report.push(`${f.name}: not carried over: ${redact((err as Error).message)}`);
          continue;
        }
        const svc = m.services[c.log];
        if (!svc) {
          report.push(`${f.name}: not carried over: the ${c.log} log is not enabled in the new config`);
          continue;
        }
        let how = 'offline';
        const getter: DuoGetter | undefined = f.child ? childGetters.get(f.child) : client;
        if (client && c.lastId && !getter) how = `offline (${childWhy ?? `${f.child} is not among the child accounts Duo lists`})`;
        else if (getter && c.lastId) {
          try {
            const exact = await resolveBoundary(getter, c, nowMs);
            if (exact) {
              c = { ...c, position: exact };
              how = `asked Duo: ${exact.ids.length} event(s) at that ms already delivered`;
            } else how = 'asked Duo, but it did not return that id near that time; offline position kept';
          } catch (err) {
            how = `asking Duo failed (${redact((err as Error).message)}); offline position kept`;
          }
        } else if (c.lastId) how = `offline (${offlineWhy})`;
        const acct = f.child ?? account;
        const cp = bridgeCheckpoint(c, acct, svc.start, nowMs, src, raw);
        const file = bridgeCheckpointFile(checkpointDir!, acct, c.log);
        if (existsSync(file) && !force) throw new Usage(`${file} exists (the bridge already has a position there); add --force to replace it`);
        planned.push({ file, text: JSON.stringify(cp, null, 2) + '\n' });
        const dupNote = c.kind.unit === 's' || !c.lastId ? ' (events DLS sent in that same second/ms may be sent again: DLS kept no ids)' : '';
        const posMs = c.kind.unit === 'ms' ? c.position.time : c.position.time * 1000;
        const old = posMs < nowMs - 180 * 86_400_000 ? ' Warning: older than the 180 days Duo keeps; the bridge starts at the oldest event Duo still has, and what DLS never fetched before that is gone.' : '';
        const parentOnly = m.msp && !f.child ? ' Note: with msp enabled the bridge pulls the child accounts only, so this parent-account checkpoint is not used.' : '';
        report.push(`${f.name} (${c.meaning}) -> ${file}: resume at ${cp.position_utc} inclusive, skipping ${c.position.ids.length} id(s) [${how}]${dupNote}${f.child ? ` (MSP child account ${f.child})` : ''}.${old}${parentOnly}`);
        imported.push(`${c.log}${f.child ? ` (child ${f.child})` : ''} from ${f.name}, resuming at ${cp.position_utc}`);
      }
    } finally {
      for (const c of clients) c.close();
    }
    for (const u of listed.udpFailed) {
      if (u.lines) report.push(`${u.name}: ${u.lines} event(s) DLS could not send over UDP and never re-sent; they are before the imported position, so the bridge will not send them either. Send that file to your SIEM by hand if you need them.`);
    }
    if (!planned.length) throw new Usage(`nothing to import from ${dlsDir}:\n  ${report.join('\n  ')}`);
    m.notes = m.notes.filter((n) => !n.checkpointHint);
    extraNotes.push({
      at: 'checkpoint_dir',
      text: `DLS checkpoints imported from ${path.resolve(dlsDir)}: ${imported.join('; ')}. Keep start_datetime_utc as written: a changed start resets a log's checkpoint.`,
    });
  }

  const text = render(m, { sourceName: from, nowMs, includeSecret: !!v['include-secret'], secretKeyFile: secretFile, checkpointDir, extraNotes });

  // Write: config, secret file, checkpoints.
  if (to) {
    await fs.mkdir(path.dirname(path.resolve(to)), { recursive: true });
    await fs.writeFile(to, text, { mode: v['include-secret'] ? 0o600 : 0o644, flag: force ? 'w' : 'wx' });
  } else process.stdout.write(text);
  if (secretFile) {
    await fs.mkdir(path.dirname(secretFile), { recursive: true });
    await fs.writeFile(secretFile, m.credentials.secretKey + '\n', { mode: 0o600, flag: force ? 'w' : 'wx' });
    await fs.chmod(secretFile, 0o600);
  }
  if (planned.length) {
    await fs.mkdir(checkpointDir!, { recursive: true, mode: 0o700 });
    for (const p of planned) await writeAtomic(p.file, p.text);
  }
  const notCarried = (text.match(/^\s*# migrate-config:/gm) ?? []).length;
  process.stderr.write(`duo-log-bridge migrate-config: read ${from} as ${m.kind}; ${to ? `wrote ${to}` : 'config on stdout'}; ${notCarried} migrate-config comment(s) to review.\n`);
  for (const r of report) process.stderr.write(`duo-log-bridge migrate-config: ${r}\n`);
  return 0;
}
