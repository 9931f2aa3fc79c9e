/**
 * The server with a real SQLite store, in process: JOB_CREATED only after the commit, replies in
 * request order around commits, rows removed when jobs finish, jobs replayed after a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { PacketType, request } from '../../../src/protocol/index.js';
import { startServer, type GearboxServer } from '../../../src/server/start-server.js';
import { SqliteStore } from '../../../src/storage/sqlite-store.js';
import { RawPeer } from '../../helpers/raw-peer.js';

function rowCount(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    const row = db.prepare('SELECT count(*) AS n FROM gearman_queue').get() as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}

async function start(file: string): Promise<GearboxServer> {
  return startServer(
    { listen: ['127.0.0.1'], port: 0, logFile: 'none' },
    { store: new SqliteStore({ file }) },
  );
}

describe('gearbox server with a SQLite store', () => {
  let dir: string;
  let file: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gearbox-durable-'));
    file = join(dir, 'queue.sqlite');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('answers in request order around commits, and replays jobs after a restart', async () => {
    const first = await start(file);
    const client = await RawPeer.connect(first.port);
    // One write: the echoes must not overtake the JOB_CREATED that waits for the commit.
    client.write(
      Buffer.concat([
        request(PacketType.SUBMIT_JOB_BG, 'durable', 'u1', 'one'),
        request(PacketType.ECHO_REQ, 'e1'),
        request(PacketType.SUBMIT_JOB_LOW_BG, 'durable', 'u2', Buffer.from([0, 1, 2])),
        request(PacketType.ECHO_REQ, 'e2'),
        request(PacketType.SUBMIT_JOB_BG, 'durable', 'u1', 'one'),
      ]),
    );
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      const packet = await client.nextPacket();
      order.push(
        packet.type === PacketType.JOB_CREATED ? 'created' : (packet.args[0]?.toString() ?? '?'),
      );
    }
    assert.deepEqual(order, ['created', 'e1', 'created', 'e2', 'created']);
    assert.equal(rowCount(file), 2, 'both jobs committed (the third coalesced) before the replies');
    client.close();
    await first.close();

    const second = await start(file);
    try {
      const worker = await RawPeer.connect(second.port);
      worker.write(request(PacketType.CAN_DO, 'durable'));
      const seen: string[] = [];
      for (let i = 0; i < 2; i++) {
        worker.write(request(PacketType.GRAB_JOB_UNIQ));
        const assign = await worker.nextPacket();
        assert.equal(assign.type, PacketType.JOB_ASSIGN_UNIQ);
        seen.push(`${assign.args[2]?.toString()}=${assign.args[3]?.toString('hex')}`);
        worker.write(request(PacketType.WORK_COMPLETE, assign.args[0] as Buffer, 'ok'));
      }
      assert.deepEqual(seen, ['u1=6f6e65', 'u2=000102'], 'normal before low, payloads intact');
      worker.write(request(PacketType.GRAB_JOB));
      assert.equal((await worker.nextPacket()).type, PacketType.NO_JOB);
      for (let i = 0; i < 100 && rowCount(file) > 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(rowCount(file), 0, 'rows deleted once the jobs completed');
      worker.close();
    } finally {
      await second.close();
    }
  });

  it('does not store foreground jobs', async () => {
    const server = await start(file);
    try {
      const client = await RawPeer.connect(server.port);
      client.write(request(PacketType.SUBMIT_JOB, 'fg', 'f1', 'x'));
      assert.equal((await client.nextPacket()).type, PacketType.JOB_CREATED);
      assert.equal(rowCount(file), 0);
      client.close();
    } finally {
      await server.close();
    }
  });
});
