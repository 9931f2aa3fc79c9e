import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Priority } from '../../src/protocol/packet-types.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { SqlSchedulerStore } from '../../src/scheduler/sql-scheduler-store.js';
import { serviceUrls, skipUnless } from '../helpers/services.js';
import { InProcessDispatcher } from './in-process-dispatcher.js';
import { randomTable, sqlDatabase } from './store-backends.js';

describe('Scheduler on PostgreSQL: LISTEN/NOTIFY', async () => {
  const skip = await skipUnless('scheduler LISTEN/NOTIFY', 'postgres');
  it(
    'hears of a job another instance stored and runs it on time, long before its next poll',
    { skip },
    async () => {
      const table = randomTable();
      const listening = new SqlSchedulerStore(sqlDatabase(serviceUrls.postgres), table);
      const inserting = new SqlSchedulerStore(sqlDatabase(serviceUrls.postgres), table);
      await listening.open();
      await inserting.open();
      const dispatcher = new InProcessDispatcher(() => Date.now());
      // A poll interval far longer than the test: only the notification can wake the instance.
      const scheduler = new Scheduler({ store: listening, dispatcher, pollIntervalMs: 600_000 });
      try {
        await scheduler.start();
        await sleep(200); // the first cycle finds nothing and sleeps for the poll interval
        const { runAt } = await inserting.schedule({
          functionName: 'f',
          payload: Buffer.from('x'),
          timing: { kind: 'after', delayMs: 300 },
          priority: Priority.NORMAL,
          maxAttempts: 1,
          backoffMs: 0,
          background: false,
        });
        for (let i = 0; i < 100 && dispatcher.records.length === 0; i++) await sleep(50);
        assert.equal(dispatcher.records.length, 1);
        const at = dispatcher.records[0]?.at ?? 0;
        assert.ok(at >= runAt - 5, `dispatched ${runAt - at} ms early`);
        assert.ok(at < runAt + 5_000, 'dispatched by the notification, not by a poll');
      } finally {
        await scheduler.stop(1000);
        await inserting.close();
        const db = sqlDatabase(serviceUrls.postgres);
        await db.execute(`DROP TABLE IF EXISTS ${table}`);
        await db.close();
        await listening.close();
      }
    },
  );
});
