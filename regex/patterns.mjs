// Single source of truth for the bundled Duo regex parsers.
//
// Everything under fluentd/parsers/, vector/parsers/ and regex/duo-regex.json is GENERATED from this
// file by `node regex/generate.mjs`; a test fails when those files are stale. Edit here, then regenerate.
//
// Two families:
//  - CLASSIC: the three patterns published for Duo + Fluentd + syslog (field guide "Sending Duo Logs to a
//    Syslog Device: Duo + Fluentd"), kept byte-for-byte. They use unnamed groups and assume compact JSON
//    with Duo's alphabetical key order and `eventtype` after the Duo keys (the bridge's record shape).
//  - ROBUST: one pattern per field, each with a single named capture, written so the key may sit
//    anywhere in its object, other keys may be added, removed, null, numbers or booleans, strings may hold
//    escaped quotes or escaped JSON, and a syslog header may precede the JSON. Every construct is in the
//    common subset of Onigmo (Ruby/Fluentd), Rust `regex` (Vector), PCRE2 and ECMAScript, and the
//    building blocks are unambiguous (each character can be consumed in only one way), so a failing
//    match backtracks linearly, never exponentially.

/** The published patterns, unchanged. `groups` names capture group 1, 2, 3, ... in order. */
export const CLASSIC = [
  {
    log: 'authentication',
    published: String.raw`{"access_device":{"browser":"?([^",]+)"?,.+hostname":"?([^",]+)"?,"ip":"?([^",]+)"?,.+location":{"city":"?([^",]+)"?,"country":"?([^",]+)"?,"state":"?([^",]+)"?},"os":"?([^",]+)"?,.+name":"?([^",]+)"?},"auth_device":{"ip":"?([^",]+)"?,"location":{"city":"?([^",]+)"?,"country":"?([^",]+)"?,"state":"?([^",]+)"?},"name":"?([^}"]+)"*},\s*"email":"?([^",]+)?"?,"event_type":"?([^",]+)"?,"factor":"?([^",]+)"?,"isotimestamp":"?([^",\+\.]+).+"?,"reason":"?([^",]+)"?,"result":"?([^",]+)"?.+user":{"groups":\["?([^\]]+)?"?\],"key":"?([^",]+)"?,"name":"?([^",]+)"?.+`,
    groups: [
      'access_device_browser', 'access_device_hostname', 'access_device_ip',
      'access_device_city', 'access_device_country', 'access_device_state', 'access_device_os',
      'application_name',
      'auth_device_ip', 'auth_device_city', 'auth_device_country', 'auth_device_state', 'auth_device_name',
      'email', 'event_type', 'factor', 'isotimestamp', 'reason', 'result',
      'user_groups', 'user_key', 'user_name',
    ],
  },
  {
    log: 'administrator',
    published: String.raw`{"action":"?([^",]+)"?,"description":"{(.+)?}","isotimestamp":"?([^",\+]+).+"?,"object":"?([^",]+)"?.+username":"?([^",]+)"?,"eventtype":"?([^",]+)"?.+`,
    groups: ['action', 'description', 'isotimestamp', 'object', 'username', 'eventtype'],
  },
  {
    log: 'telephony',
    published: String.raw`{"context":"?([^",]+)"?,.+isotimestamp":"?([^",\+]+).+"?,"phone":"?([^",]+)"?.+"type":"?([^",]+)"?,"eventtype":"?([^",]+)"?.+`,
    groups: ['context', 'isotimestamp', 'phone', 'type', 'eventtype'],
  },
];

// ---- building blocks of the robust patterns -------------------------------------------------------
// A JSON string body: any char but quote/backslash, or a backslash escape (never crosses a newline).
export const STR_BODY = String.raw`(?:[^"\\]|\\[^\n])*`;
const STR = `"${STR_BODY}"`;
// One character outside strings and objects (punctuation, numbers, true/false/null, [ ] , : spaces).
const CH = String.raw`[^{}"]`;
// Objects nested up to three levels deep, skipped whole, strings inside them as units.
const OBJ1 = String.raw`\{(?:${CH}|${STR})*\}`;
const OBJ2 = String.raw`\{(?:${CH}|${STR}|${OBJ1})*\}`;
const OBJ3 = String.raw`\{(?:${CH}|${STR}|${OBJ2})*\}`;
// Skip members of the current object, lazily, never entering a nested object or leaving this one:
// the key that follows can only be a key of *this* object.
const SKIP = `(?:${CH}|${STR}|${OBJ3})*?`;
// Optional syslog header (RFC 3164 or RFC 5424, with or without PRI/app-name): anything up to the
// first `{`, which opens the JSON body. \A pins the match to the start of the line, so a line is
// scanned once.
const HEAD = String.raw`\A[^{]*\{`;
const WS = '[ \\t]*';
const key = (k) => `"${k}"${WS}:${WS}`;
const ISO = String.raw`[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:?[0-9]{2})?`;

/** value shapes: a string (null leaves the capture unset), a number (quoted or not), an ISO time */
const VALUE = {
  string: (name) => `(?:null|"(?<${name}>${STR_BODY})")`,
  number: (name) => `"?(?<${name}>-?[0-9]+(?:\\.[0-9]+)?)"?`,
  time: (name) => `"(?<${name}>${ISO})"`,
};

/**
 * Build a field pattern from a key path. The last path element may be a list of alternative key names
 * (the first one present, in line order, wins).
 */
export function fieldPattern(name, path, shape) {
  let p = HEAD;
  path.forEach((k, i) => {
    const last = i === path.length - 1;
    const keyRe = Array.isArray(k) ? `"(?:${k.join('|')})"${WS}:${WS}` : key(k);
    p += SKIP + keyRe + (last ? VALUE[shape](name) : '\\{');
  });
  return p;
}

/** Robust fields per log: [capture name, key path in the Duo event, value shape]. */
export const ROBUST_FIELDS = {
  authentication: [
    ['time', ['isotimestamp'], 'time'],
    ['user', ['user', 'name'], 'string'],
    ['email', ['email'], 'string'],
    ['result', ['result'], 'string'],
    ['reason', ['reason'], 'string'],
    ['factor', ['factor'], 'string'],
    ['event_type', ['event_type'], 'string'],
    ['application', ['application', 'name'], 'string'],
    ['access_ip', ['access_device', 'ip'], 'string'],
    ['access_city', ['access_device', 'location', 'city'], 'string'],
    ['access_state', ['access_device', 'location', 'state'], 'string'],
    ['access_country', ['access_device', 'location', 'country'], 'string'],
    ['auth_device', ['auth_device', 'name'], 'string'],
    ['auth_device_ip', ['auth_device', 'ip'], 'string'],
    ['txid', ['txid'], 'string'],
    ['eventtype', ['eventtype'], 'string'],
  ],
  administrator: [
    ['time', ['isotimestamp'], 'time'],
    ['action', ['action'], 'string'],
    ['object', ['object'], 'string'],
    ['username', ['username'], 'string'],
    ['description', ['description'], 'string'],
    ['eventtype', ['eventtype'], 'string'],
  ],
  telephony: [
    // v1 has isotimestamp; v2 has ts (the bridge also copies ts into isotimestamp)
    ['time', [['isotimestamp', 'ts']], 'time'],
    ['context', ['context'], 'string'],
    ['type', ['type'], 'string'],
    ['phone', ['phone'], 'string'],
    ['credits', ['credits'], 'number'],
    ['txid', ['txid'], 'string'],
    ['eventtype', ['eventtype'], 'string'],
  ],
};

export const LOGS = ['authentication', 'administrator', 'telephony'];

/** Every robust pattern: { id, log, field, path, shape, source } with `source` in the portable dialect. */
export const ROBUST = LOGS.flatMap((log) =>
  ROBUST_FIELDS[log].map(([field, path, shape]) => ({
    id: `${log}.${field}`,
    log,
    field,
    path: path.map((k) => (Array.isArray(k) ? k.join('|') : k)).join('.'),
    shape,
    source: fieldPattern(field, path, shape),
  })),
);
