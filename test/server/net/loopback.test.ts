import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopback } from '../../../src/server/net/peer-details.js';

describe('isLoopback (admin shutdown is accepted only from these)', () => {
  it('accepts IPv4, IPv6 and IPv4-mapped loopback addresses', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
      assert.equal(isLoopback(address), true, address);
    }
  });

  it('refuses everything else', () => {
    for (const address of [
      '10.0.0.1',
      '192.168.1.127',
      '::ffff:10.0.0.1',
      'fe80::1',
      '',
      '0.0.0.0',
    ]) {
      assert.equal(isLoopback(address), false, address);
    }
  });
});
