import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Priority } from '../../src/protocol/packet-types.js';
import { SchedulerError } from '../../src/scheduler/errors.js';
import {
  parseCancelRequest,
  parseJobId,
  parseScheduleRequest,
} from '../../src/scheduler/schedule-request.js';

const parse = (body: unknown) => parseScheduleRequest(Buffer.from(JSON.stringify(body)));
const refuses = (body: unknown, reason: RegExp, code = 'INVALID_REQUEST') =>
  assert.throws(
    () => (typeof body === 'string' ? parseScheduleRequest(Buffer.from(body)) : parse(body)),
    (err: unknown) =>
      err instanceof SchedulerError && err.code === code && reason.test(err.message),
    JSON.stringify(body),
  );

describe('parseScheduleRequest', () => {
  it('reads the full native format', () => {
    const job = parse({
      function: 'mail',
      payload: 'hi',
      at: '2026-05-01T10:00:00Z',
      unique: 'u',
      priority: 'high',
      max_attempts: 7,
      backoff: 2.5,
      background: true,
    });
    assert.deepEqual(job, {
      functionName: 'mail',
      payload: Buffer.from('hi'),
      timing: { kind: 'at', at: Date.parse('2026-05-01T10:00:00Z') },
      unique: 'u',
      priority: Priority.HIGH,
      maxAttempts: 7,
      backoffMs: 2500,
      background: true,
    });
  });

  it('applies defaults and reads after, Unix ms, cron with a time zone and base64', () => {
    const a = parse({ function: 'f', after: 1.5 });
    assert.deepEqual(a.timing, { kind: 'after', delayMs: 1500 });
    assert.equal(a.priority, Priority.NORMAL);
    assert.equal(a.maxAttempts, 5);
    assert.equal(a.backoffMs, 5000);
    assert.equal(a.background, false);
    assert.deepEqual(a.payload, Buffer.alloc(0));
    assert.deepEqual(parse({ function: 'f', at: 1_700_000_000_000 }).timing, {
      kind: 'at',
      at: 1_700_000_000_000,
    });
    assert.deepEqual(parse({ function: 'f', cron: '0 3 * * *', timezone: 'Europe/Paris' }).timing, {
      kind: 'cron',
      expression: '0 3 * * *',
      timeZone: 'Europe/Paris',
    });
    assert.deepEqual(
      parse({ function: 'f', after: 0, payload_base64: 'AAH/' }).payload,
      Buffer.from([0, 1, 255]),
    );
  });

  it("accepts Gearsloth's task format", () => {
    const job = parse({
      func_name: 'log',
      at: '2026-05-01T10:00:00.000Z',
      payload: 'kitteh',
      controller: 'x',
    });
    assert.equal(job.functionName, 'log');
    assert.deepEqual(job.timing, { kind: 'at', at: Date.parse('2026-05-01T10:00:00.000Z') });
    assert.equal(job.payload.toString(), 'kitteh');
    assert.deepEqual(
      parse({ func_name: 'log', payload: { a: 1 } }).payload,
      Buffer.from('{"a":1}'),
    );
    assert.deepEqual(
      parse({ func_name: 'log' }).timing,
      { kind: 'after', delayMs: 0 },
      'no time = now',
    );
  });

  it('refuses bad requests with the reason', () => {
    refuses('nope', /not JSON/);
    refuses('[1]', /JSON object/);
    refuses({ after: 1 }, /'function'/);
    refuses({ function: '', after: 1 }, /'function'/);
    refuses({ function: 'f' }, /one of 'at', 'after' or 'cron'/);
    refuses({ function: 'f', after: 1, cron: '* * * * *' }, /not after and cron/);
    refuses({ function: 'f', at: 'tomorrow' }, /ISO 8601/);
    refuses({ function: 'f', at: -1 }, /'at'/);
    refuses({ function: 'f', after: -1 }, /'after'/);
    refuses({ function: 'f', after: 'soon' }, /'after'/);
    refuses({ function: 'f', cron: '* * *' }, /5 fields/, 'INVALID_CRON');
    refuses({ function: 'f', cron: '* * * * *', timezone: 'X/Y' }, /time zone/, 'INVALID_TIMEZONE');
    refuses({ function: 'f', after: 1, timezone: 'UTC' }, /with 'cron' only/);
    refuses({ function: 'f', after: 1, priority: 'urgent' }, /'priority'/);
    refuses({ function: 'f', after: 1, max_attempts: 0 }, /'max_attempts'/);
    refuses({ function: 'f', after: 1, max_attempts: 1.5 }, /'max_attempts'/);
    refuses({ function: 'f', after: 1, backoff: -1 }, /'backoff'/);
    refuses({ function: 'f', after: 1, background: 'yes' }, /'background'/);
    refuses({ function: 'f', after: 1, unique: '' }, /'unique'/);
    refuses({ function: 'f', after: 1, unique: 'x'.repeat(256) }, /'unique'/);
    refuses({ function: 'f', after: 1, payload: 'a', payload_base64: 'YQ==' }, /not both/);
    refuses({ function: 'f', after: 1, payload_base64: '***' }, /base64/);
    refuses({ function: 'f', after: 1, payload: { a: 1 } }, /payload_base64/);
    refuses({ function: 'f', after: 1, controller: 'x' }, /unknown field 'controller'/);
    refuses({ function: 'f\0g', after: 1 }, /NUL/);
  });
});

describe('parseScheduleRequest: the accepted range of times (issue 9)', () => {
  const LAST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

  it("bug: 'at' past JavaScript's Date range (8.64e15 ms) or BIGINT was accepted; now 1970 to 9999 only", () => {
    for (const at of [8.64e15 + 1, 9.2e18, 1e19, 1e300, LAST_MS + 1, LAST_MS + 0.5])
      refuses({ function: 'f', at }, /'at' must be between 1970-01-01T00:00:00.000Z and 9999/);
    for (const at of ['10000-01-01', '0000-01-01', '1969-12-31T23:59:59.999Z'])
      refuses({ function: 'f', at }, /'at'/);
    assert.deepEqual(parse({ function: 'f', at: LAST_MS }).timing, { kind: 'at', at: LAST_MS });
    assert.deepEqual(parse({ function: 'f', at: '9999-12-31T23:59:59.999Z' }).timing, {
      kind: 'at',
      at: LAST_MS,
    });
    assert.deepEqual(parse({ function: 'f', at: 0 }).timing, { kind: 'at', at: 0 });
    assert.deepEqual(parse({ function: 'f', at: '1970-01-01T00:00:00Z' }).timing, {
      kind: 'at',
      at: 0,
    });
    // An offset that moves the last second past the end of 9999 is past the range too.
    refuses({ function: 'f', at: '9999-12-31T23:59:59-01:00' }, /'at' must be between/);
  });

  it("bug: impossible calendar dates in 'at' were accepted as the next month's (2026-02-30 = 2026-03-02)", () => {
    for (const at of [
      '2026-02-30',
      '2026-02-30T10:00:00Z',
      '2026-04-31T00:00:00Z',
      '2025-02-29',
      '2100-02-29T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T23:60:00Z',
      '2026-01-01T10:00:61Z',
      '2026-13-01',
      '2026-00-10',
      '2026-01-00',
      '2026-01-01T10:00:00+24:00',
      '2026-01-01T10:00:00+05:60',
    ])
      refuses({ function: 'f', at }, /'at'/);
    assert.deepEqual(parse({ function: 'f', at: '2024-02-29T12:00:00Z' }).timing, {
      kind: 'at',
      at: Date.UTC(2024, 1, 29, 12),
    });
    assert.deepEqual(parse({ function: 'f', at: '2000-02-29' }).timing, {
      kind: 'at',
      at: Date.UTC(2000, 1, 29),
    });
    assert.deepEqual(parse({ function: 'f', at: '2026-01-31 23:59:59.5+01:00' }).timing, {
      kind: 'at',
      at: Date.UTC(2026, 0, 31, 22, 59, 59, 500),
    });
  });

  it('bug: fields reaching the database unchecked were refused by the database (or stored altered); now by the parser', () => {
    refuses({ function: 'f', after: 1, unique: 'a\0b' }, /'unique' must not contain NUL/);
    refuses({ function: 'f', after: 1, unique: 'a\ud800' }, /'unique'.*Unicode/);
    refuses({ function: 'f\udc00', after: 1 }, /'function'.*Unicode/);
    refuses({ function: 'f'.repeat(513), after: 1 }, /'function' is longer than 512 bytes/);
    refuses({ function: 'f', cron: `0 0 1 1 ${'1,'.repeat(130)}1` }, /'cron'.*255/);
    refuses({ function: 'f', after: 1, payload: 'x'.repeat(4 * 1024 * 1024 + 1) }, /4194304 bytes/);
    refuses(
      {
        function: 'f',
        after: 1,
        payload_base64: Buffer.alloc(4 * 1024 * 1024 + 1).toString('base64'),
      },
      /4194304 bytes/,
    );
    assert.equal(
      parse({ function: 'f', after: 1, payload: 'x'.repeat(4 * 1024 * 1024) }).payload.length,
      4 * 1024 * 1024,
    );
    assert.equal(parse({ function: 'f', after: 1, unique: 'u'.repeat(255) }).unique?.length, 255);
  });
});

describe('parseCancelRequest and parseJobId', () => {
  it('reads an id or a function and unique', () => {
    assert.deepEqual(parseCancelRequest(Buffer.from('{"id": 12}')), { id: '12' });
    assert.deepEqual(parseCancelRequest(Buffer.from('{"id": "12"}')), { id: '12' });
    assert.deepEqual(parseCancelRequest(Buffer.from('{"function": "f", "unique": "u"}')), {
      functionName: 'f',
      unique: 'u',
    });
  });
  it('refuses anything else', () => {
    for (const body of [
      '{}',
      '{"id": 0}',
      '{"id": "1x"}',
      '{"id": 1, "unique": "u"}',
      '{"function": "f"}',
    ])
      assert.throws(() => parseCancelRequest(Buffer.from(body)), SchedulerError, body);
    assert.throws(() => parseJobId(-3), SchedulerError);
    assert.throws(() => parseJobId(1.5), SchedulerError);
  });
  it('bug: ids past 2^53 were rounded to another id on their way to the database', () => {
    assert.equal(parseJobId('9007199254740991'), '9007199254740991');
    assert.throws(() => parseJobId('9007199254740993'), /'id' must be a job id/);
    assert.throws(
      () => parseCancelRequest(Buffer.from('{"function": "f", "unique": "a\\u0000"}')),
      /'unique' must not contain NUL/,
    );
  });
});
