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
});
