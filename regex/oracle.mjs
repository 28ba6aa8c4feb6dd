// Independent oracle: what each pattern SHOULD extract from a line, derived with JSON.parse instead of
// a regex. The corpus stores these expectations, and the tests compare every engine against them.
//
// Value convention (the same in every engine): a capture is the raw text of the JSON value, so a string
// field yields its characters *still JSON-escaped* (`\"` stays `\"`), a number yields its digits, and a
// null string field leaves the capture unset (reported as null). A pattern that does not match at all
// is reported as null instead of an object.
import { CLASSIC, ROBUST_FIELDS } from './patterns.mjs';

/** The JSON body of a line: everything from the first `{` (a syslog header may precede it). */
export function body(line) {
  const i = line.indexOf('{');
  if (i < 0) return undefined;
  try {
    const v = JSON.parse(line.slice(i));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Raw (still escaped) JSON text of a string, as JSON.stringify (the bridge's encoder) writes it. */
export const rawString = (s) => JSON.stringify(s).slice(1, -1);

const ISO_ORACLE = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:?\d\d)?$/;

/** Expected result of robust pattern (log, field) on a line: null (no match) or { field: value|null }. */
export function robustExpect(log, field, line) {
  const spec = ROBUST_FIELDS[log].find(([f]) => f === field);
  if (!spec) throw new Error(`no robust field ${log}.${field}`);
  const [, path, shape] = spec;
  let obj = body(line);
  if (!obj) return null;
  for (let i = 0; i < path.length - 1; i++) {
    obj = obj[path[i]];
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return null;
  }
  const last = path[path.length - 1];
  const names = Array.isArray(last) ? Object.keys(obj).filter((k) => last.includes(k)) : last in obj ? [last] : [];
  for (const k of names) {
    const v = obj[k];
    if (shape === 'string') {
      if (v === null) return { [field]: null };
      if (typeof v === 'string') return { [field]: rawString(v) };
    } else if (shape === 'number') {
      if (typeof v === 'number' && Number.isFinite(v)) return { [field]: JSON.stringify(v) };
      if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return { [field]: v };
    } else if (shape === 'time') {
      if (typeof v === 'string' && ISO_ORACLE.test(v)) return { [field]: v };
    }
  }
  return null;
}

// ---- classic ---------------------------------------------------------------------------------------
// The classic patterns assume the bridge's exact compact record. For such a record this oracle says
// whether the published pattern matches and what each group holds, or that the line falls outside what
// can be predicted simply ('unknown': a value holding `,` `"` `\` or `}` that the pattern would cut).

const isObj = (v) => v && typeof v === 'object' && !Array.isArray(v);
const keys = (o) => (isObj(o) ? Object.keys(o) : []);
const follows = (o, a, b) => { const k = keys(o); const i = k.indexOf(a); return i >= 0 && k[i + 1] === b; };
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

class Unknown extends Error {}
class NoMatch extends Error {}

/** "?([^",]+)"? on a JSON value: a clean string, or null/number/boolean as their literal text. */
function plain(v, what, { optional = false, extraStop = '', commaFails = false } = {}) {
  if (v === undefined) throw new NoMatch(`${what} is absent`);
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  if (typeof v !== 'string') throw new NoMatch(`${what} is not a scalar`);
  if (v === '') {
    if (optional) return null;
    throw new NoMatch(`${what} is an empty string`);
  }
  // the value is followed by a literal, so a comma that ends [^",]+ early leaves the pattern nowhere to go
  if (commaFails) {
    const raw = rawString(v);
    if (/[",]/.test(raw)) throw new NoMatch(`${what} holds a comma or a quote`);
    return raw;
  }
  const stops = '",\\' + extraStop;
  if ([...v].some((c) => stops.includes(c) || c < ' ')) throw new Unknown(`${what} holds one of ${stops}`);
  return v;
}

function shapeCheck(cond, why) {
  if (!cond) throw new NoMatch(why);
}

const CLASSIC_ORACLE = {
  authentication(r) {
    const ad = r.access_device;
    const au = r.auth_device;
    shapeCheck(keys(r)[0] === 'access_device' && isObj(ad) && keys(ad)[0] === 'browser', 'record does not open with access_device.browser');
    shapeCheck(follows(ad, 'hostname', 'ip'), 'access_device.hostname is not followed by ip');
    shapeCheck(isObj(ad.location) && same(keys(ad.location), ['city', 'country', 'state']) && follows(ad, 'location', 'os'), 'access_device.location/os shape');
    const kr = keys(r);
    shapeCheck(isObj(au) && same(keys(au), ['ip', 'location', 'name']) && isObj(au.location) && same(keys(au.location), ['city', 'country', 'state']), 'auth_device shape');
    const app = r[kr[kr.indexOf('auth_device') - 1]];
    shapeCheck(isObj(app) && keys(app).at(-1) === 'name', 'the object before auth_device does not end with name');
    shapeCheck(follows(r, 'auth_device', 'email') && follows(r, 'email', 'event_type') && follows(r, 'event_type', 'factor') && follows(r, 'factor', 'isotimestamp'), 'email/event_type/factor/isotimestamp order');
    shapeCheck(follows(r, 'reason', 'result') && kr.indexOf('reason') > kr.indexOf('isotimestamp') && kr.indexOf('user') > kr.indexOf('result'), 'reason/result/user order');
    shapeCheck(isObj(r.user) && same(keys(r.user).slice(0, 3), ['groups', 'key', 'name']) && Array.isArray(r.user.groups), 'user shape');
    const iso = r.isotimestamp;
    if (typeof iso !== 'string') throw new NoMatch('isotimestamp is not a string');
    const t = /^[^",+.]+/.exec(iso);
    if (!t || t[0].length === iso.length) throw new Unknown('isotimestamp has neither fraction nor offset');
    let groups = null;
    if (r.user.groups.length) {
      for (const g of r.user.groups) if (typeof g !== 'string' || /[\]\\"]/.test(g)) throw new Unknown('user.groups value');
      groups = r.user.groups.map(rawString).join('","') + '"';
    }
    // a null auth_device.name reads as `null`; a string may not hold } or "
    let devName = au.name;
    if (devName === null) devName = 'null';
    else if (typeof devName !== 'string' || devName === '' || /[}"\\]/.test(devName)) throw new Unknown('auth_device.name value');
    return {
      access_device_browser: plain(ad.browser, 'access_device.browser'),
      access_device_hostname: plain(ad.hostname, 'access_device.hostname'),
      access_device_ip: plain(ad.ip, 'access_device.ip'),
      access_device_city: plain(ad.location.city, 'access_device.location.city'),
      access_device_country: plain(ad.location.country, 'access_device.location.country'),
      access_device_state: plain(ad.location.state, 'access_device.location.state'),
      access_device_os: plain(ad.os, 'access_device.os'),
      application_name: plain(app.name, 'application.name', { commaFails: true }),
      auth_device_ip: plain(au.ip, 'auth_device.ip'),
      auth_device_city: plain(au.location.city, 'auth_device.location.city'),
      auth_device_country: plain(au.location.country, 'auth_device.location.country'),
      auth_device_state: plain(au.location.state, 'auth_device.location.state'),
      auth_device_name: devName,
      email: plain(r.email, 'email', { optional: true }),
      event_type: plain(r.event_type, 'event_type'),
      factor: plain(r.factor, 'factor'),
      isotimestamp: t[0],
      reason: plain(r.reason, 'reason'),
      result: plain(r.result, 'result'),
      user_groups: groups,
      user_key: plain(r.user.key, 'user.key'),
      user_name: plain(r.user.name, 'user.name'),
    };
  },
  administrator(r) {
    const kr = keys(r);
    shapeCheck(kr[0] === 'action' && follows(r, 'action', 'description') && follows(r, 'description', 'isotimestamp') && follows(r, 'isotimestamp', 'object'), 'action/description/isotimestamp/object order');
    shapeCheck(follows(r, 'username', 'eventtype') && kr.indexOf('username') > kr.indexOf('object') && kr.at(-1) !== 'eventtype', 'username/eventtype order');
    const d = r.description;
    if (d === null) throw new NoMatch('description is null');
    if (typeof d !== 'string' || !d.startsWith('{') || !d.endsWith('}')) throw new NoMatch('description is not a {...} string');
    const iso = r.isotimestamp;
    if (typeof iso !== 'string') throw new NoMatch('isotimestamp is not a string');
    const t = /^[^",+]+/.exec(iso);
    if (!t || t[0].length === iso.length) throw new Unknown('isotimestamp has no offset');
    const rawD = rawString(d);
    return {
      action: plain(r.action, 'action'),
      description: rawD.length > 2 ? rawD.slice(1, -1) : null,
      isotimestamp: t[0],
      object: plain(r.object, 'object'),
      username: plain(r.username, 'username'),
      eventtype: plain(r.eventtype, 'eventtype'),
    };
  },
  telephony(r) {
    const kr = keys(r);
    shapeCheck(kr[0] === 'context', 'record does not open with context');
    if (!('isotimestamp' in r)) throw new NoMatch('no isotimestamp (raw telephony v2 has only ts)');
    shapeCheck(kr.indexOf('phone') > kr.indexOf('isotimestamp') && follows(r, 'type', 'eventtype') && kr.at(-1) !== 'eventtype', 'isotimestamp/phone/type/eventtype order');
    const iso = r.isotimestamp;
    const t = typeof iso === 'string' && /^[^",+]+/.exec(iso);
    if (!t || t[0].length === iso.length) throw new Unknown('isotimestamp has no offset');
    return {
      context: plain(r.context, 'context'),
      isotimestamp: t[0],
      phone: plain(r.phone, 'phone'),
      type: plain(r.type, 'type'),
      eventtype: plain(r.eventtype, 'eventtype'),
    };
  },
};

/**
 * Expected result of the classic pattern of `log` on a bridge-shaped line:
 * { kind: 'match', fields } | { kind: 'nomatch', reason } | { kind: 'unknown', reason }.
 */
export function classicExpect(log, line) {
  const r = body(line);
  if (!r) return { kind: 'nomatch', reason: 'no JSON object' };
  const names = CLASSIC.find((c) => c.log === log).groups;
  const text = line.slice(line.indexOf('{'));
  if (text !== JSON.stringify(r)) {
    // the published patterns spell out `","key":` adjacencies, so blanks between tokens break them
    if (text.replace(/("(?:[^"\\]|\\.)*")|\s+/g, '$1') === JSON.stringify(r)) return { kind: 'nomatch', reason: 'whitespace between JSON tokens' };
    return { kind: 'unknown', reason: 'not the compact encoding JSON.stringify writes' };
  }
  try {
    const fields = CLASSIC_ORACLE[log](r);
    if (JSON.stringify(Object.keys(fields)) !== JSON.stringify(names)) throw new Error('oracle/groups mismatch');
    return { kind: 'match', fields };
  } catch (e) {
    if (e instanceof NoMatch) return { kind: 'nomatch', reason: e.message };
    if (e instanceof Unknown) return { kind: 'unknown', reason: e.message };
    throw e;
  }
}
