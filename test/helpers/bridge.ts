/**
 * Run the real CLI (built dist/cli.js) as a child process, as users and Vector's exec source do.
 * Tests build first through `npm test`'s pretest (tsc); `ensureBuilt()` covers single-file runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli.js');

let built = false;
/** Build dist/ once per test process if it is missing (a lone `npx tap file` run). */
export function ensureBuilt(): void {
  if (built || process.env.DLB_SKIP_BUILD) return;
  if (!existsSync(CLI)) {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
    if (!existsSync(CLI)) throw new Error(`build failed (${r.status})`);
  }
  built = true;
}

export interface SimLike {
  hostname: string;
  ikey: string;
  skey: string;
}

/** Write a config for `sim` into `dir` (checkpoints in `dir/state`); `extra` is merged at top level. */
export function writeConfig(dir: string, sim: SimLike, extra: Record<string, unknown> = {}): string {
  mkdirSync(dir, { recursive: true });
  const cfg: Record<string, unknown> = {
    credentials: { integration_key: sim.ikey, secret_key: sim.skey, hostname: sim.hostname },
    checkpoint_dir: path.join(dir, 'state'),
    poll_interval_secs: 1,
    api: { request_interval_secs: 0, backoff_initial_secs: 0.05, backoff_max_secs: 0.5 },
    services: { authentication: {}, administrator: {}, telephony: {} },
    output: { type: 'stdout' },
    ...extra,
  };
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, stringify(cfg));
  return file;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Close stdin (as Vector's exec source does); default true. */
  closeStdin?: boolean;
}

export function spawnBridge(args: string[], opts: SpawnOptions = {}): ChildProcess & { result: Promise<RunResult> } {
  ensureBuilt();
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: [opts.closeStdin === false ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const result = new Promise<RunResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return Object.assign(child, { result });
}

export function runBridge(args: string[], opts: SpawnOptions = {}): Promise<RunResult> {
  return spawnBridge(args, opts).result;
}

/** The bridge's stderr JSON log lines, parsed (non-JSON lines kept as {raw}). */
export function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { raw: l };
      }
    });
}

/** Split NDJSON output by eventtype, keeping order. */
export function byLog(stdout: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const t = (JSON.parse(line) as { eventtype: string }).eventtype;
    (out[t] ??= []).push(line);
  }
  return out;
}
