/**
 * Issue 9, "SQLite disk after drain": a SQLite queue file that once held a large backlog gives
 * the space back once the queue is drained (or has shrunk a lot), instead of staying at its
 * largest size — with real SQLite files, through the store interface, and with Debian's gearmand
 * creating the file (auto_vacuum=NONE) and reading it again after we converted it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { PacketType, request } from '../../src/protocol/index.js';
import { SqliteStore } from '../../src/storage/sqlite-store.js';
import type { StoreLogLevel } from '../../src/storage/store-error.js';
import { startGearmand } from '../helpers/processes.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { skipUnless } from '../helpers/services.js';
import { adminList } from './gearman-peers.js';
import { job, replayAll } from './job-store-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'gearbox-sqlite-space-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MB = 1024 * 1024;
/** Jobs of 1 MB each: 30 make a 30 MB file. */
const JOBS = 30;
const payload = (i: number): Buffer => Buffer.alloc(MB, i);

/** The database file and its WAL together. */
function fileBytes(file: string): number {
  const size = (f: string): number => (existsSync(f) ? statSync(f).size : 0);
  return size(file) + size(`${file}-wal`);
}

function autoVacuum(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return Number(db.pragma('auto_vacuum', { simple: true }));
  } finally {
    db.close();
  }
}

/** Waits until the files hold less than `limit` bytes (polling, up to 15 s); returns the size. */
async function shrinksBelow(file: string, limit: number): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (let i = 0; i < 1000; i++) {
    const bytes = fileBytes(file);
    if (bytes < limit || Date.now() > deadline) return bytes;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return fileBytes(file);
}

/** A store on `file` whose warnings are collected. */
function storeOn(file: string, warnings: string[]): SqliteStore {
  return new SqliteStore({
    file,
    log: (level: StoreLogLevel, message: string) => {
      if (level === 'WARNING' || level === 'ERROR') warnings.push(message);
    },
  });
}

/** Fills a gearmand-layout file as gearmand would leave it: rollback journal, auto_vacuum=NONE. */
function gearmandFile(file: string, rows: number): void {
  const db = new Database(file);
  db.exec(
    'CREATE TABLE gearman_queue (unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, when_to_run INTEGER, PRIMARY KEY(unique_key,function_name))',
  );
  const insert = db.prepare('INSERT INTO gearman_queue VALUES (?, ?, 1, ?, 0)');
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(`old-${i}`, 'fn', payload(i));
  })();
  db.close();
}

describe('issue 9: SQLite queue file after the queue is drained', () => {
  it('a new file is made with auto_vacuum=INCREMENTAL and shrinks once drained', async () => {
    const file = join(dir, 'drained.sqlite');
    const warnings: string[] = [];
    const store = storeOn(file, warnings);
    await store.open();
    try {
      const jobs = Array.from({ length: JOBS }, (_, i) => job({ data: payload(i) }));
      await Promise.all(jobs.map((j) => store.add(j)));
      assert.ok(fileBytes(file) > JOBS * MB, `filled to ${fileBytes(file)} bytes`);
      await Promise.all(jobs.map((j) => store.remove(j)));
      const left = await shrinksBelow(file, MB);
      assert.ok(left < MB, `still ${left} bytes after the queue was drained`);
      // Still a working queue.
      const after = job({ data: Buffer.from('after') });
      await store.add(after);
      assert.deepEqual(
        (await replayAll(store)).map((j) => j.uniqueKey),
        [after.uniqueKey],
      );
    } finally {
      await store.close();
    }
    assert.equal(autoVacuum(file), 2);
    assert.deepEqual(warnings, []);
  });

  it('a queue that shrank to a sixth gives most of its space back and keeps its rows', async () => {
    const file = join(dir, 'shrunk.sqlite');
    const store = storeOn(file, []);
    await store.open();
    try {
      const jobs = Array.from({ length: JOBS }, (_, i) => job({ data: payload(i) }));
      await Promise.all(jobs.map((j) => store.add(j)));
      const kept = jobs.slice(0, JOBS / 6);
      await Promise.all(jobs.slice(JOBS / 6).map((j) => store.remove(j)));
      const left = await shrinksBelow(file, (JOBS / 6 + 3) * MB);
      assert.ok(left < (JOBS / 6 + 3) * MB, `still ${left} bytes for ${kept.length} MB of rows`);
      const rows = await replayAll(store);
      assert.deepEqual(
        rows.map((r) => [
          r.uniqueKey,
          r.data.equals(kept.find((k) => k.uniqueKey === r.uniqueKey)?.data ?? Buffer.alloc(0)),
        ]),
        kept.map((k) => [k.uniqueKey, true]),
      );
    } finally {
      await store.close();
    }
  });

  it('an empty gearmand file (auto_vacuum=NONE) is converted and shrunk when opened', async () => {
    const file = join(dir, 'gearmand-empty.sqlite');
    gearmandFile(file, JOBS);
    const db = new Database(file);
    db.exec('DELETE FROM gearman_queue');
    db.close();
    assert.ok(fileBytes(file) > JOBS * MB);
    assert.equal(autoVacuum(file), 0);
    const warnings: string[] = [];
    const store = storeOn(file, warnings);
    await store.open();
    try {
      assert.ok(fileBytes(file) < MB, `${fileBytes(file)} bytes right after the open`);
      assert.equal(autoVacuum(file), 2);
      await store.add(job({ uniqueKey: 'new' }));
      assert.deepEqual(
        (await replayAll(store)).map((j) => j.uniqueKey),
        ['new'],
      );
    } finally {
      await store.close();
    }
    assert.deepEqual(warnings, []);
  });

  it('a gearmand file with rows replays them, and is converted once they are done', async () => {
    const file = join(dir, 'gearmand-rows.sqlite');
    gearmandFile(file, JOBS);
    const store = storeOn(file, []);
    await store.open();
    try {
      const rows = await replayAll(store);
      assert.equal(rows.length, JOBS);
      assert.ok(rows.every((r, i) => r.uniqueKey === `old-${i}` && r.data.equals(payload(i))));
      assert.equal(autoVacuum(file), 0, 'not rewritten while it holds jobs');
      await Promise.all(rows.map((r) => store.remove(r)));
      const left = await shrinksBelow(file, MB);
      assert.ok(left < MB, `still ${left} bytes after the queue was drained`);
      assert.equal(autoVacuum(file), 2);
    } finally {
      await store.close();
    }
  });
});

const skip = await skipUnless('gearmand on a file gearbox shrank', 'gearmand', 'gearman-tools');
describe('issue 9: gearmand and a queue file we gave space back', { skip }, () => {
  it('gearmand’s own file is shrunk after the drain, and gearmand still serves it', async () => {
    const file = join(dir, 'by-gearmand.sqlite');
    const flags = ['-q', 'libsqlite3', '--libsqlite3-db', file];
    const gearmand = await startGearmand(flags);
    try {
      const client = await RawPeer.connect(gearmand.port);
      for (let i = 0; i < 20; i++) {
        client.write(request(PacketType.SUBMIT_JOB_BG, 'fn', `g-${i}`, payload(i)));
        assert.equal((await client.nextPacket(20_000)).type, PacketType.JOB_CREATED);
      }
      client.close();
    } finally {
      await gearmand.stop();
    }
    assert.equal(autoVacuum(file), 0, 'gearmand makes its file with auto_vacuum=NONE');
    assert.ok(fileBytes(file) > 20 * MB);

    const store = storeOn(file, []);
    await store.open();
    try {
      const rows = await replayAll(store);
      assert.equal(rows.length, 20);
      await Promise.all(rows.map((r) => store.remove(r)));
      const left = await shrinksBelow(file, MB);
      assert.ok(left < MB, `still ${left} bytes after the queue was drained`);
    } finally {
      await store.close();
    }

    const again = await startGearmand(flags);
    try {
      const client = await RawPeer.connect(again.port);
      client.write(request(PacketType.SUBMIT_JOB_BG, 'fn', 'after', 'x'));
      assert.equal((await client.nextPacket(10_000)).type, PacketType.JOB_CREATED);
      client.close();
      assert.ok((await adminList(again.port, 'status')).includes('fn\t1\t0\t0'));
    } finally {
      await again.stop();
    }
    const store2 = storeOn(file, []);
    await store2.open();
    try {
      assert.deepEqual(
        (await replayAll(store2)).map((j) => j.uniqueKey),
        ['after'],
      );
    } finally {
      await store2.close();
    }
  });
});
