import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CronExpression } from '../../src/scheduler/cron.js';
import { SchedulerError } from '../../src/scheduler/errors.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const at = (text: string): number => Date.parse(text);

/** The next `count` fire times after `start`. */
function series(expr: string, start: string, count: number, tz?: string): (string | null)[] {
  const cron = new CronExpression(expr);
  const out: (string | null)[] = [];
  let t = at(start);
  for (let i = 0; i < count; i++) {
    const next = cron.next(t, tz);
    out.push(iso(next));
    if (next === null) break;
    t = next;
  }
  return out;
}

describe('CronExpression', () => {
  it('fires every minute for * * * * *, strictly after the given instant', () => {
    assert.deepEqual(series('* * * * *', '2026-01-01T10:00:00.000Z', 2), [
      '2026-01-01T10:01:00.000Z',
      '2026-01-01T10:02:00.000Z',
    ]);
    assert.equal(
      iso(new CronExpression('* * * * *').next(at('2026-01-01T10:00:30Z'))),
      '2026-01-01T10:01:00.000Z',
    );
  });

  it('handles steps, ranges and lists', () => {
    assert.deepEqual(series('*/15 9-10 * * *', '2026-01-01T10:40:00Z', 3), [
      '2026-01-01T10:45:00.000Z',
      '2026-01-02T09:00:00.000Z',
      '2026-01-02T09:15:00.000Z',
    ]);
    assert.deepEqual(series('5,10-12 0 * * *', '2026-01-01T00:00:00Z', 5), [
      '2026-01-01T00:05:00.000Z',
      '2026-01-01T00:10:00.000Z',
      '2026-01-01T00:11:00.000Z',
      '2026-01-01T00:12:00.000Z',
      '2026-01-02T00:05:00.000Z',
    ]);
    assert.deepEqual(series('10-30/10 * * * *', '2026-01-01T00:00:00Z', 4), [
      '2026-01-01T00:10:00.000Z',
      '2026-01-01T00:20:00.000Z',
      '2026-01-01T00:30:00.000Z',
      '2026-01-01T01:10:00.000Z',
    ]);
    // `a/n` runs from a to the end of the field.
    assert.deepEqual(series('50/5 * * * *', '2026-01-01T00:00:00Z', 3), [
      '2026-01-01T00:50:00.000Z',
      '2026-01-01T00:55:00.000Z',
      '2026-01-01T01:50:00.000Z',
    ]);
  });

  it('accepts month and weekday names, and 7 as Sunday', () => {
    // 2026-01-01 is a Thursday.
    assert.deepEqual(series('0 12 * * mon-wed', '2026-01-01T00:00:00Z', 3), [
      '2026-01-05T12:00:00.000Z',
      '2026-01-06T12:00:00.000Z',
      '2026-01-07T12:00:00.000Z',
    ]);
    assert.deepEqual(series('0 0 * * 7', '2026-01-01T00:00:00Z', 1), ['2026-01-04T00:00:00.000Z']);
    assert.deepEqual(series('0 0 1 MAR,jun *', '2026-01-01T00:00:00Z', 3), [
      '2026-03-01T00:00:00.000Z',
      '2026-06-01T00:00:00.000Z',
      '2027-03-01T00:00:00.000Z',
    ]);
  });

  it('matches either day field when both are restricted (Vixie cron)', () => {
    // The 13th, or any Friday: Fri 2 Jan, Fri 9 Jan, Tue 13 Jan, Fri 16 Jan.
    assert.deepEqual(series('0 0 13 * fri', '2026-01-01T00:00:00Z', 4), [
      '2026-01-02T00:00:00.000Z',
      '2026-01-09T00:00:00.000Z',
      '2026-01-13T00:00:00.000Z',
      '2026-01-16T00:00:00.000Z',
    ]);
  });

  it('finds leap days and reports expressions that never fire', () => {
    assert.deepEqual(series('0 0 29 2 *', '2026-01-01T00:00:00Z', 1), ['2028-02-29T00:00:00.000Z']);
    assert.equal(new CronExpression('0 0 30 2 *').next(at('2026-01-01T00:00:00Z')), null);
  });

  it('accepts macros', () => {
    assert.deepEqual(series('@hourly', '2026-01-01T00:30:00Z', 1), ['2026-01-01T01:00:00.000Z']);
    assert.deepEqual(series('@daily', '2026-01-01T00:30:00Z', 1), ['2026-01-02T00:00:00.000Z']);
  });

  it('uses the wall clock of a time zone, across daylight-saving changes', () => {
    // Berlin: UTC+1 in winter, UTC+2 from 2026-03-29 02:00 local.
    assert.deepEqual(series('0 9 * * *', '2026-03-27T12:00:00Z', 3, 'Europe/Berlin'), [
      '2026-03-28T08:00:00.000Z',
      '2026-03-29T07:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
    ]);
    // 02:30 does not exist on 2026-03-29 in Berlin: skipped.
    assert.deepEqual(series('30 2 * * *', '2026-03-28T12:00:00Z', 2, 'Europe/Berlin'), [
      '2026-03-30T00:30:00.000Z',
      '2026-03-31T00:30:00.000Z',
    ]);
    // 02:30 happens twice on 2026-10-25 in Berlin: fires once, at the first.
    assert.deepEqual(series('30 2 * * *', '2026-10-24T12:00:00Z', 2, 'Europe/Berlin'), [
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
    // New York, every 30 minutes through the fall-back hour: each wall time once.
    assert.deepEqual(series('*/30 1-2 * * *', '2026-11-01T04:45:00Z', 4, 'America/New_York'), [
      '2026-11-01T05:00:00.000Z', // 01:00 EDT
      '2026-11-01T05:30:00.000Z', // 01:30 EDT
      '2026-11-01T07:00:00.000Z', // 02:00 EST
      '2026-11-01T07:30:00.000Z', // 02:30 EST
    ]);
  });

  it('rejects bad expressions with INVALID_CRON and the reason', () => {
    for (const bad of [
      '* * * *',
      '* * * * * *',
      '60 * * * *',
      '* 24 * * *',
      '* * 0 * *',
      '* * * 13 *',
      '* * * * 8',
      '*/0 * * * *',
      '5-1 * * * *',
      'a * * * *',
      '1,,2 * * * *',
      '1/2/3 * * * *',
      '',
    ]) {
      assert.throws(
        () => new CronExpression(bad),
        (err: unknown) => err instanceof SchedulerError && err.code === 'INVALID_CRON',
        bad,
      );
    }
  });

  it('rejects unknown time zones with INVALID_TIMEZONE', () => {
    assert.throws(
      () => new CronExpression('* * * * *').next(0, 'Mars/Olympus_Mons'),
      (err: unknown) => err instanceof SchedulerError && err.code === 'INVALID_TIMEZONE',
    );
  });
});
