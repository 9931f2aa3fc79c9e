/** Parsing admin replies, with lines as gearmand 1.1.20 writes them (see reference §10). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseJobs,
  parsePriorityStatus,
  parseStatus,
  parseWorkers,
} from '../../src/admin/admin-replies.js';

describe('admin reply parsers', () => {
  it('parses status lines', () => {
    assert.deepEqual(parseStatus(['resize\t12\t3\t4', 'mail\t0\t0\t0']), [
      { name: 'resize', total: 12, running: 3, workers: 4 },
      { name: 'mail', total: 0, running: 0, workers: 0 },
    ]);
  });

  it('parses prioritystatus lines', () => {
    assert.deepEqual(parsePriorityStatus(['f1\t1\t2\t3\t4']), [
      { name: 'f1', high: 1, normal: 2, low: 3, workers: 4 },
    ]);
  });

  it('parses workers lines, with and without functions', () => {
    assert.deepEqual(
      parseWorkers(['37 127.0.0.1 - :', '38 127.0.0.1 worker-A : f2 f1', '39 ::1 my id : x']),
      [
        { fd: '37', ip: '127.0.0.1', clientId: '-', functions: [] },
        { fd: '38', ip: '127.0.0.1', clientId: 'worker-A', functions: ['f2', 'f1'] },
        { fd: '39', ip: '::1', clientId: 'my id', functions: ['x'] },
      ],
    );
  });

  it('parses show jobs lines', () => {
    assert.deepEqual(parseJobs(['H:vm:2023\t0\t0\t1', 'H:vm:16\t2\t1\t0']), [
      { handle: 'H:vm:2023', retries: 0, ignored: false, queued: true },
      { handle: 'H:vm:16', retries: 2, ignored: true, queued: false },
    ]);
  });

  it('refuses lines it cannot read instead of inventing numbers', () => {
    assert.throws(() => parseStatus(['garbage']), SyntaxError);
    assert.throws(() => parseStatus(['f\tx\t1\t2']), SyntaxError);
    assert.throws(() => parseWorkers(['no colon here']), SyntaxError);
  });
});
