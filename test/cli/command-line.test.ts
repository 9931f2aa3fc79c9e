/**
 * What every `gearbox` command does with a command line, through the real binary: one shared
 * usage-error format with status 2, and a `--help` that lists every option with its default.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ADMIN_OPTIONS } from '../../src/cli/admin.js';
import type { OptionSpec } from '../../src/cli/options.js';
import { SCHEDULER_OPTIONS } from '../../src/cli/scheduler.js';
import { SERVER_FLAGS } from '../../src/cli/server-flags.js';
import { SUBMIT_OPTIONS } from '../../src/cli/submit.js';
import { WORKER_OPTIONS } from '../../src/cli/worker.js';
import { parseServers } from '../../src/connection/server-address.js';
import { SCHEDULER_DEFAULTS } from '../../src/scheduler/defaults.js';
import { runGearbox } from '../helpers/gearbox-cli.js';

interface Command {
  readonly name: string;
  readonly specs: readonly OptionSpec[];
  /** Value options that have no default: required ones, actions, lists of servers. */
  readonly noDefault: readonly string[];
  /** A command line whose last option lacks its value, and one with a bad value. */
  readonly missing: readonly string[];
  readonly bad: readonly string[];
  readonly badMessage: RegExp;
}

const COMMANDS: readonly Command[] = [
  {
    name: 'server',
    specs: SERVER_FLAGS,
    noDefault: [
      'store',
      'libsqlite3-db',
      'libpq-conninfo',
      'mysql-db',
      'keepalive-interval',
      'keepalive-count',
      'threads',
      'file-descriptors',
    ],
    missing: ['--port'],
    bad: ['--backlog', 'lots'],
    badMessage: /^--backlog: 'lots' is not a whole number$/,
  },
  {
    name: 'submit',
    specs: SUBMIT_OPTIONS,
    noDefault: ['function', 'servers'],
    missing: ['-f'],
    bad: ['-f', 'x', '-t', 'soon'],
    badMessage: /^-t must be a positive integer$/,
  },
  {
    name: 'worker',
    specs: WORKER_OPTIONS,
    noDefault: ['function', 'servers', 'id'],
    missing: ['-f', 'x', '--count'],
    bad: ['-f', 'x', '-c', '0'],
    badMessage: /^-c must be a positive integer$/,
  },
  {
    name: 'admin',
    specs: ADMIN_OPTIONS,
    noDefault: ['servers', 'cancel-job', 'create-function', 'drop-function'],
    missing: ['--status', '--interval'],
    bad: ['--status', '-p', 'http'],
    badMessage: /^-p: 'http' is not a whole number$/,
  },
  {
    name: 'scheduler',
    specs: SCHEDULER_OPTIONS,
    noDefault: ['store', 'servers', 'history'],
    missing: ['--store'],
    bad: ['--store', 'sqlite:/nonexistent/s.sqlite', '--batch', 'many'],
    badMessage: /^--batch must be a positive integer$/,
  },
];

/** The `--help` entry of each option (continuation lines joined), by its first line's start. */
function helpEntries(help: string): string[] {
  const entries: string[] = [];
  for (const line of help.split('\n')) {
    if (/^ {2}(-\S| {4}--)/.test(line)) entries.push(line.trim());
    else if (/^ {30,}\S/.test(line) && entries.length > 0)
      entries[entries.length - 1] += ` ${line.trim()}`;
  }
  return entries;
}

function names(spec: OptionSpec): string {
  if (spec.shortOnly) return `-${spec.short ?? ''}`;
  return `${spec.short ? `-${spec.short}, ` : ''}--${spec.name}${spec.value ? ` ${spec.value}` : ''}`;
}

/** Asserts the one usage-error format: a single stderr line, nothing on stdout, status 2. */
async function refusedWith(command: string, args: readonly string[], message: RegExp) {
  const result = await runGearbox([command, ...args]);
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, '');
  const match = /^gearbox (\S+): (.*) \(see gearbox (\S+) --help\)\n$/.exec(result.stderr);
  assert.ok(match, `one line in the shared format: ${JSON.stringify(result.stderr)}`);
  assert.equal(match[1], command);
  assert.equal(match[3], command);
  assert.match(match[2] ?? '', message);
}

for (const command of COMMANDS) {
  describe(`gearbox ${command.name}: the command line`, () => {
    it('refuses an unknown option, a missing value and a bad value with status 2', async () => {
      await refusedWith(command.name, ['--bogus'], /^unknown option --bogus$/);
      const last = command.missing.at(-1) ?? '';
      await refusedWith(command.name, command.missing, new RegExp(`^${last} needs a value \\(`));
      await refusedWith(command.name, command.bad, command.badMessage);
    });

    it('lists every option in --help with its default', async () => {
      const result = await runGearbox([command.name, '--help']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
      assert.match(result.stdout, new RegExp(`^usage: gearbox ${command.name} `));
      const entries = helpEntries(result.stdout);
      for (const spec of command.specs) {
        const entry = entries.find((e) => e.startsWith(`${names(spec)} `));
        assert.ok(entry, `--help lists ${names(spec)}`);
        if (spec.default !== undefined)
          assert.ok(entry.includes(`(default ${spec.default})`), entry);
        else if (spec.value !== undefined)
          assert.ok(
            command.noDefault.includes(spec.name),
            `${names(spec)} takes a value and shows no default: give it one or list it here`,
          );
      }
      assert.equal(entries.length, command.specs.length, 'no option listed twice');
    });
  });
}

describe('one default job server for the CLIs and the library', () => {
  it('every command that connects says 127.0.0.1 in --help, the library default', async () => {
    const [library] = parseServers(undefined);
    assert.deepEqual(library, { host: '127.0.0.1', port: 4730 });
    for (const name of ['submit', 'worker', 'admin', 'scheduler']) {
      const help = helpEntries((await runGearbox([name, '--help'])).stdout);
      const host = help.find((e) => e.startsWith('-h, --host HOST '));
      const port = help.find((e) => e.startsWith('-p, --port PORT '));
      assert.ok(host?.endsWith(`(default ${library?.host})`), `${name}: ${host}`);
      assert.ok(port?.endsWith(`(default ${library?.port})`), `${name}: ${port}`);
    }
  });
});

describe('gearbox scheduler: defaults written once', () => {
  it("--help shows the library's own defaults", async () => {
    const help = helpEntries((await runGearbox(['scheduler', '--help'])).stdout);
    const shown = (name: string): string | undefined =>
      /\(default ([^)]+)\)/.exec(help.find((e) => e.includes(`--${name} `)) ?? '')?.[1];
    const d = SCHEDULER_DEFAULTS;
    assert.equal(shown('table'), d.table);
    assert.equal(shown('prefix'), d.functionPrefix);
    assert.equal(Number(shown('lease')) * 1000, d.leaseMs);
    assert.equal(Number(shown('poll')) * 1000, d.pollIntervalMs);
    assert.equal(Number(shown('batch')), d.batchSize);
    assert.equal(Number(shown('max-in-flight')), d.maxInFlight);
    assert.equal(Number(shown('stop-grace')) * 1000, d.stopGraceMs);
    assert.equal(Number(shown('max-attempts')), d.maxAttempts);
    assert.equal(Number(shown('backoff')), d.backoffSeconds);
    assert.equal(Number(shown('keep-finished')) * 1000, d.keepFinishedMs);
  });

  it('refuses a second --store: one store per instance for now', async () => {
    await refusedWith(
      'scheduler',
      ['--store', 'sqlite:/tmp/a.sqlite', '--store', 'sqlite:/tmp/b.sqlite'],
      /^--store given twice; gearbox scheduler takes only one$/,
    );
  });
});

describe('gearbox submit and admin: an option that cannot be repeated', () => {
  it('is refused instead of silently dropping the first value', async () => {
    await refusedWith('submit', ['-f', 'a', '-f', 'b', 'x'], /^-f given twice/);
    await refusedWith('admin', ['--cancel-job', 'H:1', '--cancel-job', 'H:2'], /given twice/);
  });
});

describe('gearbox', () => {
  it('prints its version with --version and -V', async () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await runGearbox([flag]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `gearbox ${pkg.version}\n`);
    }
  });

  it('gearbox help COMMAND prints what gearbox COMMAND --help prints', async () => {
    for (const name of [...COMMANDS.map((c) => c.name), 'bench']) {
      const [viaHelp, direct] = await Promise.all([
        runGearbox(['help', name]),
        runGearbox([name, '--help']),
      ]);
      assert.equal(viaHelp.code, 0, viaHelp.stderr);
      assert.ok(viaHelp.stdout.startsWith('usage: '), viaHelp.stdout);
      assert.equal(viaHelp.stdout, direct.stdout);
    }
    const overview = await runGearbox(['help']);
    assert.equal(overview.code, 0);
    assert.match(overview.stdout, /^usage: gearbox <command>/);
  });

  it('refuses an unknown command or option in the shared format', async () => {
    for (const [args, message] of [
      [['nosuch'], "gearbox: unknown command 'nosuch' (see gearbox --help)\n"],
      [['help', 'nosuch'], "gearbox: unknown command 'nosuch' (see gearbox --help)\n"],
      [['--bogus'], 'gearbox: unknown option --bogus (see gearbox --help)\n'],
    ] as const) {
      const result = await runGearbox(args);
      assert.equal(result.code, 2);
      assert.equal(result.stderr, message);
    }
  });
});
