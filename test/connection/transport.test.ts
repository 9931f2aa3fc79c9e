/**
 * The client side's transport seam: Client, Worker and AdminClient open their streams through
 * a `Transport`, and connecting, timeouts, reconnecting and failover work the same over any.
 * The far end here is a real server fed in process (its `NetServer.handle`), so no socket is
 * involved at all.
 */
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { AdminClient } from '../../src/admin/admin-client.js';
import { Client } from '../../src/client/client.js';
import { ConnectionError } from '../../src/connection/errors.js';
import { ServerConnection } from '../../src/connection/server-connection.js';
import { tcpTransport, type Transport } from '../../src/connection/transport.js';
import { startServer } from '../../src/server/start-server.js';
import { Worker } from '../../src/worker/worker.js';
import { InProcessListener } from '../helpers/in-process-listener.js';
import { eventually } from '../helpers/lib-servers.js';

async function inProcessServer() {
  const listener = new InProcessListener();
  const server = await startServer({ logFile: 'none' }, { listeners: [listener] });
  return { server, listener };
}

describe('Transport', () => {
  it('carries a Client, a Worker and an AdminClient to the server', async () => {
    const { server, listener } = await inProcessServer();
    const transport = listener.transport({ address: '192.0.2.10' });
    // The address names no real host: only the transport decides where a stream goes.
    const servers = 'unreachable.invalid:4730';
    const worker = new Worker({ servers, transport, clientId: 'piped-worker' });
    const client = new Client({ servers, transport });
    const admin = new AdminClient({ server: servers, transport });
    try {
      worker.register('reverse', (job) => job.text().split('').reverse().join(''));
      await worker.start();
      assert.equal((await client.run('reverse', 'transport')).text(), 'tropsnart');
      const workers = await admin.workers();
      const row = workers.find((w) => w.clientId === 'piped-worker');
      assert.equal(row?.ip, '192.0.2.10');
      assert.deepEqual(row?.functions, ['reverse']);
      assert.equal(transport.opens, 3, 'one stream each');
    } finally {
      await admin.close();
      await client.close();
      await worker.stop();
      await server.close();
    }
  });

  it('a worker reconnects through its transport after the server drops its stream', async () => {
    const { server, listener } = await inProcessServer();
    const transport = listener.transport();
    const worker = new Worker({
      servers: 'in-process',
      transport,
      backoff: { initialDelay: 10, maxDelay: 50 },
    });
    const client = new Client({ servers: 'in-process', transport });
    const events: string[] = [];
    worker.on('connect', () => events.push('connect'));
    worker.on('disconnect', () => events.push('disconnect'));
    try {
      worker.register('twice', (job) => job.text() + job.text());
      await worker.start();
      assert.equal((await client.run('twice', 'a')).text(), 'aa');
      listener.serverEnds[0]?.destroy();
      await eventually(() => events.length === 3, 3000, 'lost and reconnected');
      assert.deepEqual(events, ['connect', 'disconnect', 'connect']);
      assert.equal((await client.run('twice', 'b')).text(), 'bb');
      assert.equal(transport.opens, 3, 'the worker twice, the client once');
    } finally {
      await client.close();
      await worker.stop();
      await server.close();
    }
  });

  it("a transport's refusal is CONNECT_FAILED with its reason, and the client fails over", async () => {
    const { server, listener } = await inProcessServer();
    const inProcess = listener.transport();
    const transport: Transport = {
      open: (address, options) =>
        address.host === 'down'
          ? Promise.reject(new Error('tunnel refused'))
          : inProcess.open(address, options),
    };
    const client = new Client({ servers: 'down:1,up:2', transport, selection: 'round-robin' });
    try {
      for (let i = 0; i < 4; i++) assert.equal((await client.echo(`e${i}`)).toString(), `e${i}`);
      const only = new Client({ servers: 'down:1', transport });
      await assert.rejects(only.echo('x'), (e: unknown) => {
        assert.ok(e instanceof ConnectionError);
        assert.equal(e.code, 'NO_SERVER_AVAILABLE');
        assert.match(e.message, /cannot connect to down:1: tunnel refused/);
        return true;
      });
      await only.close();
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('the connect timeout aborts a transport that never answers', async () => {
    let aborted: unknown;
    const silent: Transport = {
      open: (_address, { signal }) =>
        new Promise<Duplex>((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted = signal.reason;
            reject(signal.reason as Error);
          });
        }),
    };
    const conn = new ServerConnection(
      { host: 'slow', port: 1 },
      { onPacket: () => undefined },
      { transport: silent, connectTimeout: 50 },
    );
    await assert.rejects(conn.connect(), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.code, 'CONNECT_FAILED');
      assert.equal(e.message, 'cannot connect to slow:1: no answer within 50 ms');
      return true;
    });
    assert.ok(aborted instanceof Error, 'the transport was told to give up');
    assert.equal(conn.isDown, true);
    await conn.close();
  });

  it('close() during an attempt aborts the transport and rejects with CLOSED', async () => {
    let signalled = false;
    const pending: Transport = {
      open: (_address, { signal }) =>
        new Promise<Duplex>((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            signalled = true;
            reject(new Error('aborted'));
          });
        }),
    };
    const conn = new ServerConnection(
      { host: 'h', port: 1 },
      { onPacket: () => undefined },
      { transport: pending, reconnect: true },
    );
    const attempt = conn.connect();
    await conn.close();
    await assert.rejects(
      attempt,
      (e: unknown) => e instanceof ConnectionError && e.code === 'CLOSED',
    );
    assert.equal(signalled, true);
    assert.equal(conn.status, 'closed');
  });

  it('a stream that ends before it is used is a failed attempt', async () => {
    const dead: Transport = {
      open: async (address, options) => {
        const socket = await tcpTransport.open(address, options);
        socket.destroy();
        return socket;
      },
    };
    const server = await startServer({ listen: ['127.0.0.1'], port: 0, logFile: 'none' });
    const conn = new ServerConnection(
      { host: '127.0.0.1', port: server.port },
      { onPacket: () => undefined },
      { transport: dead },
    );
    try {
      await assert.rejects(conn.connect(), /cannot connect to 127\.0\.0\.1:\d+: connection closed/);
      assert.equal(conn.status, 'idle');
    } finally {
      await conn.close();
      await server.close();
    }
  });

  it("docs/library.md's tunnel transport: tcpTransport composed, whatever the host says", async () => {
    const server = await startServer({ listen: ['127.0.0.1'], port: 0, logFile: 'none' });
    const viaTunnel: Transport = {
      open: (address, options) => tcpTransport.open({ ...address, host: '127.0.0.1' }, options),
    };
    const client = new Client({ servers: `gm1.invalid:${server.port}`, transport: viaTunnel });
    try {
      assert.equal((await client.echo('tunnelled')).toString(), 'tunnelled');
      assert.deepEqual(client.servers, [`gm1.invalid:${server.port}`]);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('refuses a transport option that is not one', () => {
    const bad = { open: 'no' } as unknown as Transport;
    assert.throws(() => new Client({ transport: bad }), TypeError);
    assert.throws(() => new Worker({ transport: bad }), TypeError);
    assert.throws(() => new AdminClient({ transport: bad }), TypeError);
    assert.throws(
      () =>
        new ServerConnection(
          { host: 'h', port: 1 },
          { onPacket: () => undefined },
          { transport: bad },
        ),
      /transport must have an open\(address, options\) method/,
    );
  });
});
