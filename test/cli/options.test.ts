import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serverListOptions, serversFromOptions } from '../../src/cli/common-options.js';
import { formatHelp, parseOptions, type OptionSpec } from '../../src/cli/options.js';
import { UsageError, usageLine } from '../../src/cli/usage-error.js';

const SPECS = [
  { name: 'port', short: 'p', value: 'PORT', help: 'the port', default: '4730' },
  { name: 'listen', short: 'L', value: 'ADDRESS', repeat: 'list', help: 'an address' },
  { name: 'store', value: 'URL', repeat: 'once', help: 'the store' },
  { name: 'round-robin', short: 'R', help: 'rotate' },
  { name: 'v', short: 'v', shortOnly: true, repeat: 'list', help: 'more verbose' },
  { name: 'help', help: 'this text' },
] as const satisfies readonly OptionSpec[];

function refused(argv: string[], code: string, message: string, positionals = false): void {
  assert.throws(
    () => parseOptions('demo', SPECS, argv, { positionals }),
    (err: unknown) => {
      assert.ok(err instanceof UsageError, String(err));
      assert.equal(err.code, code);
      assert.equal(err.message, message);
      return true;
    },
  );
}

describe('the shared option parser', () => {
  it("reads getopt's forms: bundles, attached values, --flag=value, -p=value", () => {
    const o = parseOptions('demo', SPECS, ['-Rvv', '-p4731', '--listen=::1', '-L', '0.0.0.0']);
    assert.equal(o.has('round-robin'), true);
    assert.equal(o.values('v').length, 2);
    assert.equal(o.value('port'), '4731');
    assert.deepEqual(o.values('listen'), ['::1', '0.0.0.0']);
    assert.equal(parseOptions('demo', SPECS, ['-p=4732']).value('port'), '4732');
    assert.equal(parseOptions('demo', SPECS, ['-Rp', '4733']).value('port'), '4733');
    // A value may start with a dash, as gearmand's `--keepalive-idle -1` does.
    assert.equal(parseOptions('demo', SPECS, ['--port', '-1']).value('port'), '-1');
  });

  it('keeps the order of the options and how each was written', () => {
    const o = parseOptions('demo', SPECS, ['--port', '1', '-R', '-p', '2']);
    assert.deepEqual(
      o.occurrences.map((x) => [x.spec.name, x.value, x.shown]),
      [
        ['port', '1', '--port'],
        ['round-robin', '', '-R'],
        ['port', '2', '-p'],
      ],
    );
    assert.equal(o.value('port'), '2', 'the last value wins');
    assert.equal(o.shown('port'), '-p');
    assert.equal(o.shown('store'), '--store', 'an option not given is named by its long form');
  });

  it('collects repeated values of a list option and refuses a second once option', () => {
    refused(
      ['--store', 'a', '--store', 'b'],
      'REPEATED',
      '--store given twice; gearbox demo takes only one',
    );
    assert.deepEqual(parseOptions('demo', SPECS, ['-L', 'a', '-L', 'b']).values('listen'), [
      'a',
      'b',
    ]);
  });

  it('takes arguments only where the command does, and everything after --', () => {
    refused(['x'], 'UNKNOWN_FLAG', "unexpected argument 'x' (gearbox demo takes only options)");
    const o = parseOptions('demo', SPECS, ['-R', 'cmd', '--', '-p', 'x'], { positionals: true });
    assert.deepEqual(o.positionals, ['cmd', '-p', 'x']);
    assert.equal(o.has('port'), false);
  });

  it('refuses unknown options, missing values and values given to switches', () => {
    refused(['--bogus'], 'UNKNOWN_FLAG', 'unknown option --bogus');
    refused(['--bogus=1'], 'UNKNOWN_FLAG', 'unknown option --bogus');
    refused(['-Z'], 'UNKNOWN_FLAG', 'unknown option -Z');
    refused(['-RZ'], 'UNKNOWN_FLAG', 'unknown option -Z');
    refused(['--v'], 'UNKNOWN_FLAG', 'unknown option --v');
    refused(['--port'], 'MISSING_VALUE', '--port needs a value (PORT)');
    refused(['-p'], 'MISSING_VALUE', '-p needs a value (PORT)');
    refused(['--round-robin=yes'], 'BAD_VALUE', '--round-robin takes no value');
  });

  it('prints a usage error in one format for every command', () => {
    assert.equal(
      usageLine('worker', 'unknown option --bogus'),
      'gearbox worker: unknown option --bogus (see gearbox worker --help)',
    );
    assert.equal(
      usageLine(undefined, "unknown command 'x'"),
      "gearbox: unknown command 'x' (see gearbox --help)",
    );
  });

  it('renders every option with its default, repeatable ones marked, in sections', () => {
    const help = formatHelp({ usage: 'usage: gearbox demo', about: 'Demonstrates.' }, [
      ...SPECS,
      { name: 'table', value: 'NAME', help: 'a table', default: 'jobs', section: 'store' },
    ]);
    const lines = help.split('\n');
    assert.equal(lines[0], 'usage: gearbox demo');
    assert.ok(lines.includes('  -p, --port PORT               the port (default 4730)'), help);
    assert.ok(lines.some((l) => /^ {2}-L, --listen ADDRESS +an address \(repeatable\)$/.test(l)));
    assert.ok(lines.some((l) => /^ {2}-v +more verbose$/.test(l)));
    assert.ok(lines.some((l) => /^ {6}--help +this text$/.test(l)));
    assert.ok(lines.indexOf('store:') < lines.findIndex((l) => l.includes('--table NAME')));
    assert.match(help, /--table NAME +a table \(default jobs\)/);
    assert.match(help, /--store may be\s+given only once\.$/);
    for (const line of lines) assert.ok(line.length <= 100, `wrapped: ${line}`);
  });
});

describe('the shared server-list options', () => {
  const specs = [...serverListOptions()];
  const servers = (argv: string[]) => serversFromOptions(parseOptions('demo', specs, argv));

  it('take -h hosts (lists, own ports), --servers and -p for bare hosts', () => {
    // The library's default too: one default host everywhere.
    assert.deepEqual(servers([]), [{ host: '127.0.0.1', port: 4730 }]);
    assert.deepEqual(servers(['-h', 'a,b:4731', '--servers', '[::1]:4732', '-p', '4740']), [
      { host: 'a', port: 4740 },
      { host: 'b', port: 4731 },
      { host: '::1', port: 4732 },
    ]);
  });

  it('refuse a bad port or address as a usage error', () => {
    assert.throws(() => servers(['-p', 'http']), /^UsageError: -p: 'http' is not a whole number/);
    assert.throws(() => servers(['--port', '0']), /--port: 0 is out of range/);
    assert.throws(
      () => servers(['-h', '[::1']),
      (err: unknown) => err instanceof UsageError && /missing '\]'/.test(err.message),
    );
  });
});
