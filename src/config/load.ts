/** Read a YAML config file, collect every problem with its key and line, or return the typed config. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { ConfigReader } from './reader.js';
import { readConfig, type BridgeConfig } from './schema.js';
import { SINKS } from '../sinks/registry.js';

export function loadConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  const problems: ConfigProblem[] = [];
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  for (const e of doc.errors) {
    const pos = e.linePos?.[0];
    problems.push({ key: '', message: `YAML syntax error: ${e.message.split('\n')[0]}`, file, line: pos?.line });
  }
  if (problems.length) throw new ConfigError(problems);
  const r = ConfigReader.root(doc.toJS(), { doc, lines, file, problems });
  const cfg = readConfig(r, env, path.dirname(path.resolve(file)));
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ key: '', message: `cannot read the config file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, file }]);
  }
  return loadConfigText(text, file, env);
}

const SECRET_NAME = /secret|password|passwd|shared_key|token|private_key/i;

/** The effective config as printed by check-config: every secret replaced. */
export function redactedConfig(cfg: BridgeConfig): Record<string, unknown> {
  const secretKeys = new Set(SINKS[cfg.output.type]?.secretKeys ?? []);
  const scrub = (v: unknown, key = ''): unknown => {
    if (v && typeof v === 'object' && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrub(x, k)]));
    if (Array.isArray(v)) return v.map((x) => scrub(x));
    if ((SECRET_NAME.test(key) || secretKeys.has(key)) && v !== undefined && v !== '' && !/_file$/.test(key)) return '[REDACTED]';
    return v;
  };
  return scrub(cfg) as Record<string, unknown>;
}
