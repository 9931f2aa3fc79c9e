/**
 * The embedded default's failure: the SQLite queue's disk fills up. A tmpfs of 3 MB (mounting
 * needs root; skipped loudly otherwise) holds the queue file and a 1 MB filler. Background
 * submissions are acknowledged until the disk is full, then refused with ERROR QUEUE_ERROR —
 * never a JOB_CREATED that was not committed — while foreground jobs keep working; once the
 * filler is deleted the store comes back and background jobs are taken again. After a clean stop
 * the file holds exactly the acknowledged jobs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { PacketType, request } from '../../../src/protocol/index.js';
import { startGearboxServer } from '../../helpers/gearbox-cli.js';
import { RawPeer } from '../../helpers/raw-peer.js';
import { skipUnless } from '../../helpers/services.js';

const skip = await skipUnless('SQLite queue on a full disk', 'tmpfs');

/** 64 KB payloads: a 3 MB file system fills within a few dozen jobs. */
const PAYLOAD = Buffer.alloc(64 * 1024, 0x61);

describe('gearbox server with its SQLite queue on a disk that fills up', { skip }, () => {
  it('refuses background jobs with QUEUE_ERROR while the disk is full, keeps serving, and takes them again once there is room', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gearbox-full-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir]);
    const filler = join(dir, 'filler');
    writeFileSync(filler, Buffer.alloc(1024 * 1024));
    const file = join(dir, 'queue.sqlite');
    const server = await startGearboxServer(['--store', `sqlite://${file}`]);
    const peers: RawPeer[] = [];
    try {
      const client = await RawPeer.connect(server.port);
      peers.push(client);
      const acknowledged: string[] = [];
      let refusal = '';
      for (let i = 0; i < 200 && refusal === ''; i++) {
        client.write(request(PacketType.SUBMIT_JOB_BG, 'filling', `f${i}`, PAYLOAD));
        const reply = await client.nextPacket(10_000);
        if (reply.type === PacketType.JOB_CREATED) acknowledged.push(`f${i}`);
        else {
          assert.equal(reply.type, PacketType.ERROR);
          assert.equal(reply.args[0]?.toString(), 'QUEUE_ERROR');
          refusal = reply.args[1]?.toString() ?? '';
        }
      }
      assert.ok(acknowledged.length > 0, 'some jobs fit before the disk filled');
      assert.match(refusal, /full|SQLITE_FULL|unreachable/i);

      // Foreground jobs do not touch the store.
      const worker = await RawPeer.connect(server.port);
      peers.push(worker);
      worker.write(Buffer.concat([request(PacketType.CAN_DO, 'fg'), request(PacketType.GRAB_JOB)]));
      client.write(request(PacketType.SUBMIT_JOB, 'fg', '', 'ping'));
      assert.equal((await client.nextPacket()).type, PacketType.JOB_CREATED);
      let assign = await worker.nextPacket();
      for (let i = 0; i < 20 && assign.type === PacketType.NO_JOB; i++) {
        worker.write(request(PacketType.GRAB_JOB));
        assign = await worker.nextPacket();
      }
      assert.equal(assign.type, PacketType.JOB_ASSIGN);
      worker.write(request(PacketType.WORK_COMPLETE, assign.args[0] as Buffer, 'pong'));
      const done = await client.nextPacket();
      assert.equal(done.type, PacketType.WORK_COMPLETE);
      assert.equal(done.args[1]?.toString(), 'pong');

      // Room again: the store reconnects (with backoff) and background jobs are taken again.
      rmSync(filler);
      let again = '';
      for (let i = 0; i < 100 && again === ''; i++) {
        client.write(request(PacketType.SUBMIT_JOB_BG, 'after', `a${i}`, 'small'));
        const reply = await client.nextPacket(10_000);
        if (reply.type === PacketType.JOB_CREATED) again = `a${i}`;
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.notEqual(again, '', 'a background job was acknowledged once there was room');

      await server.stop();
      const db = new Database(file, { readonly: true });
      const rows = db
        .prepare('SELECT function_name, unique_key FROM gearman_queue ORDER BY rowid')
        .all() as { function_name: string; unique_key: string }[];
      db.close();
      assert.deepEqual(
        rows.map((r) => `${r.function_name}/${r.unique_key}`),
        [...acknowledged.map((u) => `filling/${u}`), `after/${again}`],
        'exactly the acknowledged jobs, none that was refused',
      );
      assert.match(server.stderr(), /connection lost|unreachable/);
    } finally {
      for (const peer of peers) peer.close();
      await server.stop();
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
