import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { runGearbox } from '../helpers/gearbox-cli.js';

describe('gearbox server command line', () => {
  it('prints every option with --help and exits 0', async () => {
    const result = await runGearbox(['server', '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^usage: gearbox server \[options\]/);
    for (const flag of [
      '-p, --port PORT',
      '-L, --listen ADDRESS',
      '-q, --queue-type TYPE',
      '--store URL',
    ]) {
      assert.ok(result.stdout.includes(flag), `--help lists ${flag}`);
    }
  });

  for (const [args, message] of [
    [['--bogus'], /unknown option --bogus/],
    [['-p', 'http'], /-p: 'http' is not a whole number/],
    [['--port'], /--port needs a value/],
    [['-q', 'nosuch'], /unknown queue type 'nosuch'/],
    [['--daemon'], /does not detach/],
    [['--verbose', 'CHATTY'], /'CHATTY' is not one of/],
  ] as const) {
    it(`refuses ${args.join(' ')} with status 2 and one clear message`, async () => {
      const result = await runGearbox(['server', ...args]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /^gearbox server: .* \(see gearbox server --help\)\n$/);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(result.stdout, '');
    });
  }

  it('refuses a log file it cannot open, with status 2', async () => {
    const result = await runGearbox(['server', '-p', '0', '-l', '/nonexistent-dir/gearbox.log']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--log-file \/nonexistent-dir\/gearbox\.log: cannot open: ENOENT/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });

  it('gives up with status 1 when the store cannot be opened', async () => {
    const refused = await runGearbox([
      'server',
      '-p',
      '0',
      '-q',
      'libpq',
      '--libpq-conninfo',
      'postgres://postgres@127.0.0.1:1/test',
      '--store-open-timeout',
      '5000',
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^gearbox server: postgres:.*ECONNREFUSED/m);
    // A "database" that accepts connections and never answers: the open must time out.
    const silent = createServer(() => undefined);
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const silentPort = (silent.address() as AddressInfo).port;
    let hanging;
    try {
      hanging = await runGearbox([
        'server',
        '-p',
        '0',
        '--store',
        `postgres://postgres@127.0.0.1:${silentPort}/test`,
        '--store-open-timeout',
        '1000',
      ]);
    } finally {
      silent.close();
      silent.unref();
    }
    assert.equal(hanging.code, 1);
    assert.match(hanging.stderr, /not open after 1000 ms \(see --store-open-timeout\)/);
    assert.doesNotMatch(refused.stderr + hanging.stderr, /\n\s+at /);
  });

  it('prints its version with -V', async () => {
    const result = await runGearbox(['server', '-V']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^gearbox \d+\.\d+\.\d+/);
  });
});
