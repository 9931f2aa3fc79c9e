/**
 * Opening the store waits a bounded time for a database that refuses connections (one that is
 * restarting), and fails at once on anything else.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SchedulerError } from '../../src/scheduler/errors.js';
import { openSchedulerStore } from '../../src/scheduler/open-scheduler-store.js';
import { freePort } from '../helpers/processes.js';
import { serviceUrls, skipUnless } from '../helpers/services.js';
import { randomTable } from './store-backends.js';

for (const db of ['postgres', 'mysql'] as const) {
  describe(`openSchedulerStore on ${db}`, async () => {
    const skip = await skipUnless(`open-store (${db})`, db);

    it(
      'retries while nothing listens on the port, then gives up with STORE_FAILED',
      { skip },
      async () => {
        const url = new URL(db === 'postgres' ? serviceUrls.postgres : serviceUrls.mysql);
        url.port = String(await freePort()); // nothing listens there: connections are refused
        const retries: unknown[] = [];
        const started = Date.now();
        await assert.rejects(
          openSchedulerStore(url.toString(), {
            table: randomTable(),
            waitMs: 1_500,
            onRetry: (error) => retries.push(error),
          }),
          (err: unknown) => err instanceof SchedulerError && err.code === 'STORE_FAILED',
        );
        assert.ok(retries.length >= 2, `retried ${retries.length} times`);
        assert.ok(Date.now() - started >= 1_500, 'kept trying for waitMs');
      },
    );

    it('fails at once when the database does not exist', { skip }, async () => {
      const url = new URL(db === 'postgres' ? serviceUrls.postgres : serviceUrls.mysql);
      url.pathname = `/no_such_db_${randomTable()}`;
      const retries: unknown[] = [];
      await assert.rejects(
        openSchedulerStore(url.toString(), {
          table: randomTable(),
          waitMs: 20_000,
          onRetry: (error) => retries.push(error),
        }),
        (err: unknown) => err instanceof SchedulerError && err.code === 'STORE_FAILED',
      );
      assert.equal(retries.length, 0, 'no retry for a wrong setup');
    });
  });
}
