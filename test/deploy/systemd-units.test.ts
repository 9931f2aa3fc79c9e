/**
 * The systemd units under deploy/systemd/: `systemd-analyze verify` accepts them without a
 * single warning, `systemd-analyze security` rates their hardening as good, and the command
 * line and environment each unit gives its service start a real server (or scheduler).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { AdminClient } from '../../src/index.js';
import { spawnGearbox, startGearboxServer } from '../helpers/gearbox-cli.js';
import { eventually } from '../helpers/lib-servers.js';
import { freePort, waitForPort } from '../helpers/processes.js';
import { skipUnless, tools } from '../helpers/services.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const unitDir = join(repo, 'deploy', 'systemd');
const UNITS = ['gearbox-server.service', 'gearbox-scheduler.service'] as const;

/** The `[Service]` settings of a unit, each key with all its values in order. */
function serviceSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1] ?? '';
      continue;
    }
    const eq = line.indexOf('=');
    if (section !== 'Service' || eq === -1) continue;
    const key = line.slice(0, eq);
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1)]);
  }
  return settings;
}

function run(
  file: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/**
 * The units as installed, with `ExecStart=gearbox` pointing at this checkout's binary (verify
 * checks that the program exists; an installed package puts `gearbox` on systemd's PATH).
 */
function installedCopies(): { dir: string; paths: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'gearbox-units-'));
  const paths = UNITS.map((name) => {
    const text = readFileSync(join(unitDir, name), 'utf8');
    assert.match(text, /^ExecStart=gearbox /m, `${name} runs gearbox from systemd's PATH`);
    const path = join(dir, name);
    writeFileSync(
      path,
      text.replace(/^ExecStart=gearbox /m, `ExecStart=${join(repo, 'bin', 'gearbox.js')} `),
    );
    return path;
  });
  return { dir, paths };
}

describe(
  'deploy/systemd units',
  { skip: await skipUnless('systemd units', 'systemd-analyze') },
  () => {
    it('pass systemd-analyze verify without a warning', async () => {
      const { dir, paths } = installedCopies();
      try {
        const result = await run(tools.systemdAnalyze, ['verify', ...paths]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stderr, '', 'no directive ignored or misspelt');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('are hardened: systemd-analyze security rates each one 2.0 or better', async () => {
      const { dir, paths } = installedCopies();
      try {
        for (const path of paths) {
          const result = await run(tools.systemdAnalyze, [
            'security',
            '--offline=yes',
            '--threshold=20',
            '--no-pager',
            path,
          ]);
          const level = /Overall exposure level for \S+: (\d+\.\d)/.exec(result.stdout)?.[1];
          assert.equal(result.code, 0, `${path}: exposure ${String(level)}\n${result.stderr}`);
          assert.ok(Number(level) <= 2, `${path}: exposure ${String(level)}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);

describe('deploy/systemd units: what they run', () => {
  for (const name of UNITS) {
    it(`${name}: restarts on failure, as a user of its own, with its state directory`, () => {
      const s = serviceSettings(readFileSync(join(unitDir, name), 'utf8'));
      assert.deepEqual(s.get('Type'), ['simple']);
      assert.deepEqual(s.get('Restart'), ['on-failure']);
      assert.deepEqual(s.get('DynamicUser'), ['yes']);
      assert.ok(s.get('User')?.[0]?.startsWith('gearbox'));
      assert.equal(s.get('StateDirectory')?.length, 1);
      // V8 needs writable code pages: this setting would stop node at start.
      assert.equal(s.get('MemoryDenyWriteExecute'), undefined);
    });
  }

  /**
   * The unit's ExecStart and Environment, with `%S` (systemd's state root) a temp directory
   * and `gearbox` this checkout's CLI.
   */
  function commandOf(
    name: string,
    stateRoot: string,
  ): { args: string[]; env: Record<string, string> } {
    const s = serviceSettings(readFileSync(join(unitDir, name), 'utf8'));
    const env: Record<string, string> = {};
    for (const assignment of s.get('Environment') ?? []) {
      const eq = assignment.indexOf('=');
      env[assignment.slice(0, eq)] = assignment.slice(eq + 1).replaceAll('%S', stateRoot);
    }
    const [program, ...args] = (s.get('ExecStart')?.[0] ?? '').split(/\s+/);
    assert.equal(program, 'gearbox');
    return { args, env };
  }

  /** Runs a unit's command line; `stop()` sends SIGTERM (systemctl stop) and gives the status. */
  function startUnitCommand(args: string[], env: Record<string, string>) {
    const child = spawnGearbox(args, env);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    return {
      pid: child.pid,
      stderr: () => stderr,
      async stop(): Promise<number | null> {
        if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
        if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
        const [code] = (await once(child, 'exit')) as [number | null];
        return code;
      },
    };
  }

  it('gearbox-server.service: its command line starts a server that keeps jobs in the state directory', async () => {
    const stateRoot = mkdtempSync(join(tmpdir(), 'gearbox-state-'));
    mkdirSync(join(stateRoot, 'gearbox'));
    const { args, env } = commandOf('gearbox-server.service', stateRoot);
    const port = await freePort();
    const portAt = args.indexOf('-p');
    assert.ok(portAt !== -1 && args[portAt + 1] === '4730', args.join(' '));
    args[portAt + 1] = String(port);
    const unit = startUnitCommand(args, env);
    try {
      await waitForPort(port);
      await eventually(() => /listening on/.test(unit.stderr()), 5000, 'the start line');
      assert.match(
        unit.stderr(),
        new RegExp(`jobs kept in sqlite:${join(stateRoot, 'gearbox', 'queue.sqlite')}`),
      );
      const admin = new AdminClient({ server: `127.0.0.1:${port}` });
      assert.equal(await admin.getPid(), unit.pid);
      await admin.close();
    } finally {
      const code = await unit.stop();
      rmSync(stateRoot, { recursive: true, force: true });
      assert.equal(code, 0, 'SIGTERM (systemctl stop) is a clean exit');
    }
  });

  it('gearbox-scheduler.service: its command line starts a scheduler on a SQLite store in its state directory', async () => {
    const stateRoot = mkdtempSync(join(tmpdir(), 'gearbox-state-'));
    // systemd makes the state directory before the start (StateDirectory=).
    mkdirSync(join(stateRoot, 'gearbox-scheduler'));
    const { args, env } = commandOf('gearbox-scheduler.service', stateRoot);
    const server = await startGearboxServer(['-q', 'builtin']);
    // $GEARBOX_SCHEDULER_FLAGS comes from the unit's EnvironmentFile: here, the test's server.
    const flags = args.indexOf('$GEARBOX_SCHEDULER_FLAGS');
    assert.ok(flags !== -1, args.join(' '));
    args.splice(flags, 1, '-p', String(server.port));
    const unit = startUnitCommand(args, env);
    try {
      await eventually(() => /gearbox scheduler: .*pid/.test(unit.stderr()), 10_000, 'the start');
      const store = join(stateRoot, 'gearbox-scheduler', 'scheduler.sqlite');
      assert.ok(unit.stderr().includes(store), unit.stderr());
    } finally {
      const code = await unit.stop();
      await server.stop();
      rmSync(stateRoot, { recursive: true, force: true });
      assert.equal(code, 0, `SIGTERM is a clean exit: ${unit.stderr()}`);
    }
  });
});
