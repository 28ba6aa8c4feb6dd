/**
 * Start-up security checks, logged on every start of `run` (and `demo`):
 * - TLS 1.2 is the floor for every connection the process makes (Duo and every output): a
 *   `--tls-min-v1.0` / `--tls-min-v1.1` in NODE_OPTIONS is overridden, with a warning.
 * - certificate checks can be turned off only per output with `output.tls.verify: false`
 *   (the Duo connection has no such switch: only `api.ca_file`); each start with it off warns,
 *   and so does NODE_TLS_REJECT_UNAUTHORIZED=0, which turns them off for Duo too.
 * - any secret file the config names (credentials.secret_key_file, output.* password, token,
 *   shared-key and private-key files), and the config file itself when it holds a secret
 *   inline, must not be readable by group or others (POSIX only: Windows has ACLs, not mode bits).
 */
import { statSync, readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { parse } from 'yaml';
import type { BridgeConfig } from '../config/schema.js';
import { expandEnvPath } from '../config/env-path.js';

export interface Warning {
  msg: string;
  fields: Record<string, unknown>;
}

/** Raise the default minimum TLS version to 1.2 if something lowered it. Returns the old value when it did. */
export function applyTlsFloor(): string | undefined {
  const old = tls.DEFAULT_MIN_VERSION;
  if (old === 'TLSv1' || old === 'TLSv1.1') {
    tls.DEFAULT_MIN_VERSION = 'TLSv1.2';
    return old;
  }
  return undefined;
}

const SECRET_FILE_KEY = /secret|password|passwd|token|shared_key|private_key|key_file/i;

const SECRET_VALUE_KEY = /secret|password|passwd|token|shared_key|private_key/i;

/**
 * What the config file holds that is secret: the files it names (resolved like the config
 * resolves them) and the keys whose secret value is written inline.
 */
export function configSecrets(configFile: string, env: NodeJS.ProcessEnv = process.env): { files: { key: string; file: string }[]; inline: string[] } {
  let doc: unknown;
  try {
    doc = parse(readFileSync(configFile, 'utf8'));
  } catch {
    return { files: [], inline: [] };
  }
  const base = path.dirname(path.resolve(configFile));
  const files: { key: string; file: string }[] = [];
  const inline: string[] = [];
  const walk = (v: unknown, at: string) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return;
    for (const [k, x] of Object.entries(v)) {
      const key = at ? `${at}.${k}` : k;
      if (typeof x === 'string' && /_file$/.test(k)) {
        if (!SECRET_FILE_KEY.test(k)) continue;
        const p = expandEnvPath(x, env);
        if (p.value) files.push({ key, file: path.resolve(base, p.value) });
      } else if (typeof x === 'string' && x !== '' && SECRET_VALUE_KEY.test(k)) inline.push(key);
      else walk(x, key);
    }
  };
  walk(doc, '');
  return { files, inline };
}

/** Group/other read bits on `file`, or undefined when fine, unknown or not applicable. */
export function looseMode(file: string, platform = process.platform): string | undefined {
  if (platform === 'win32') return undefined;
  try {
    const mode = statSync(file).mode & 0o777;
    return mode & 0o044 ? mode.toString(8).padStart(4, '0') : undefined;
  } catch {
    return undefined;
  }
}

export function securityWarnings(cfg: BridgeConfig, configFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Warning[] {
  const w: Warning[] = [];
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    w.push({
      msg: 'NODE_TLS_REJECT_UNAUTHORIZED=0: TLS certificate checks are OFF for every connection, Duo included; anyone on the path can read the logs and the signed requests. Unset it; use api.ca_file or NODE_EXTRA_CA_CERTS for a private CA.',
      fields: { insecure: true },
    });
  }
  const t = (cfg.output as { tls?: { verify?: unknown } }).tls;
  if (t && typeof t === 'object' && t.verify === false) {
    w.push({
      msg: `TLS certificate checks are OFF for the ${cfg.output.type} output (output.tls.verify: false): the events can be read or altered on the way. Use it for testing only.`,
      fields: { insecure: true, output: cfg.output.type },
    });
  }
  if (configFile) {
    const { files, inline } = configSecrets(configFile, env);
    // A config without a secret inside may be world-readable (e.g. systemd credentials hold the key).
    const mode = inline.length ? looseMode(path.resolve(configFile)) : undefined;
    if (mode)
      w.push({
        msg: `The config file holds a secret (${inline.join(', ')}) and can be read by other users (mode ${mode}); restrict it (chmod 600, owned by the bridge's user) or move the secret to a file of its own (secret_key_file).`,
        fields: { file: path.resolve(configFile), mode },
      });
    for (const f of files) {
      const m = looseMode(f.file);
      if (m) w.push({ msg: `The secret file named by ${f.key} can be read by other users (mode ${m}); restrict it, e.g. chmod 600 and owned by the bridge's user.`, fields: { file: f.file, mode: m } });
    }
  }
  return w;
}
