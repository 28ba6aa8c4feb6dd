/**
 * The test receiver itself: every event mode a forward client may send, both EventTime wire
 * forms, integer times, and acks echoing the chunk id byte for byte. Clients: @fluent-org/logger
 * in each of its modes, and hand-written msgpack frames on a raw socket.
 */
import t from 'tap';
import net from 'node:net';
import { FluentClient, EventTime } from '@fluent-org/logger';
// Test-only import of @fluent-org/logger's own msgpack dependency (see forward-receiver.ts).
import { Decoder, Encoder } from '@msgpack/msgpack';
import { ForwardReceiver } from '../helpers/forward-receiver.js';

for (const mode of ['Message', 'Forward', 'PackedForward', 'CompressedPackedForward'] as const) {
  t.test(`${mode} mode from @fluent-org/logger, acked`, async (t) => {
    const rx = await ForwardReceiver.start();
    t.teardown(() => rx.close());
    const client = new FluentClient(null, { eventMode: mode, socket: { host: '127.0.0.1', port: rx.port, disableReconnect: true }, ack: { ackTimeout: 10_000 }, disableAutoconnect: true });
    t.teardown(() => client.shutdown().catch(() => {}));
    await client.connect();
    await Promise.all([client.emit('duo.x', { a: 1, s: 'é' }, new EventTime(1_700_000_000, 123_456_789)), client.emit('duo.x', { b: [1, null] }, new EventTime(1_700_000_001, 0))]);
    t.equal(rx.acked.get('duo.x'), 2);
    t.same(
      rx.eventsFor('duo.x').map((e) => [e.mode, e.time, e.record]),
      [
        [mode, { sec: 1_700_000_000, nsec: 123_456_789 }, { a: 1, s: 'é' }],
        [mode, { sec: 1_700_000_001, nsec: 0 }, { b: [1, null] }],
      ],
    );
    t.same(rx.errors, []);
  });
}

t.test('raw frames: ext8 EventTime, integer time, heartbeat nil, unacked message, exact chunk echo', async (t) => {
  const rx = await ForwardReceiver.start();
  t.teardown(() => rx.close());
  const sock = net.connect(rx.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  t.teardown(() => sock.destroy());
  const replies: unknown[] = [];
  void (async () => {
    for await (const m of new Decoder().decodeStream(sock)) replies.push(m);
  })().catch(() => {});
  const enc = new Encoder();
  // Entry with EventTime in the ext8 form: c7 08 00 <sec> <nsec>.
  const ext8 = Buffer.from([0xc7, 0x08, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x05]);
  const entryExt8 = Buffer.concat([Buffer.from([0x92]), ext8, Buffer.from(enc.encode({ k: 'v' }))]);
  const entryInt = Buffer.from(enc.encode([1_700_000_000, { k: 'int' }]));
  const chunk = 'VESFkVa4eEpn+/hwFcOpLw==\n'; // Fluentd's own out_forward ids end with a newline
  sock.write(Buffer.from(enc.encode(null)));
  sock.write(Buffer.from(enc.encode(['raw.tag', Buffer.concat([entryExt8, entryInt]), { size: 2, chunk }])));
  sock.write(Buffer.from(enc.encode(['raw.noack', 1_700_000_002, { k: 'no chunk' }])));
  await rx.waitFor(() => (rx.received.get('raw.noack') ?? 0) === 1, 10_000, 'both messages');
  await new Promise((r) => setTimeout(r, 50));
  t.same(replies, [{ ack: chunk }], 'one ack, the chunk id echoed exactly; nothing for the message without chunk');
  t.same(
    rx.events.map((e) => [e.tag, e.time, e.intTime, e.record]),
    [
      ['raw.tag', { sec: 0x6553f100, nsec: 5 }, false, { k: 'v' }],
      ['raw.tag', { sec: 1_700_000_000, nsec: 0 }, true, { k: 'int' }],
      ['raw.noack', { sec: 1_700_000_002, nsec: 0 }, true, { k: 'no chunk' }],
    ],
  );
  t.same(rx.errors, []);
});

t.test('misbehaviour switches', async (t) => {
  const rx = await ForwardReceiver.start();
  t.teardown(() => rx.close());
  const client = (ackTimeout = 30_000) => {
    const c = new FluentClient(null, { socket: { host: '127.0.0.1', port: rx.port, disableReconnect: true }, ack: { ackTimeout }, disableAutoconnect: true });
    t.teardown(() => c.shutdown().catch(() => {}));
    return c;
  };
  rx.neverAck = true;
  const a = client(300);
  await a.connect();
  await t.rejects(a.emit('never', { x: 1 }), { name: 'AckTimeoutError' }, 'never ack');
  t.equal(rx.received.get('never'), 1);
  rx.neverAck = false;

  const port = rx.port;
  await rx.stop();
  t.equal(rx.listening, false);
  await t.rejects(client().connect(), { code: 'ECONNREFUSED' }, 'refused while stopped');
  await rx.listen(port);
  const b = client();
  await b.connect();
  await b.emit('back', { x: 2 });
  t.equal(rx.acked.get('back'), 1, 'same port after listening again');
});
