import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveBackoff } from '../../src/connection/backoff.js';
import { backoffDelay } from '../../src/protocol/backoff.js';

describe('backoff', () => {
  it('doubles from the initial delay up to the cap, without jitter', () => {
    const b = resolveBackoff({ initialDelay: 100, maxDelay: 1000, jitter: 0 });
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 50].map((n) => backoffDelay(b, n)),
      [100, 200, 400, 800, 1000, 1000, 1000],
    );
  });

  it('randomises the jitter fraction of the delay downwards', () => {
    const b = resolveBackoff({ initialDelay: 1000, maxDelay: 1000, jitter: 0.5 });
    assert.equal(
      backoffDelay(b, 0, () => 0),
      1000,
    );
    assert.equal(
      backoffDelay(b, 0, () => 1),
      500,
    );
    assert.equal(
      backoffDelay(b, 0, () => 0.5),
      750,
    );
  });

  it('refuses nonsense with TypeError', () => {
    assert.throws(() => resolveBackoff({ initialDelay: -1 }), TypeError);
    assert.throws(() => resolveBackoff({ maxDelay: Number.NaN }), TypeError);
    assert.throws(() => resolveBackoff({ jitter: 2 }), TypeError);
  });
});
