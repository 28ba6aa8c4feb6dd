import t from 'tap';
import { CEF_MAPPINGS, cefLine, escapeHeader, escapeValue } from '../../src/format/cef.js';
import { DuoEvent } from '../../src/format/event.js';
import { adminEvent, authEvent, parseCef, telephonyEvent } from '../helpers/rsyslog.js';

/** Custom fields by label: {factor: 'duo_push', ...} from cs1Label/cs1 pairs. */
function labelled(ext: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ext)) {
    const m = /^(cs\d|cn\d|flexString\d|c6a\d)Label$/.exec(k);
    if (m) out[v] = ext[m[1]!]!;
  }
  return out;
}

const T = 1581620180351346;
const NASTY = 'pipe|equals=back\\slash\nnew\rline \\n literal | = end\\';

t.test('the strict parser itself rejects what it must', async (t) => {
  t.throws(() => parseCef('CEF:0|a|b|c|d|e|5|k=v=w'), /unescaped =/);
  t.throws(() => parseCef('CEF:0|a|b|c|d|e|5|k=a\\x'), /bad extension escape/);
  t.throws(() => parseCef('CEF:0|a|b|c|d|e|5|k=a\nb'), /raw CR or LF/);
  t.throws(() => parseCef('CEF:0|a|b|c\\d|d|e|5|k=a'), /bad header escape/);
  t.throws(() => parseCef('CEF:0|a|b|c|d|e|k=a'), /severity|7 header/);
  t.throws(() => parseCef('CEF:0|a|b|c|d|e|5|k=a k=b'), /duplicate/);
  t.same(parseCef('CEF:0|a\\|b|c|d|e|f|5|k=a b c=d\\=e'), { header: ['0', 'a|b', 'c', 'd', 'e', 'f', '5'], ext: { k: 'a b', c: 'd=e' } });
});

t.test('escaping: header \\ and |, extension \\ = CR LF', async (t) => {
  t.equal(escapeHeader('a|b\\c'), 'a\\|b\\\\c');
  t.equal(escapeHeader('a\nb'), 'a b');
  t.equal(escapeValue('a=b\\c\nd\re|f'), 'a\\=b\\\\c\\nd\\re|f');
});

t.test('authentication: right field paths, rt in ms from the event time, values round-trip', async (t) => {
  const e = authEvent(T, 7, { result: 'denied' });
  const r = e.record as any;
  r.access_device.hostname = 'LAPTOP-1';
  r.reason = 'deny_unenrolled_user';
  const line = cefLine(e);
  t.notMatch(line, /None/, 'no Python None');
  const { header, ext } = parseCef(line);
  t.same(header, ['0', 'Duo Security', 'duo-log-bridge', header[3], 'authentication:denied', 'Duo authentication denied (deny_unenrolled_user)', '6']);
  t.match(header[3], /^\d+\.\d+\.\d+/, 'product version from package.json');
  t.equal(ext.rt, String(Math.floor(T / 1000)), 'rt = event time in ms');
  t.equal(ext.shost, 'LAPTOP-1', 'access_device.hostname (DLS read access_device.host: always None)');
  t.equal(ext.src, '89.160.20.156');
  t.equal(ext.duser, 'user7@example.com');
  t.equal(ext.duid, 'DU3KC77WJ06Y5HIV7XKQ');
  t.equal(ext.outcome, 'denied');
  t.equal(ext.reason, 'deny_unenrolled_user');
  t.equal(ext.cat, 'authentication');
  t.equal(ext.externalId, r.txid);
  t.equal(ext.destinationServiceName, 'Microsoft Azure Active Directory');
  t.equal(ext.requestClientApplication, 'Chrome 67.0.3396.99');
  t.equal(ext.dvchost, 'api-12345678.duosecurity.com');
  t.same(labelled(ext), {
    factor: 'duo_push', email: 'user7@example.com', integration_key: 'DIY231J8BR23QK4UKBY8', auth_device: 'My iPhone X (734-555-2342)',
    auth_device_ip: '192.168.225.254', access_location: 'Ann Arbor, Michigan, United States', os: 'Mac OS X 10.14.1', groups: 'Duo Users,CorpHQ Users',
  });
});

t.test('values holding | = \\ CR LF round-trip exactly, in every log', async (t) => {
  const a = authEvent(T, 1);
  const ar = a.record as any;
  ar.user.name = NASTY;
  ar.application.name = 'App = ' + NASTY;
  ar.factor = '\\=\\n';
  ar.result = 'odd|result\\';
  const pa = parseCef(cefLine(a));
  t.equal(pa.ext.duser, NASTY);
  t.equal(pa.ext.destinationServiceName, 'App = ' + NASTY);
  t.equal(labelled(pa.ext).factor, '\\=\\n');
  t.equal(pa.ext.outcome, 'odd|result\\');
  t.equal(pa.header[4], 'authentication:odd|result\\', 'header | and \\ escaped and restored');

  const d = adminEvent(T, 2, `{"notes": "${NASTY.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"}`);
  const pd = parseCef(cefLine(d));
  t.equal(pd.ext.msg, (d.record as any).description, 'admin description (escaped JSON inside) round-trips');
  t.equal(pd.ext.act, 'user_update');
  t.equal(pd.ext.suser, 'admin');
  t.equal(labelled(pd.ext).object, 'jsmith2');
  t.equal(pd.ext.rt, String(Math.floor(T / 1000)));
  t.equal(pd.header[4], 'administrator:user_update');

  const tel = telephonyEvent(T, 3);
  (tel.record as any).phone = '+1 (503) 555=0100|x';
  const pt = parseCef(cefLine(tel));
  t.equal(labelled(pt.ext).phone, '+1 (503) 555=0100|x');
  t.equal(labelled(pt.ext).credits, '1');
  t.equal(pt.ext.cat, 'authentication');
  t.equal(pt.ext.act, 'sms');
  t.equal(pt.header[4], 'telephony:sms', 'signature set for telephony (DLS: empty)');
  t.equal(pt.ext.rt, String(Math.floor(T / 1000)));

  // Newlines in the header become spaces (a header cannot hold them); the value is intact in the extension.
  const nl = adminEvent(T, 4);
  (nl.record as any).action = 'line1\nline2';
  const pn = parseCef(cefLine(nl));
  t.equal(pn.header[4], 'administrator:line1 line2');
  t.equal(pn.ext.act, 'line1\nline2');
});

t.test('telephony v2 and activity: rt from the event time, outcome.result, ids', async (t) => {
  const tv2 = new DuoEvent('telephony', T, '60799fee', {
    context: 'authentication', credits: 2, phone: '+17345551311', telephony_id: '60799fee-f08f-4ba8-971f-4e53b3473e9a',
    ts: '2020-02-13T18:56:20.351346+00:00', txid: '373bd5f3', type: 'phone', eventtype: 'telephony', host: 'h',
  });
  const p2 = parseCef(cefLine(tv2));
  t.equal(p2.ext.rt, '1581620180351', 'DLS wrote rt=None for v2');
  t.equal(p2.ext.externalId, '60799fee-f08f-4ba8-971f-4e53b3473e9a');
  t.equal(labelled(p2.ext).txid, '373bd5f3');

  const act = new DuoEvent('activity', T, '720b8360', {
    access_device: { browser: 'Chrome', browser_version: '111.0.0.0', ip: { address: '2001:db8::1' }, location: { city: 'Ann Arbor', country: 'United States', state: 'Michigan' } },
    action: { details: null, name: 'webauthncredential_create' },
    activity_id: '720b8360-078b-47c4-adc7-7968df1caef0',
    actor: { details: '{"status":"Active"}', key: 'DU64', name: 'sogilby', type: 'user' },
    application: { key: 'DILS', name: 'Acme Corp', type: 'websdk' },
    outcome: { result: 'FAILURE' },
    target: { details: '{"authenticator_type":"Security key"}', key: 'WAUK', name: 'WAUKH0', type: 'webauthn_credential' },
    ts: '2020-02-13T18:56:20.351346+00:00', eventtype: 'activity', host: 'h',
  });
  const pa = parseCef(cefLine(act));
  t.equal(pa.ext.outcome, 'FAILURE', 'outcome.result (DLS read a top-level result: always None)');
  t.equal(pa.ext.rt, '1581620180351', 'ms, not the ISO string DLS sent');
  t.equal(pa.header[4], 'activity:webauthncredential_create');
  t.equal(pa.header[6], '5');
  t.equal(pa.ext.c6a2, '2001:db8::1', 'IPv6 source goes to c6a2');
  t.notOk('src' in pa.ext);
  t.equal(pa.ext.msg, '{"authenticator_type":"Security key"}');
  t.equal(pa.ext.suser, 'sogilby');
  t.equal(labelled(pa.ext).target, 'WAUKH0');
});

t.test('ip:port forms give src and spt; garbage is left out', async (t) => {
  const a = parseCef(cefLine(authEvent(T, 1, { ip: '89.160.20.112:1234' })));
  t.equal(a.ext.src, '89.160.20.112');
  t.equal(a.ext.spt, '1234');
  const b = parseCef(cefLine(authEvent(T, 1, { ip: '[2a02:cf40::1]:1234' })));
  t.equal(b.ext.c6a2, '2a02:cf40::1');
  t.equal(b.ext.spt, '1234');
  const c = parseCef(cefLine(authEvent(T, 1, { ip: 'unknown' })));
  t.notOk('src' in c.ext || 'c6a2' in c.ext);
});

t.test('trust monitor, offline enrollment and any other log type get a mapping', async (t) => {
  const tm = parseCef(cefLine(new DuoEvent('trust_monitor', T, 'SED', {
    explanations: [{ summary: 'a has not logged in from this location recently.', type: 'NEW_COUNTRY_CODE' }, { summary: 'new IP', type: 'NEW_NETBLOCK' }],
    priority_event: true, sekey: 'SEDOR9BP00L23C6YUH5', state: 'new', surfaced_auth: { access_device: { ip: '17.88.232.83' }, result: 'denied', txid: 'tx1', user: { name: 'amanda' } },
    surfaced_timestamp: 1605602911680, triage_event_uri: 'https://admin-x.duosecurity.com/trust-monitor?sekey=SED', type: 'auth', eventtype: 'trust_monitor', host: 'h',
  })));
  t.equal(tm.header[4], 'trust_monitor:auth');
  t.equal(tm.header[6], '8');
  t.equal(tm.ext.msg, 'a has not logged in from this location recently.; new IP');
  t.equal(tm.ext.request, 'https://admin-x.duosecurity.com/trust-monitor?sekey=SED', '= in a URL round-trips');
  t.equal(tm.ext.duser, 'amanda');
  const oe = parseCef(cefLine(new DuoEvent('offline_enrollment', T, 'oe', { action: 'o2fa_user_provisioned', description: '{"hostname": "WKSW10x64"}', object: 'Acme', username: 'narroway', eventtype: 'offline_enrollment', host: 'h' })));
  t.equal(oe.header[4], 'offline_enrollment:o2fa_user_provisioned');
  t.equal(oe.ext.suser, 'narroway');
  const other = new DuoEvent('some_future_log', T, 'id9', { a: 'x=y|z', eventtype: 'some_future_log', host: 'h' });
  const po = parseCef(cefLine(other));
  t.equal(po.header[4], 'some_future_log');
  t.equal(po.ext.msg, other.json, 'the whole JSON line, intact');
  t.equal(po.ext.externalId, 'id9');
  t.equal(po.ext.rt, '1581620180351');
});

t.test('every mapping has rt and an id, and custom keys have labels', async (t) => {
  for (const m of CEF_MAPPINGS) {
    const keys = m.fields.map((f) => f.key);
    t.ok(keys.includes('rt'), `${m.logTypes} has rt`);
    t.ok(keys.includes('externalId'), `${m.logTypes} has externalId`);
    t.equal(new Set(keys).size, keys.length, `${m.logTypes} uses each key once`);
    for (const f of m.fields) if (/^(cs|cn|flexString)\d$/.test(f.key)) t.ok(f.label, `${m.logTypes} ${f.key} has a label`);
  }
});

t.test('null, absent and empty values are left out, never "None" or "null"', async (t) => {
  const e = authEvent(T, 1);
  const r = e.record as any;
  r.auth_device = { ip: null, location: { city: null, country: null, state: null }, name: null };
  r.email = '';
  delete r.reason;
  const { ext } = parseCef(cefLine(e));
  t.notOk('reason' in ext);
  const l = labelled(ext);
  t.notOk('auth_device' in l || 'auth_device_ip' in l || 'email' in l);
  t.notMatch(cefLine(e), /=(None|null)( |$)/);
});
