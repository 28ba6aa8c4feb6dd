/**
 * Devo's Duo collector configs into the neutral Migration form. Pure.
 *
 * Both generations are accepted whole (`globals` / `outputs` / `inputs: {<name>: {...}}`) or as
 * the input fragment Devo's migration guide shows:
 * - before 2.0: `account: {ikey, skey, hostname}`;
 * - 2.0: `credentials: {integration_key, secret_key, hostname}`, `services: {<log>: {start_datetime_utc}}`.
 * `start_datetime_utc` means the same in the bridge (where to start; changing it restarts the log).
 */
import { LOG_KINDS } from '../duo/logs/index.js';
import { isObj, num, text, unknownKeys, type Migration, type Note } from './types.js';

const DEVO_SERVICES = ['administrator', 'authentication', 'telephony'];

/** The Duo input inside a whole Devo config, or the config itself when it is the fragment. */
export function devoInput(cfg: Record<string, unknown>): { input: Record<string, unknown>; prefix: string } | undefined {
  const hasCreds = (o: Record<string, unknown>) => isObj(o.credentials) || isObj(o.account);
  if (hasCreds(cfg)) return { input: cfg, prefix: '' };
  if (isObj(cfg.inputs)) {
    for (const [name, v] of Object.entries(cfg.inputs)) if (isObj(v) && hasCreds(v)) return { input: v, prefix: `inputs.${name}.` };
  }
  return undefined;
}

export function migrateDevo(cfg: Record<string, unknown>, kind: 'devo-pre2' | 'devo-2'): Migration {
  const found = devoInput(cfg)!;
  const { input, prefix: p } = found;
  const notes: Note[] = [];
  const credKey = kind === 'devo-2' ? 'credentials' : 'account';
  const c = (isObj(input[credKey]) ? input[credKey] : {}) as Record<string, unknown>;
  const names = kind === 'devo-2' ? { ikey: 'integration_key', skey: 'secret_key', host: 'hostname' } : { ikey: 'ikey', skey: 'skey', host: 'hostname' };
  const m: Migration = {
    kind,
    credentials: {
      integrationKey: text(c[names.ikey]),
      secretKey: text(c[names.skey]),
      hostname: text(c[names.host]),
      from: { integrationKey: `${p}${credKey}.${names.ikey}`, secretKey: `${p}${credKey}.${names.skey}`, hostname: `${p}${credKey}.${names.host}` },
    },
    services: {},
    notes,
  };
  for (const k of unknownKeys(c, Object.values(names), `${p}${credKey}`)) notes.push({ at: 'credentials', text: `${k} not carried over: not a Duo credential the collector reads.` });

  // Services: the same three names the bridge uses.
  const periods: number[] = [];
  if (isObj(input.services)) {
    for (const [name, raw] of Object.entries(input.services)) {
      const key = `${p}services.${name}`;
      if (!DEVO_SERVICES.includes(name) || !LOG_KINDS[name]) {
        notes.push({ at: 'services', text: `${key} not carried over: the Devo collector serves administrator, authentication and telephony only.` });
        continue;
      }
      const s = isObj(raw) ? raw : {};
      const start = text(s.start_datetime_utc) ?? '';
      m.services[name] = { start };
      if (name === 'telephony') {
        notes.push({
          at: 'services.telephony',
          text:
            'the Devo collector read /admin/v1/logs/telephony; the bridge reads v2 (/admin/v2/logs/telephony: telephony_id and ts, isotimestamp added), ' +
            `so telephony records change shape${LOG_KINDS.telephony_v1 ? '. For accounts without telephony v2 use the telephony_v1 log instead' : ''}.`,
        });
      }
      for (const [k, v] of Object.entries(s)) {
        if (k === 'start_datetime_utc') continue;
        if (k === 'request_period_in_seconds' && num(v) !== undefined) {
          periods.push(num(v)!);
          continue;
        }
        if (/tag/.test(k)) {
          notes.push({
            at: `services.${name}`,
            text:
              `${key}.${k} (${JSON.stringify(v)}) not carried over: Devo tags choose Devo tables. Every bridge record carries eventtype ` +
              `(${LOG_KINDS[name]!.eventtype}); route or tag on it in your relay (Devo relay rule, Fluentd, Vector).`,
          });
          continue;
        }
        notes.push({ at: `services.${name}`, text: `${key}.${k} not carried over: no bridge equivalent.` });
      }
    }
  } else {
    for (const name of DEVO_SERVICES) m.services[name] = { start: '' };
    notes.push({ at: 'services', text: 'the source lists no services; the collector\'s three logs are enabled, from the oldest event Duo keeps (180 days).' });
  }
  if (periods.length) {
    m.pollIntervalSecs = Math.max(1, Math.min(...periods));
    if (new Set(periods).size > 1) notes.push({ at: 'poll_interval_secs', text: `the services had different request_period_in_seconds (${periods.join(', ')}); the bridge polls every log on one interval, the shortest.` });
    else notes.push({ at: 'poll_interval_secs', text: 'from request_period_in_seconds.' });
  }
  if (Object.values(m.services).some((s) => s.start)) {
    notes.push({
      at: 'services',
      text:
        'start_datetime_utc carried as is: as in the collector, it is where a log starts when it has no checkpoint, and changing it restarts that log. ' +
        "The collector's persistence cannot be imported: to avoid reading again what Devo already holds, set each start to just before the newest event Devo has for that log.",
    });
  }

  if (kind === 'devo-pre2') {
    notes.push({ at: 'credentials', text: `${p}account (ikey, skey, hostname) carried as credentials (integration_key, secret_key, hostname), as Devo 2.0 renamed them.` });
  }

  // Everything else in the input and in a whole config.
  for (const k of unknownKeys(input, ['credentials', 'account', 'services', 'id', 'enabled'], p.replace(/\.$/, ''))) {
    notes.push({ text: `${k} not carried over: no bridge equivalent.` });
  }
  if (input.enabled === false) notes.push({ text: `${p}enabled was false in the source; the bridge runs whatever this config enables.` });
  if (isObj(cfg.outputs)) {
    for (const [name, o] of Object.entries(cfg.outputs)) {
      const t = isObj(o) ? text(o.type) : undefined;
      const oc = isObj(o) && isObj(o.config) ? o.config : {};
      const addr = text(oc.address);
      notes.push({
        at: 'output',
        text:
          `outputs.${name}${t ? ` (type ${t}${addr ? `, ${addr}${oc.port ? `:${text(oc.port)}` : ''}` : ''})` : ''} not carried over: the bridge has no Devo output. ` +
          'Events go to stdout here. To reach Devo, send syslog to a Devo in-house relay (output: {type: syslog, host: <relay>, port: <port>, protocol: tcp}) ' +
          'with relay rules that tag by eventtype, or use a Fluentd/Vector stage with Devo\'s own output.',
      });
    }
  }
  if (isObj(cfg.globals)) {
    const g = cfg.globals;
    if (g.persistence !== undefined) {
      notes.push({ at: 'checkpoint_dir', text: 'globals.persistence not carried over: the bridge keeps one JSON checkpoint file per log in checkpoint_dir (default: $XDG_STATE_HOME/duo-log-bridge).' });
    }
    const rest = unknownKeys(g, ['persistence'], 'globals');
    if (rest.length) notes.push({ text: `${rest.join(', ')} not carried over: collector settings with no bridge equivalent (bridge logging: log_level).` });
  }
  for (const k of unknownKeys(cfg, ['globals', 'outputs', 'inputs', 'credentials', 'account', 'services', 'id', 'enabled'], '')) {
    notes.push({ text: `${k} not carried over: no bridge equivalent.` });
  }
  return m;
}
