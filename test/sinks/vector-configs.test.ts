/**
 * The Vector source bundles in vector/ (there is no Vector binary on this machine, so this is a
 * structural lint): each parses, wires every input to a component that exists when it is loaded
 * together with the syslog relay and the regex parsers, names the components those files expect,
 * and sets the options the README promises (exec streaming + respawn + raw lines, vector v2 and
 * http_server with sink acknowledgements).
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
type Component = Record<string, unknown> & { type: string; inputs?: string[] };
type VectorConfig = { sources?: Record<string, Component>; transforms?: Record<string, Component>; sinks?: Record<string, Component> };

function load(rel: string): VectorConfig {
  return parse(readFileSync(path.join(ROOT, rel), 'utf8')) as VectorConfig;
}

function merged(files: string[]): VectorConfig {
  const out: VectorConfig = { sources: {}, transforms: {}, sinks: {} };
  for (const f of files) {
    if (!existsSync(path.join(ROOT, f))) continue;
    const c = load(f);
    for (const k of ['sources', 'transforms', 'sinks'] as const) Object.assign(out[k]!, c[k] ?? {});
  }
  return out;
}

/** Inputs that name no component (or no output of one: route names, `.dropped`). */
function danglingInputs(c: VectorConfig): string[] {
  const outputs = new Set<string>();
  for (const [name, comp] of Object.entries({ ...c.sources, ...c.transforms })) {
    outputs.add(name);
    if (comp.type === 'route') for (const r of Object.keys((comp.route as object) ?? {})) outputs.add(`${name}.${r}`);
    if (comp.type === 'remap' && comp.reroute_dropped) outputs.add(`${name}.dropped`);
  }
  const bad: string[] = [];
  for (const comp of Object.values({ ...c.transforms, ...c.sinks })) for (const i of comp.inputs ?? []) if (!outputs.has(i)) bad.push(i);
  return bad;
}

const FILES = ['vector/exec-source.yaml', 'vector/vector-source.yaml', 'vector/http-server-source.yaml'];
const PEERS = ['vector/syslog/rfc5424.yaml', 'vector/parsers/duo-regex.yaml'];

t.test('each source bundle parses and provides the components the relay and parsers read', async (t) => {
  for (const f of FILES) {
    const c = load(f);
    t.same(danglingInputs(c), [], `${f}: every input exists`);
    t.same(danglingInputs(merged([f, ...PEERS])), [], `${f} + syslog relay + regex parsers: every input exists`);
    for (const name of ['duo_bridge_lines', 'duo_authentication_lines', 'duo_administrator_lines', 'duo_telephony_lines']) t.ok(c.transforms?.[name], `${f}: defines ${name}`);
    t.ok(Object.values(c.sinks ?? {}).some((s) => s.type === 'console' && s.inputs?.includes('duo_bridge_lines')), `${f}: a console sink`);
  }
});

t.test('exec source: streaming, respawn, raw lines, stderr apart, and the acknowledgement limit stated', async (t) => {
  const text = readFileSync(path.join(ROOT, 'vector/exec-source.yaml'), 'utf8');
  const src = load('vector/exec-source.yaml').sources!.duo_bridge!;
  t.match(src, { type: 'exec', mode: 'streaming', streaming: { respawn_on_exit: true }, include_stderr: true, decoding: { codec: 'bytes' }, framing: { method: 'newline_delimited' } });
  t.same((src.command as string[]).slice(0, 3), ['duo-log-bridge', 'run', '--config']);
  t.notOk((src.command as string[]).includes('--once'), 'streaming: the bridge keeps polling');
  t.match(text, /cannot acknowledge/);
  t.match(text, /use the `vector` output/);
  const lines = load('vector/exec-source.yaml').transforms!.duo_bridge_lines!;
  t.match(String(lines.source), /\.message = raw/, 'the raw line is kept in .message');
  t.match(String(lines.source), /isotimestamp/, "the event's own time");
});

t.test('vector and http_server sources: protocol v2, sink acknowledgements', async (t) => {
  const v = load('vector/vector-source.yaml');
  t.match(v.sources!.duo_bridge_grpc, { type: 'vector', version: '2' });
  const h = load('vector/http-server-source.yaml');
  t.match(h.sources!.duo_bridge_http, { type: 'http_server', method: 'POST', decoding: { codec: 'bytes' }, framing: { method: 'newline_delimited' } });
  for (const [f, c] of [['vector-source', v], ['http-server-source', h]] as const) {
    const fed = Object.values(c.sinks!).filter((s) => s.inputs?.includes('duo_bridge_lines'));
    t.ok(fed.length > 0 && fed.every((s) => (s.acknowledgements as { enabled?: boolean } | undefined)?.enabled === true), `${f}: every sink fed by the bridge acknowledges`);
    t.notOk(Object.values(c.sources!).some((s) => 'acknowledgements' in s), `${f}: acknowledgements on sinks, not the deprecated source setting`);
  }
  t.match(readFileSync(path.join(ROOT, 'vector/vector-source.yaml'), 'utf8'), /include_message: true/);
});
