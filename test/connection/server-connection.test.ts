import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { ServerConnection } from '../../src/connection/server-connection.js';
import { ConnectionError } from '../../src/connection/errors.js';
import { request } from '../../src/protocol/encoder.js';
import { PacketType, type Packet } from '../../src/protocol/index.js';
import { freePort } from '../helpers/processes.js';
import { eventually } from '../helpers/lib-servers.js';

/** A plain TCP listener that counts connections and can write raw bytes to them. */
async function listen(port = 0): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { server, port: address.port, sockets };
}

async function shut(server: Server, sockets: Socket[]): Promise<void> {
  for (const s of sockets) s.destroy();
  server.close();
  await once(server, 'close');
}

describe('ServerConnection', () => {
  it('shares one connect promise between callers and decodes what arrives', async () => {
    const peer = await listen();
    const packets: Packet[] = [];
    const conn = new ServerConnection(
      { host: '127.0.0.1', port: peer.port },
      {
        onPacket: (p) => packets.push(p),
      },
    );
    try {
      const a = conn.connect();
      const b = conn.connect();
      assert.equal(a, b);
      await a;
      assert.equal(conn.status, 'connected');
      await eventually(() => peer.sockets.length === 1, 2000, 'accepted');
      // A response split in two chunks still arrives as one packet.
      const bytes = request(PacketType.ECHO_RES, 'hello');
      bytes[3] = 0x53; // \0RES
      peer.sockets[0]?.write(bytes.subarray(0, 5));
      await new Promise((r) => setTimeout(r, 20));
      peer.sockets[0]?.write(bytes.subarray(5));
      await eventually(() => packets.length === 1, 2000, 'packet');
      assert.equal(packets[0]?.args[0]?.toString(), 'hello');
    } finally {
      await conn.close();
      await shut(peer.server, peer.sockets);
    }
  });

  it('fails fast with CONNECT_FAILED and marks the server down for a while', async () => {
    const port = await freePort();
    const conn = new ServerConnection(
      { host: '127.0.0.1', port },
      { onPacket: () => undefined },
      { backoff: { initialDelay: 5000, jitter: 0 } },
    );
    await assert.rejects(conn.connect(), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.code, 'CONNECT_FAILED');
      assert.equal(e.server, `127.0.0.1:${port}`);
      return true;
    });
    assert.equal(conn.isDown, true);
    assert.equal(conn.status, 'idle');
    await conn.close();
    await assert.rejects(conn.connect(), /closed/);
  });

  it('reconnects with backoff after a loss and reports the loss', async () => {
    const first = await listen();
    const port = first.port;
    const events: string[] = [];
    const conn = new ServerConnection(
      { host: '127.0.0.1', port },
      {
        onConnect: () => events.push('connect'),
        onPacket: () => undefined,
        onDisconnect: (e) => events.push(`lost:${e.code}`),
      },
      { reconnect: true, backoff: { initialDelay: 20, maxDelay: 50 } },
    );
    await conn.connect();
    await eventually(() => first.sockets.length === 1, 2000, 'accepted');
    await shut(first.server, first.sockets);
    await eventually(() => events.includes('lost:CONNECTION_LOST'), 2000, 'loss seen');
    const second = await listen(port);
    try {
      await eventually(() => conn.isConnected, 3000, 'reconnected');
      assert.deepEqual(events, ['connect', 'lost:CONNECTION_LOST', 'connect']);
    } finally {
      await conn.close();
      await shut(second.server, second.sockets);
    }
  });

  it('close() cancels a pending reconnect delay', async () => {
    const port = await freePort();
    let attempts = 0;
    const conn = new ServerConnection(
      { host: '127.0.0.1', port },
      { onPacket: () => undefined },
      { reconnect: true, backoff: { initialDelay: 200, maxDelay: 200, jitter: 0 } },
    );
    await conn.connect().catch(() => attempts++);
    assert.equal(conn.status, 'waiting');
    await conn.close();
    assert.equal(conn.status, 'closed');
    // Nothing listens; had the timer fired, the status would have left 'closed'.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(conn.status, 'closed');
    assert.equal(attempts, 1);
  });

  it('gives up after maxReconnectAttempts', async () => {
    const port = await freePort();
    const conn = new ServerConnection(
      { host: '127.0.0.1', port },
      { onPacket: () => undefined },
      { reconnect: true, maxReconnectAttempts: 2, backoff: { initialDelay: 10, maxDelay: 10 } },
    );
    await conn.connect().catch(() => undefined);
    await eventually(() => conn.status === 'idle', 2000, 'gave up');
    await conn.close();
  });

  it('drops a server that breaks the framing, with PROTOCOL_ERROR', async () => {
    const peer = await listen();
    const errors: ConnectionError[] = [];
    const conn = new ServerConnection(
      { host: '127.0.0.1', port: peer.port },
      {
        onPacket: () => undefined,
        onDisconnect: (e) => errors.push(e),
      },
    );
    try {
      await conn.connect();
      await eventually(() => peer.sockets.length === 1, 2000, 'accepted');
      peer.sockets[0]?.write(Buffer.from([0, 0x52, 0x45, 0x53, 0, 0, 0, 99, 0, 0, 0, 0]));
      await eventually(() => errors.length === 1, 2000, 'dropped');
      assert.equal(errors[0]?.code, 'PROTOCOL_ERROR');
      assert.equal(conn.isConnected, false);
    } finally {
      await conn.close();
      await shut(peer.server, peer.sockets);
    }
  });
});
