/**
 * The bytes the worker puts on the wire, read back with the codec by a listener that only
 * records them: CAN_DO_TIMEOUT must carry decimal milliseconds as text (gearmand's format),
 * not a binary integer as some other Node clients send.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { Worker } from '../../src/index.js';
import { Decoder, packetName, type Packet } from '../../src/protocol/index.js';
import { eventually } from '../helpers/lib-servers.js';

describe('Worker wire format', () => {
  it('sends SET_CLIENT_ID, CAN_DO, CAN_DO_TIMEOUT in decimal ms, then GRAB_JOB_UNIQ', async () => {
    const received: Packet[] = [];
    const sockets: Socket[] = [];
    const listener = createServer((socket) => {
      sockets.push(socket);
      const decoder = new Decoder({
        packet: (p) => received.push({ ...p, args: p.args.map((a) => Buffer.from(a)) }),
        text: () => undefined,
      });
      socket.on('data', (d: Buffer) => decoder.push(d));
      socket.on('error', () => undefined);
    });
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const address = listener.address();
    assert.ok(address !== null && typeof address === 'object');
    const worker = new Worker({ servers: `127.0.0.1:${address.port}`, clientId: 'wire-test' });
    worker.register('plain', () => 'x');
    worker.register('timed', () => 'x', { timeout: 2500 });
    try {
      await worker.start();
      await eventually(() => received.length >= 4, 3000, 'four packets');
      const seen = received.map((p) => [packetName(p.type), ...p.args.map((a) => a.toString())]);
      assert.deepEqual(seen.slice(0, 4), [
        ['SET_CLIENT_ID', 'wire-test'],
        ['CAN_DO', 'plain'],
        // our own timeout plus one second of grace, as ASCII digits
        ['CAN_DO_TIMEOUT', 'timed', '3500'],
        ['GRAB_JOB_UNIQ'],
      ]);
      assert.equal(received[0]?.magic, 'REQ');
    } finally {
      await worker.stop({ timeout: 100 });
      for (const s of sockets) s.destroy();
      listener.close();
    }
  });
});
