/**
 * Deterministic Duo events for the simulator. Event i of a log is a pure function of
 * (seed, log, i); only the timestamps are stored (8 bytes each), bodies are built on demand.
 * Timestamps are non-decreasing and include bursts: runs of events sharing one millisecond
 * (v2 logs) or one second (v1 logs) that straddle page boundaries.
 */
export type SimLog = 'authentication' | 'administrator' | 'telephony' | 'activity' | 'trust_monitor' | 'offline_enrollment' | 'telephony_v1';

/** Logs whose times are whole seconds (Duo's v1 list endpoints). */
export const SECONDS_LOGS: ReadonlySet<SimLog> = new Set(['administrator', 'offline_enrollment', 'telephony_v1']);

export interface Timeline {
  /** µs since epoch, non-decreasing. */
  times: Float64Array;
}

/** A small seeded PRNG: deterministic timelines (and chaos scenarios). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash32(seed: number, i: number): number {
  let h = (seed ^ Math.imul(i + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * `count` events between startMs and endMs. Every 4000 events, one burst: for ms logs 1500
 * events in one millisecond (more than a page); for the seconds log 600 events in one second.
 * Elsewhere, pairs and triples share a millisecond now and then.
 */
export function buildTimeline(log: SimLog, count: number, startMs: number, endMs: number, seed: number): Timeline {
  const times = new Float64Array(count);
  const rnd = mulberry32(seed ^ log.length * 7919);
  const seconds = SECONDS_LOGS.has(log);
  const burstLen = seconds ? 600 : 1500;
  const burstAt = 1234;
  let bursts = 0;
  for (let i = 1; i < count; i++) if (i % 4000 > burstAt && i % 4000 < burstAt + burstLen) bursts++;
  const plain = Math.max(1, count - bursts);
  const stepUs = Math.max(1, ((endMs - startMs) * 1000) / plain);
  let t = startMs * 1000;
  for (let i = 0; i < count; i++) {
    const inBlock = i % 4000;
    if (inBlock > burstAt && inBlock < burstAt + burstLen && i > 0) {
      // Inside a burst: same ms (or second), µs spread inside it but never decreasing.
      const k = inBlock - burstAt;
      if (seconds) times[i] = times[i - 1]!;
      else times[i] = Math.floor(times[i - 1]! / 1000) * 1000 + Math.floor((k * 999) / burstLen);
      t = times[i]!;
      continue;
    }
    const r = rnd();
    t += r < 0.1 ? 0 : stepUs * (0.5 + rnd());
    t = Math.min(t, endMs * 1000);
    times[i] = seconds ? Math.floor(t / 1e6) * 1e6 : Math.floor(t);
    if (i > 0 && times[i]! < times[i - 1]!) times[i] = times[i - 1]!;
  }
  return { times };
}

/** First index whose time is >= us (binary search). */
export function lowerBound(times: Float64Array, us: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < us) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose time is > us. */
export function upperBound(times: Float64Array, us: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= us) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** UUID-shaped id that encodes the index, so a `next_offset` leads straight back to its row. */
export function indexId(seed: number, i: number): string {
  const a = hash32(seed, i).toString(16).padStart(8, '0');
  const b = hash32(seed + 1, i).toString(16).padStart(8, '0');
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-8${a.slice(1, 4)}-${i.toString(16).padStart(12, '0')}`;
}

export function idIndex(id: string): number {
  const m = /-([0-9a-f]{12})$/.exec(id);
  return m ? parseInt(m[1]!, 16) : -1;
}

export function isoMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const d = new Date(ms).toISOString().slice(0, 19);
  return `${d}.${String(us % 1_000_000).padStart(6, '0')}+00:00`;
}

const CITIES: [string | null, string | null, string | null][] = [
  ['Ann Arbor', 'United States', 'Michigan'],
  ['Berlin', 'Germany', 'Land Berlin'],
  ['São Paulo', 'Brazil', 'São Paulo'],
  [null, null, null],
  ['Tokyo', 'Japan', 'Tokyo'],
];
const APPS = ['Microsoft Azure Active Directory', 'Cisco ASA VPN', 'Okta "Prod" SSO', 'Acme, Inc. Portal', 'Linux SSH'];
const FACTORS = ['duo_push', 'phone_call', 'passcode', 'sms_passcode', 'hardware_token', 'webauthn_credential'];
const RESULTS: [string, string][] = [
  ['success', 'user_approved'],
  ['success', 'trusted_network'],
  ['denied', 'user_marked_fraud'],
  ['denied', 'invalid_passcode'],
  ['failure', 'error'],
];
const USERS = ['narroway', 'jsmith', 'amanda.tucker', 'o\'brien', 'zoë.müller'];

function ipFor(h: number): string {
  switch (h % 5) {
    case 0:
      return `2a02:c7f:${(h >>> 8) & 0xffff}::${h & 0xff}`;
    case 1:
      return `89.160.${(h >>> 8) & 0xff}.${h & 0xff}:1234`;
    default:
      return `${10 + (h % 200)}.${(h >>> 8) & 0xff}.${(h >>> 16) & 0xff}.${(h >>> 24) & 0xff}`;
  }
}

export function authEvent(seed: number, i: number, us: number): Record<string, unknown> {
  const h = hash32(seed, i);
  const [city, country, state] = CITIES[h % CITIES.length]!;
  const [result, reason] = RESULTS[(h >>> 3) % RESULTS.length]!;
  const user = USERS[(h >>> 5) % USERS.length]!;
  const loc = { city, country, state };
  return {
    access_device: {
      browser: h % 7 === 0 ? null : 'Chrome',
      browser_version: '67.0.3396.99',
      epkey: h % 3 === 0 ? null : `EP${(h % 1e8).toString().padStart(18, '0')}`,
      flash_version: 'uninstalled',
      hostname: h % 4 === 0 ? null : `host-${h % 97}.corp.example`,
      ip: ipFor(h),
      is_encryption_enabled: h % 6 === 0 ? 'unknown' : true,
      is_firewall_enabled: true,
      is_password_set: true,
      java_version: 'uninstalled',
      location: loc,
      os: 'Mac OS X',
      os_version: '10.14.1',
      security_agents: h % 5 === 0 ? [{ security_agent: 'cisco-amp', version: '1' }] : [],
    },
    alias: '',
    application: { key: `DI${(h % 1e9).toString().padStart(18, '0')}`, name: APPS[(h >>> 7) % APPS.length] },
    auth_device: { ip: h % 9 === 0 ? null : '192.168.225.254', location: loc, name: `My iPhone X (734-555-${(h % 10000).toString().padStart(4, '0')})` },
    email: h % 11 === 0 ? '' : `${user}@example.com`,
    event_type: h % 13 === 0 ? 'enrollment' : 'authentication',
    factor: FACTORS[(h >>> 9) % FACTORS.length],
    isotimestamp: isoMicros(us),
    ood_software: null,
    reason,
    result,
    timestamp: Math.floor(us / 1e6),
    trusted_endpoint_status: 'not trusted',
    txid: indexId(seed, i),
    user: { groups: h % 8 === 0 ? [] : ['Duo Users', 'CorpHQ Users'], key: `DU${(h % 1e9).toString().padStart(18, '0')}`, name: `${user}@example.com` },
  };
}

const ADMIN_ACTIONS = ['user_update', 'admin_login', 'integration_create', 'policy_update', 'user_delete'];

export function adminEvent(seed: number, i: number, us: number): Record<string, unknown> {
  // Every 50th row repeats its predecessor's content: inside a one-second burst that makes two
  // byte-identical rows, which Duo can send (administrator rows carry no id).
  if (i % 50 === 49) return adminEvent(seed, i - 1, us);
  const h = hash32(seed, i);
  const sec = Math.floor(us / 1e6);
  const uniq = i;
  const desc =
    h % 10 === 0
      ? null
      : JSON.stringify({ notes: `Change #${uniq}: "nickname" requested`, realname: 'Joe Smith', email: `j${uniq}@example.com` }).replace(/,/g, ', ').replace(/":/g, '": ');
  return {
    action: ADMIN_ACTIONS[h % ADMIN_ACTIONS.length],
    description: desc,
    isotimestamp: new Date(sec * 1000).toISOString().slice(0, 19) + '+00:00',
    object: h % 7 === 0 ? null : `user${uniq}`,
    timestamp: sec,
    username: h % 9 === 0 ? '' : 'admin',
  };
}

export function telephonyEvent(seed: number, i: number, us: number): Record<string, unknown> {
  const h = hash32(seed, i);
  return {
    context: ['authentication', 'enrollment', 'administrator login'][h % 3],
    credits: (h % 4) + 1,
    phone: `+1734555${(h % 10000).toString().padStart(4, '0')}`,
    telephony_id: indexId(seed, i),
    ts: isoMicros(us),
    txid: indexId(seed + 7, i),
    type: h % 2 ? 'sms' : 'phone',
  };
}

export function activityEvent(seed: number, i: number, us: number): Record<string, unknown> {
  const h = hash32(seed, i);
  const action = h % 3 === 0 ? 'phone_create' : { details: h % 2 ? null : '{"factor":"duo_push"}', name: ['webauthncredential_create', 'user_update', 'admin_login'][h % 3] };
  return {
    access_device: { browser: 'Chrome', browser_version: '111.0.0.0', epkey: null, ip: { address: ipFor(h) }, location: { city: 'Ann Arbor', country: 'United States', state: 'Michigan' }, os: 'Mac OS X', os_version: '10.15.7' },
    action,
    activity_id: indexId(seed, i),
    actor: { details: JSON.stringify({ status: 'Active', groups: [{ name: 'CorpHQ_Users' }] }), key: `DU${h % 100000}`, name: USERS[h % USERS.length], type: 'user' },
    akey: 'DAAR5FO0OZ4VYZA0WOB2',
    application: { key: 'DILSVDEYH66TBHKIXGR9', name: APPS[h % APPS.length], type: 'websdk' },
    old_target: null,
    outcome: { result: h % 4 ? 'SUCCESS' : 'FAILURE' },
    target: { details: null, key: `WA${h % 1000}`, name: `target ${i}`, type: 'webauthn_credential' },
    ts: isoMicros(us),
  };
}

export function trustMonitorEvent(seed: number, i: number, us: number): Record<string, unknown> {
  const h = hash32(seed, i);
  const ms = Math.floor(us / 1000);
  const sekey = `SE${indexId(seed, i).replace(/-/g, '').toUpperCase().slice(0, 18)}${i.toString(36)}`;
  if (h % 3 === 0)
    return { bypass_status_enabled: ms - 5000, enabled_by: { key: 'DE1', name: 'admin' }, enabled_for: { key: 'DU2', name: USERS[h % USERS.length] }, priority_event: false, priority_reasons: [], sekey, state: 'new', state_updated_timestamp: null, surfaced_timestamp: ms, triaged_as_interesting: false, type: 'bypass_status' };
  return {
    explanations: [{ summary: `${USERS[h % USERS.length]} has not logged in from this location recently.`, type: 'NEW_COUNTRY_CODE' }],
    from_common_netblock: true,
    from_new_user: false,
    low_risk_ip: false,
    priority_event: h % 2 === 0,
    priority_reasons: [{ label: 'CN', type: 'country' }],
    sekey,
    state: 'new',
    state_updated_timestamp: null,
    surfaced_auth: authEvent(seed, i, us),
    surfaced_timestamp: ms,
    triaged_as_interesting: false,
    type: 'auth',
  };
}

export function offlineEnrollmentEvent(seed: number, i: number, us: number): Record<string, unknown> {
  const h = hash32(seed, i);
  const sec = Math.floor(us / 1e6);
  return {
    action: ['o2fa_user_provisioned', 'o2fa_user_deprovisioned', 'o2fa_user_reenrolled'][h % 3],
    description: JSON.stringify({ user_agent: 'DuoCredProv/4.0.6.413 (Windows NT 6.3.9600; x64; Server)', hostname: `WKS${i}`, factor: 'duo_otp' }).replace(/,/g, ', ').replace(/":/g, '": '),
    isotimestamp: new Date(sec * 1000).toISOString().slice(0, 19) + '+00:00',
    object: 'Acme Laptop Windows Logon',
    timestamp: sec,
    username: USERS[h % USERS.length],
  };
}

export function telephonyV1Event(seed: number, i: number, us: number): Record<string, unknown> {
  const h = hash32(seed, i);
  const sec = Math.floor(us / 1e6);
  return { context: 'authentication', credits: (h % 3) + 1, isotimestamp: new Date(sec * 1000).toISOString().slice(0, 19) + '+00:00', phone: `+1503555${(i % 10000).toString().padStart(4, '0')}`, timestamp: sec, type: h % 2 ? 'sms' : 'phone' };
}

export const EVENT_BUILDERS: Record<SimLog, (seed: number, i: number, us: number) => Record<string, unknown>> = {
  authentication: authEvent,
  administrator: adminEvent,
  telephony: telephonyEvent,
  activity: activityEvent,
  trust_monitor: trustMonitorEvent,
  offline_enrollment: offlineEnrollmentEvent,
  telephony_v1: telephonyV1Event,
};
