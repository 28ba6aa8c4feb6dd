import t from 'tap';
import { encodeSyslog, facilityCode, frame, headerField, rfc3164Time, rfc5424Time, severityCode } from '../../src/format/syslog.js';

const T = 1581620180351346; // 2020-02-13T18:56:20.351346Z, in µs

t.test('RFC 5424 timestamp keeps the event time to the microsecond, in UTC', async (t) => {
  t.equal(rfc5424Time(T), '2020-02-13T18:56:20.351346Z');
  t.equal(rfc5424Time(1581620180000000), '2020-02-13T18:56:20.000000Z');
  t.equal(rfc5424Time(1581620180000001), '2020-02-13T18:56:20.000001Z');
  t.equal(rfc5424Time(Date.UTC(2024, 1, 29, 23, 59, 59, 999) * 1000 + 999), '2024-02-29T23:59:59.999999Z');
});

t.test('RFC 3164 timestamp: Mmm, space-padded day, UTC unless local is asked for', async (t) => {
  t.equal(rfc3164Time(T), 'Feb 13 18:56:20');
  t.equal(rfc3164Time(Date.UTC(2020, 2, 3, 4, 5, 6) * 1000), 'Mar  3 04:05:06');
  const d = new Date(Math.floor(T / 1000));
  const local = `${['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
  t.equal(rfc3164Time(T, 'local'), local);
});

t.test('RFC 5424 message: PRI, version, event time, host, app, procid, msgid = log type, no SD, no BOM', async (t) => {
  const m = encodeSyslog({ format: 'rfc5424', facility: 4, severity: 6, hostname: 'bridge01', appName: 'duo-log-bridge', procId: '4242' }, T, 'authentication', '{"a":1}');
  t.equal(m, '<38>1 2020-02-13T18:56:20.351346Z bridge01 duo-log-bridge 4242 authentication - {"a":1}');
  const local7debug = encodeSyslog({ format: 'rfc5424', facility: 23, severity: 7, hostname: '', appName: 'x' }, T, '', 'm');
  t.equal(local7debug, '<191>1 2020-02-13T18:56:20.351346Z - x - - - m', 'empty fields become NILVALUE');
  t.notOk(Buffer.from(m).includes(Buffer.from([0xef, 0xbb, 0xbf])), 'no BOM');
});

t.test('RFC 3164 message: PRI, event time, host, tag[pid]: msg', async (t) => {
  const m = encodeSyslog({ format: 'rfc3164', facility: 16, severity: 5, hostname: 'bridge01', appName: 'duo-log-bridge', procId: '4242' }, T, 'telephony', 'hello');
  t.equal(m, '<133>Feb 13 18:56:20 bridge01 duo-log-bridge[4242]: hello');
  const noPid = encodeSyslog({ format: 'rfc3164', facility: 1, severity: 6, hostname: 'h', appName: 'app' }, T, 'x', 'y');
  t.equal(noPid, '<14>Feb 13 18:56:20 h app: y');
  const long = encodeSyslog({ format: 'rfc3164', facility: 1, severity: 6, hostname: 'h', appName: 'a'.repeat(40), procId: '123' }, T, 'x', 'y');
  t.match(long, /^<14>Feb 13 18:56:20 h a{27}\[123\]: y$/, 'tag[pid] stays within 32 characters');
});

t.test('header fields are printable ASCII without spaces, bounded', async (t) => {
  t.equal(headerField('my host', 255), 'my_host');
  t.equal(headerField('hé', 255), 'h_');
  t.equal(headerField('x'.repeat(300), 255).length, 255);
  t.equal(headerField(undefined, 10), '-');
  const m = encodeSyslog({ format: 'rfc5424', facility: 4, severity: 6, hostname: 'a b', appName: 'duo log', procId: '1' }, T, 'offline enrollment', 'm');
  t.equal(m.split(' ').length, 8, 'exactly the 7 header fields then the message');
});

t.test('facility and severity by name or number', async (t) => {
  t.equal(facilityCode('auth'), 4);
  t.equal(facilityCode('AUTHPRIV'), 10);
  t.equal(facilityCode('local7'), 23);
  t.equal(facilityCode(16), 16);
  t.equal(facilityCode('16'), 16);
  t.equal(facilityCode('24'), undefined);
  t.equal(facilityCode('nope'), undefined);
  t.equal(severityCode('warning'), 4);
  t.equal(severityCode('info'), 6);
  t.equal(severityCode(0), 0);
  t.equal(severityCode(8), undefined);
});

t.test('octet counting counts bytes, not characters; LF framing refuses a raw LF', async (t) => {
  const msg = '<38>1 - h a - - - {"city":"Zürich ✓"}';
  const f = frame(msg, 'octet-counting');
  const len = Buffer.byteLength(msg);
  t.not(len, msg.length, 'the sample has multi-byte characters');
  t.equal(f.toString('utf8'), `${len} ${msg}`);
  t.equal(frame('abc', 'lf').toString(), 'abc\n');
  t.throws(() => frame('a\nb', 'lf'), /octet-counting/);
  t.equal(frame('a\nb', 'octet-counting').toString(), '3 a\nb');
});

t.test('format none: the message alone, as duo_log_sync sends it, framed as configured', async (t) => {
  const m = encodeSyslog({ format: 'none', facility: 4, severity: 6, hostname: 'bridge01', appName: 'duo-log-bridge' }, 1_700_000_000_000_000, 'authentication', '{"a":1}');
  t.equal(m, '{"a":1}');
  t.equal(frame(m, 'lf').toString(), '{"a":1}\n');
  t.equal(frame(m, 'octet-counting').toString(), '7 {"a":1}');
});
