#!/usr/bin/env node
// Builds the hand-designed part of the test corpus, regex/corpus/<log>.ndjson: Duo's documented sample
// events shaped exactly as the bridge writes them (compact JSON, Duo's key order, then "eventtype" and
// "host"; telephony v2 gets "isotimestamp" after "credits"), plus the edge cases the robust patterns must
// survive. Each entry: { id, note, line, expect } where expect maps pattern id -> null (no match) or
// { group: value|null }, computed by regex/oracle.mjs (JSON.parse, not a regex). A classic pattern's
// expectation is left out (and `classic_unknown` says why) where its published text cuts a value in a
// way the oracle does not model; the tests then only require every engine to agree.
// Usage: node regex/corpus/make-corpus.mjs [--check]
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOGS, ROBUST } from '../patterns.mjs';
import { classicExpect, robustExpect } from '../oracle.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const HOST = 'api-xxxxxxxx.duosecurity.com';

// ---- Duo's documented samples (shared/docs/duo-admin-api.md section 5) ----------------------------------
const AUTH = {"access_device":{"browser":"Chrome","browser_version":"67.0.3396.99","flash_version":"uninstalled","hostname":null,"ip":"89.160.20.156","is_encryption_enabled":true,"is_firewall_enabled":true,"is_password_set":true,"java_version":"uninstalled","location":{"city":"Ann Arbor","country":"United States","state":"Michigan"},"os":"Mac OS X","os_version":"10.14.1","security_agents":[]},"alias":"","application":{"key":"DIY231J8BR23QK4UKBY8","name":"Microsoft Azure Active Directory"},"auth_device":{"ip":"192.168.225.254","location":{"city":"Ann Arbor","country":"United States","state":"Michigan"},"name":"My iPhone X (734-555-2342)"},"email":"narroway@example.com","event_type":"authentication","factor":"duo_push","isotimestamp":"2020-02-13T18:56:20.351346+00:00","ood_software":null,"reason":"user_approved","result":"success","timestamp":1581620180,"trusted_endpoint_status":"not trusted","txid":"340a23e3-23f3-23c1-87dc-1491a23dfdbb","user":{"groups":["Duo Users","CorpHQ Users"],"key":"DU3KC77WJ06Y5HIV7XKQ","name":"narroway@example.com"}};
const ADMIN = {"action":"user_update","description":"{\"notes\": \"Joe asked for their nickname to be displayed instead of Joseph.\", \"realname\": \"Joe Smith\"}","isotimestamp":"2020-01-24T15:09:42+00:00","object":"jsmith","timestamp":1579878582,"username":"admin"};
const OFFLINE = {"action":"o2fa_user_provisioned","description":"{\"user_agent\": \"DuoCredProv/4.0.6.413 (Windows NT 6.3.9600; x64; Server)\", \"hostname\": \"WKSW10x64\", \"factor\": \"duo_otp\"}","isotimestamp":"2019-08-30T16:10:05+00:00","object":"Acme Laptop Windows Logon","timestamp":1567181405,"username":"narroway"};
const TEL_V1 = {"context":"authentication","credits":1,"isotimestamp":"2020-03-20T15:38:12+00:00","phone":"+15035550100","timestamp":1584718692,"type":"sms"};
const TEL_V2 = {"context":"authentication","credits":2,"phone":"+17345551311","telephony_id":"60799fee-f08f-4ba8-971f-4e53b3473e9a","ts":"2023-01-26T20:54:12.573580+00:00","txid":"373bd5f3-1e42-4a5d-aefa-b33ae278fac8","type":"phone"};

// ---- the bridge's record shape -----------------------------------------------------------------------
const sortDeep = (v) => (Array.isArray(v) ? v.map(sortDeep) : v && typeof v === 'object'
  ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortDeep(v[k])])) : v);
function bridge(log, ev) {
  let rec = sortDeep(ev);
  if (log === 'telephony' && 'ts' in rec && !('isotimestamp' in rec)) {
    const out = {};
    for (const [k, v] of Object.entries(rec)) { out[k] = v; if (k === 'credits') out.isotimestamp = rec.ts; }
    rec = out;
  }
  return { ...rec, eventtype: log, host: HOST };
}
const line = (rec) => JSON.stringify(rec);
const clone = (o) => JSON.parse(JSON.stringify(o));
const with_ = (o, f) => { const c = clone(o); f(c); return c; };
/** reverse key order at every level */
const reversed = (v) => (Array.isArray(v) ? v.map(reversed) : v && typeof v === 'object'
  ? Object.fromEntries(Object.keys(v).reverse().map((k) => [k, reversed(v[k])])) : v);
/** Python json.dumps default separators ", " and ": " (what duo_log_sync writes) */
const pySpaces = (rec) => JSON.stringify(rec, null, 1).replace(/\n */g, (m, off, s) => ' ').replace(/\{ /g, '{').replace(/ \}/g, '}').replace(/\[ /g, '[').replace(/ \]/g, ']');
const RFC3164 = (l) => `<110>Feb 13 18:56:21 bridge01 duo-log-bridge[4242]: ${l}`;
const RFC5424 = (l) => `<110>1 2020-02-13T18:56:21.123456+00:00 bridge01 duo-log-bridge 4242 auth [duo@32473 log="authentication" seq="7"] ${l}`;
const RFC5424BOM = (l) => `<110>1 2020-02-13T18:56:21Z bridge01 duo-log-bridge - - - \uFEFF${l}`;

const A = bridge('authentication', AUTH);
const cases = { authentication: [], administrator: [], telephony: [] };
const add = (log, id, note, l, overrides = {}) => cases[log].push({ id, note, line: l, overrides });

// ---- authentication ----
add('authentication', 'auth-sample', 'Duo docs sample, bridge shape', line(A));
add('authentication', 'auth-rfc3164', 'RFC 3164 header in front', RFC3164(line(A)));
add('authentication', 'auth-rfc5424', 'RFC 5424 header with structured data (quotes, brackets) in front', RFC5424(line(A)));
add('authentication', 'auth-rfc5424-bom', 'RFC 5424 header, no SD, BOM before the JSON', RFC5424BOM(line(A)));
add('authentication', 'auth-reversed', 'every object with its keys in reverse order', line(reversed(A)));
add('authentication', 'auth-python-spaces', 'json.dumps default separators (", " and ": ")', pySpaces(A));
add('authentication', 'auth-eventtype-first', 'bridge keys first, extra collector keys (ctime, child_account_id)', line({ eventtype: 'authentication', host: HOST, ctime: 'Thu Feb 13 18:56:20 2020', child_account_id: 'DA0000', ...AUTH }));
add('authentication', 'auth-missing', 'no email, no isotimestamp, no access_device.location, no txid', line(with_(A, (r) => { delete r.email; delete r.isotimestamp; delete r.access_device.location; delete r.txid; })));
add('authentication', 'auth-nulls', 'email, access ip, city, txid, reason null; auth_device null', line(with_(A, (r) => { r.email = null; r.access_device.ip = null; r.access_device.location.city = null; r.txid = null; r.reason = null; r.auth_device = null; })));
add('authentication', 'auth-classic-nulls', 'nulls where the published pattern reads the text null (browser, os, email, reason, auth_device.name)', line(with_(A, (r) => { r.access_device.browser = null; r.access_device.os = null; r.email = null; r.reason = null; r.auth_device.name = null; })));
add('authentication', 'auth-unknown-strings', '"unknown" in place of booleans and lists, epkey, security agents objects', line(with_(A, (r) => { r.access_device.is_encryption_enabled = 'unknown'; r.access_device.security_agents = [{ security_agent: 'cisco-amp', version: '1' }, { security_agent: 'crowdstrike', version: 6.1 }]; r.access_device.epkey = 'EP18JX1A10AB102M2T2X'; })));
add('authentication', 'auth-escapes', 'escaped quotes and backslashes in user, reason, application, device', line(with_(A, (r) => { r.user.name = 'CORP\\o"brien'; r.reason = 'said "no", then {left}'; r.application.name = 'Okta "Prod" SSO'; r.auth_device.name = 'Bob\'s "phone" \\ {x}'; r.alias = '"user":{"name":"evil"}'; })));
add('authentication', 'auth-key-text-in-values', 'key names inside string values must not be taken for keys', line(with_(A, (r) => { r.alias = 'x","email":"evil@example.com'; r.trusted_endpoint_status = '{"result":"success","txid":"forged"}'; r.access_device.browser = '"ip":"6.6.6.6"'; })));
add('authentication', 'auth-user-first', 'user object before application and auth_device (name keys in another order)', line({ user: A.user, auth_device: A.auth_device, application: A.application, ...A }));
add('authentication', 'auth-ipv6', 'IPv6 access address', line(with_(A, (r) => { r.access_device.ip = '2a02:cf40:add:4002:91f2:a9b2:e09a:6fc6'; })));
add('authentication', 'auth-ipv6-port', '[IPv6]:port access address', line(with_(A, (r) => { r.access_device.ip = '[2a02:cf40::6fc6]:1234'; })));
add('authentication', 'auth-ipv4-port', 'IPv4:port access address, IPv6 device address', line(with_(A, (r) => { r.access_device.ip = '89.160.20.112:1234'; r.auth_device.ip = 'fe80::1ff:fe23:4567:890a'; })));
add('authentication', 'auth-ipv6-port-word', 'IPv6 " port " form', line(with_(A, (r) => { r.access_device.ip = '2a02:cf40::6fc6 port 1234'; })));
add('authentication', 'auth-time-nofrac', 'isotimestamp without fraction', line(with_(A, (r) => { r.isotimestamp = '2020-02-13T18:56:20+00:00'; })));
add('authentication', 'auth-time-ms-z', 'isotimestamp with 3-digit fraction and Z', line(with_(A, (r) => { r.isotimestamp = '2020-02-13T18:56:20.351Z'; })));
add('authentication', 'auth-time-ns', 'isotimestamp with 9-digit fraction', line(with_(A, (r) => { r.isotimestamp = '2020-02-13T18:56:20.351346789-05:00'; })));
add('authentication', 'auth-time-bad', 'isotimestamp in a non-ISO form: no time field', line(with_(A, (r) => { r.isotimestamp = 'Thu Feb 13 18:56:20 2020'; })));
add('authentication', 'auth-unicode', 'non-ASCII user, city, emoji device', line(with_(A, (r) => { r.user.name = 'zoë.müller@example.com'; r.email = 'zoë.müller@example.com'; r.access_device.location.city = 'São Paulo'; r.auth_device.name = 'Zoë’s 📱'; })));
add('authentication', 'auth-numbers-bools', 'numbers and booleans where strings usually are', line(with_(A, (r) => { r.access_device.hostname = 42; r.access_device.ip = false; r.alias = 0; r.result = 'fraud'; })));
add('authentication', 'auth-empty-groups', 'user with no groups, empty email', line(with_(A, (r) => { r.user.groups = []; r.email = ''; })));
add('authentication', 'auth-enrollment', 'event_type enrollment, factor not_available', line(with_(A, (r) => { r.event_type = 'enrollment'; r.factor = 'not_available'; r.reason = 'user_not_in_permitted_group'; r.result = 'denied'; })));
{
  // Known limit: the skip steps over objects nested at most three levels below the current one.
  const { user, eventtype, host, ...rest } = A;
  add('authentication', 'auth-deep-extra', 'LIMIT: an extra object nested four levels deep hides the keys after it', line({ ...rest, extra: { a: { b: { c: [1, { d: 'x' }] } } }, user, eventtype, host }),
    { 'authentication.user': null, 'authentication.eventtype': null });
  add('authentication', 'auth-deep-extra-3', 'an extra object nested three levels deep before user is stepped over', line({ ...rest, extra: { a: { b: [1, { d: 'x' }] } }, user, eventtype, host }));
}

// ---- administrator ----
const D = bridge('administrator', ADMIN);
add('administrator', 'admin-sample', 'Duo docs sample, bridge shape', line(D));
add('administrator', 'admin-offline-enrollment', 'offline enrollment sample (same fields)', line(bridge('administrator', OFFLINE)));
add('administrator', 'admin-rfc3164', 'RFC 3164 header in front', RFC3164(line(D)));
add('administrator', 'admin-rfc5424', 'RFC 5424 header in front', RFC5424(line(D)));
add('administrator', 'admin-description-null', 'description null: the classic pattern cannot match', line(with_(D, (r) => { r.description = null; })));
add('administrator', 'admin-username-empty', 'username "": the classic pattern cannot match', line(with_(D, (r) => { r.username = ''; })));
add('administrator', 'admin-object-null', 'object null', line(with_(D, (r) => { r.object = null; })));
add('administrator', 'admin-ad-sync', 'username "AD Sync: Corp Directory", action ad_sync_failed', line(with_(D, (r) => { r.username = 'AD Sync: Corp Directory'; r.action = 'ad_sync_failed'; r.object = 'Corp Directory'; })));
add('administrator', 'admin-description-keys', 'description holds escaped JSON with username/object/action keys and braces', line(with_(D, (r) => { r.description = JSON.stringify({ username: 'mallory', object: 'x', action: 'y', note: 'a "quoted" {brace} \\ back' }); })));
add('administrator', 'admin-description-empty-object', 'description "{}"', line(with_(D, (r) => { r.description = '{}'; })));
add('administrator', 'admin-reversed', 'keys in reverse order', line(reversed(D)));
add('administrator', 'admin-python-spaces', 'json.dumps default separators', pySpaces(D));
add('administrator', 'admin-time-frac', 'isotimestamp with a fraction', line(with_(D, (r) => { r.isotimestamp = '2020-01-24T15:09:42.123456+00:00'; })));
add('administrator', 'admin-missing', 'no object, no description', line(with_(D, (r) => { delete r.object; delete r.description; })));
add('administrator', 'admin-api', 'username API, unicode object', line(with_(D, (r) => { r.username = 'API'; r.object = 'Zoë Müller'; })));

// ---- telephony ----
const T1 = bridge('telephony', TEL_V1);
const T2 = bridge('telephony', TEL_V2);
add('telephony', 'tel-v1', 'telephony v1 sample, bridge shape', line(T1));
add('telephony', 'tel-v2', 'telephony v2 sample, bridge shape (isotimestamp copied from ts)', line(T2));
add('telephony', 'tel-v2-raw', 'telephony v2 as Duo sends it (no isotimestamp): the classic pattern cannot match', line({ ...sortDeep(TEL_V2), eventtype: 'telephony', host: HOST }));
add('telephony', 'tel-rfc3164', 'RFC 3164 header in front', RFC3164(line(T2)));
add('telephony', 'tel-rfc5424', 'RFC 5424 header in front', RFC5424(line(T1)));
add('telephony', 'tel-reversed', 'keys in reverse order (ts before isotimestamp)', line(reversed(T2)));
add('telephony', 'tel-credits-string', 'credits as a string, context with a space', line(with_(T2, (r) => { r.credits = '3'; r.context = 'administrator login'; })));
add('telephony', 'tel-credits-zero', 'credits 0, phone null', line(with_(T1, (r) => { r.credits = 0; r.phone = null; })));
add('telephony', 'tel-python-spaces', 'json.dumps default separators', pySpaces(T2));
add('telephony', 'tel-missing', 'no phone, no type, no txid', line(with_(T2, (r) => { delete r.phone; delete r.type; delete r.txid; })));
add('telephony', 'tel-extra', 'extra keys and nested objects', line(with_(T2, (r) => { r.child_account_id = 'DA0000'; r.meta = { a: { b: 'c' } }; })));

// ---- expectations --------------------------------------------------------------------------------------
export function build() {
  const out = {};
  for (const log of LOGS) {
    out[log] = cases[log].map(({ id, note, line: l, overrides }) => {
      if (l.includes('\n')) throw new Error(`${id}: a corpus line holds a newline`);
      if (/^\s|\s$/.test(l)) throw new Error(`${id}: leading/trailing blanks`);
      const expect = {};
      const entry = { id, note, line: l, expect };
      for (const p of ROBUST.filter((x) => x.log === log)) expect[p.id] = robustExpect(log, p.field, l);
      const c = classicExpect(log, l);
      if (c.kind === 'match') expect[`${log}.classic`] = c.fields;
      else if (c.kind === 'nomatch') { expect[`${log}.classic`] = null; entry.classic_nomatch = c.reason; }
      else entry.classic_unknown = c.reason;
      Object.assign(expect, overrides);
      return entry;
    });
  }
  return out;
}

export function render() {
  const files = {};
  for (const [log, entries] of Object.entries(build())) files[join(HERE, `${log}.ndjson`)] = entries.map((e) => JSON.stringify(e)).join('\n') + '\n';
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [path, text] of Object.entries(render())) {
    if (check) { if (!existsSync(path) || readFileSync(path, 'utf8') !== text) { console.error('stale: ' + path); stale++; } }
    else { writeFileSync(path, text); console.log('wrote ' + path); }
  }
  if (stale) process.exit(1);
}
