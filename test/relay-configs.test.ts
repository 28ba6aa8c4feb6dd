/**
 * Lints the syslog relay configs shipped for users (fluentd/remote_syslog/*.conf,
 * vector/syslog/*.yaml): the settings that decide whether data is lost or cut are present and
 * right. Fluentd and Vector are not installed here; Ruby is, so the one piece of Ruby the
 * Fluentd RFC 5424 config relies on (record.to_json rebuilding the bridge's line) is run for real.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { adminEvent, authEvent, classicPatterns, telephonyEvent } from './helpers/rsyslog.js';

const root = new URL('..', import.meta.url).pathname;

interface Section {
  name: string;
  arg: string;
  params: Record<string, string>;
  children: Section[];
  line: number;
}

/** A small parser for Fluentd's config syntax: <section arg> ... </section>, `key value` lines. */
function parseFluentd(text: string): Section {
  const top: Section = { name: 'ROOT', arg: '', params: {}, children: [], line: 0 };
  const stack = [top];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) return;
    const open = /^<([A-Za-z_@]+)\s*([^>]*)>$/.exec(line);
    const close = /^<\/([A-Za-z_@]+)>$/.exec(line);
    if (open) {
      const s: Section = { name: open[1]!, arg: open[2]!.trim(), params: {}, children: [], line: i + 1 };
      stack.at(-1)!.children.push(s);
      stack.push(s);
    } else if (close) {
      const s = stack.pop()!;
      if (s.name !== close[1]) throw new Error(`line ${i + 1}: </${close[1]}> closes <${s.name}>`);
    } else {
      const m = /^(\S+)\s*(.*)$/.exec(line)!;
      const params = stack.at(-1)!.params;
      if (m[1]! in params) throw new Error(`line ${i + 1}: ${m[1]} set twice`);
      params[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
    }
  });
  if (stack.length !== 1) throw new Error(`<${stack.at(-1)!.name}> not closed`);
  return top;
}
const all = (s: Section, name: string): Section[] => s.children.flatMap((c) => (c.name === name ? [c] : [])).concat(s.children.flatMap((c) => all(c, name)));
const child = (s: Section, name: string): Section | undefined => s.children.find((c) => c.name === name);

const fluentDir = join(root, 'fluentd', 'remote_syslog');
const confs = readdirSync(fluentDir).filter((f) => f.endsWith('.conf'));

t.test('fluentd relay configs', async (t) => {
  t.same(confs.sort(), ['rfc5424.conf', 'tcp.conf', 'tls.conf', 'udp.conf'], 'TCP, TLS, UDP and RFC 5424 variants');
  for (const f of confs) {
    const text = readFileSync(join(fluentDir, f), 'utf8');
    const cfg = parseFluentd(text);
    await t.test(f, async (t) => {
      const sources = all(cfg, 'source');
      t.equal(sources.length, 1);
      t.match(sources[0]!.params, { '@type': 'forward', bind: '127.0.0.1' }, 'forward input on loopback');
      t.equal(all(cfg, 'label').length, 0, 'no <label @ERROR>: emit errors must reach the bridge as a missing ack');
      const matches = all(cfg, 'match');
      t.ok(matches.length >= 1);
      const plugin = f === 'rfc5424.conf' ? 'fluent-plugin-syslog_rfc5424' : 'fluent-plugin-remote_syslog';
      t.match(text, new RegExp(`fluent-gem install ${plugin}`), 'install command');
      const ids = new Set<string>();
      for (const m of matches) {
        const p = m.params;
        t.match(m.arg, /^duo\./, `<match ${m.arg}> takes the bridge's duo.* tags`);
        t.notOk(ids.has(p['@id']!), 'unique @id');
        ids.add(p['@id']!);
        const buf = child(m, 'buffer');
        t.ok(buf, `<match ${m.arg}> (line ${m.line}) has a <buffer>`);
        t.match(buf?.params, { '@type': 'file', retry_forever: 'true', flush_at_shutdown: 'true' }, 'file buffer, never gives up a chunk');
        t.not(buf?.params.overflow_action, 'drop_oldest_chunk', 'never drops checkpointed events');
        t.ok(buf?.params.path, 'buffer path');
        const fmt = child(m, 'format');
        if (p['@type'] === 'remote_syslog') {
          t.ok(Number(p.packet_size) >= 16384, `packet_size raised (${p.packet_size}) above the 1024 default`);
          t.equal(p.timeout_exception, 'true', 'timeout_exception true');
          t.ok(Number(p.timeout) > 0, 'a write timeout');
          t.equal(p.program, 'duo-log-bridge', 'program = app name');
          t.ok(p.facility && p.severity, 'facility and severity set');
          t.equal(fmt?.params['@type'], 'json', 'the record as JSON (not the ltsv default)');
          t.ok(['tcp', 'udp'].includes(p.protocol!), 'protocol');
          if (p.protocol === 'udp') t.equal(m.arg, 'duo.telephony', 'only telephony (small) over UDP: the plugin cuts UDP at 1024 bytes');
          if (p.tls === 'true') {
            t.ok(p.ca_file, 'ca_file');
            t.equal(p.verify_mode, '1', 'certificate verified');
          }
        } else {
          t.equal(p['@type'], 'syslog_rfc5424');
          t.equal(p.transport, 'tls');
          t.equal(p.insecure, 'false', 'TLS verified');
          t.ok(p.trusted_ca_path);
          t.match(fmt?.params, { '@type': 'syslog_rfc5424', rfc6587_message_size: 'true', app_name_field: 'app_name' }, 'octet counting set explicitly');
          const filter = all(cfg, 'filter')[0];
          t.match(filter?.params, { '@type': 'record_transformer', enable_ruby: 'true', renew_record: 'true' });
          t.match(child(filter!, 'record')?.params, { log: '${record.to_json}', app_name: 'duo-log-bridge' }, 'message = the record as JSON in `log`');
        }
      }
      if (f === 'udp.conf') {
        t.equal(matches.at(-1)!.arg, 'duo.**', 'everything else goes to the catch-all');
        t.equal(matches.at(-1)!.params.protocol, 'tcp', 'over TCP');
      }
      if (f === 'tcp.conf' || f === 'tls.conf') t.equal(matches[0]!.params.protocol, 'tcp');
      if (f === 'tls.conf') t.equal(matches[0]!.params.tls, 'true');
    });
  }
  t.throws(() => parseFluentd('<match a>\n<buffer>\n</match>'), /closes/, 'the lint parser catches broken nesting');
});

t.test("ruby's record.to_json (rfc5424.conf) rebuilds the bridge's line, so the classic regexes still match", async (t) => {
  const T = 1581620180351346;
  const evs = [authEvent(T, 1, { padGroupsTo: 8192 }), authEvent(T, 2), adminEvent(T, 3), telephonyEvent(T, 4)];
  (evs[1]!.record as any).access_device.location.city = 'Zürich';
  // Fluentd's forward input gives a Ruby Hash in msgpack map order = the bridge's order.
  const out = execFileSync('ruby', ['-rjson', '-e', 'STDIN.each_line { |l| puts JSON.parse(l).to_json }'], { input: evs.map((e) => e.json).join('\n') + '\n' }).toString('utf8');
  const lines = out.trimEnd().split('\n');
  const { patterns } = classicPatterns();
  evs.forEach((e, i) => {
    t.equal(lines[i], e.json, `${e.logType} ${i}: same bytes`);
    t.match(lines[i], patterns[e.logType]!, `${e.logType} ${i}: classic regex matches`);
  });
});

t.test('vector relay configs', async (t) => {
  const dir = join(root, 'vector', 'syslog');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  t.same(files, ['octet-counting.yaml', 'rfc3164.yaml', 'rfc5424.yaml']);
  for (const f of files) {
    const cfg = parseYaml(readFileSync(join(dir, f), 'utf8')) as { transforms: Record<string, any>; sinks: Record<string, any> };
    await t.test(f, async (t) => {
      const sinks = Object.entries(cfg.sinks);
      t.equal(sinks.length, 1);
      const [, sink] = sinks[0]!;
      t.equal(sink.type, 'socket');
      t.equal(sink.mode, 'tcp', 'stream mode (UDP would cut or drop long events)');
      t.match(sink.buffer, { type: 'disk', when_full: 'block' }, 'disk buffer that blocks, never drops');
      t.equal(sink.acknowledgements?.enabled, true, 'end-to-end acknowledgements up to the socket write');
      for (const input of sink.inputs) t.ok(cfg.transforms[input], `input ${input} is defined here`);
      const remap = cfg.transforms[sink.inputs[0]];
      t.equal(remap.type, 'remap');
      const vrl: string = remap.source;
      t.match(vrl, /raw = string\(\.message\)/, 'keeps the original JSON line');
      t.match(vrl, /\.message = raw/, 'message = the original line (never a re-encoded object)');
      t.match(vrl, /e\.isotimestamp \|\| e\.ts/, 'event time from the event');
      t.match(vrl, /\.timestamp = when/);
      t.notMatch(vrl, /strlen\(/, 'no character counts');
      if (f === 'octet-counting.yaml') {
        t.match(vrl, /\.message = to_string\(length\(line\)\) \+ " " \+ line/, 'LEN SP MSG, LEN in bytes (length)');
        t.match(vrl, /%\.6fZ/, 'microseconds, UTC');
        t.match(sink.encoding, { codec: 'text' });
        t.match(sink.framing, { method: 'bytes' }, 'nothing added after the counted frame');
        t.match(sink.tls, { enabled: true, verify_certificate: true, verify_hostname: true });
      } else {
        t.equal(sink.encoding.codec, 'syslog');
        t.equal(sink.encoding.syslog.rfc, f.replace('.yaml', ''));
        t.match(sink.encoding.syslog, { app_name: 'duo-log-bridge', payload_key: 'message', facility: 'auth' });
        if (f === 'rfc5424.yaml') t.equal(sink.encoding.syslog.msg_id, '$.syslog_msgid', 'msgid = log type');
        t.match(sink.framing, { method: 'newline_delimited' });
      }
    });
  }
});
