import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatAddress,
  parseServers,
  serversFromHostsAndPort,
} from '../../src/connection/server-address.js';

describe('parseServers', () => {
  it('reads host, host:port, bracketed IPv6, lists and objects', () => {
    assert.deepEqual(parseServers('gm1'), [{ host: 'gm1', port: 4730 }]);
    assert.deepEqual(parseServers('gm1:4731, gm2'), [
      { host: 'gm1', port: 4731 },
      { host: 'gm2', port: 4730 },
    ]);
    assert.deepEqual(parseServers(['[::1]:4000', { host: 'x', port: 1 }, '::1']), [
      { host: '::1', port: 4000 },
      { host: 'x', port: 1 },
      { host: '::1', port: 4730 },
    ]);
    assert.deepEqual(parseServers(undefined), [{ host: '127.0.0.1', port: 4730 }]);
  });

  it('refuses malformed entries with TypeError', () => {
    for (const bad of ['', ',', 'h:', 'h:0', 'h:70000', 'h:4x', '[::1', '[::1]x', ':4730'])
      assert.throws(() => parseServers(bad), TypeError, bad);
    assert.throws(() => parseServers([{ host: 'h', port: 1.5 }]), TypeError);
    assert.throws(() => parseServers([42 as unknown as string]), TypeError);
  });

  it('reads a tcp:// scheme and refuses the ones it cannot speak, naming them', () => {
    assert.deepEqual(parseServers('tcp://gm1:4731,TCP://[::1]'), [
      { host: 'gm1', port: 4731 },
      { host: '::1', port: 4730 },
    ]);
    assert.deepEqual(parseServers([{ host: 'x', port: 1, scheme: 'tcp' }]), [
      { host: 'x', port: 1 },
    ]);
    for (const bad of ['tls://gm1:4730', 'http://gm1', 'gm1, unix://sock']) {
      assert.throws(
        () => parseServers(bad),
        (e: unknown) => e instanceof TypeError && /unsupported scheme '\w+:\/\/'/.test(e.message),
        bad,
      );
    }
    assert.throws(
      () => parseServers([{ host: 'x', port: 1, scheme: 'tls' as 'tcp' }]),
      /server scheme must be one of tcp, got tls/,
    );
    assert.throws(() => parseServers('tcp://'), /empty host/);
  });

  it('formats addresses back', () => {
    assert.equal(formatAddress({ host: 'h', port: 1 }), 'h:1');
    assert.equal(formatAddress({ host: '::1', port: 2 }), '[::1]:2');
  });
});

describe('serversFromHostsAndPort', () => {
  it('applies -p to hosts without their own port, like the gearman tools', () => {
    assert.deepEqual(serversFromHostsAndPort([], undefined), [{ host: 'localhost', port: 4730 }]);
    assert.deepEqual(serversFromHostsAndPort(['a,b:9', 'c'], '5000'), [
      { host: 'a', port: 5000 },
      { host: 'b', port: 9 },
      { host: 'c', port: 5000 },
    ]);
    assert.deepEqual(serversFromHostsAndPort(['[::1]:7', '::1'], '8'), [
      { host: '::1', port: 7 },
      { host: '::1', port: 8 },
    ]);
    assert.deepEqual(serversFromHostsAndPort(['tcp://a:9,tcp://b'], '5'), [
      { host: 'a', port: 9 },
      { host: 'b', port: 5 },
    ]);
    assert.throws(() => serversFromHostsAndPort(['a'], 'http'), TypeError);
    assert.throws(() => serversFromHostsAndPort(['tls://a'], '5'), /unsupported scheme/);
  });
});
