/**
 * Finds the real services and tools the tests talk to, from environment variables with the
 * development machine's addresses as defaults. A missing one skips the tests that need it —
 * loudly, through the runner's skip report — unless GEARBOX_REQUIRE_SERVICES=1 (set by .ci/run),
 * where a missing one fails the test file instead.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Something a test may need. */
export type ServiceName =
  | 'postgres'
  | 'mysql'
  | 'redis'
  | 'gearmand'
  | 'gearman-tools'
  | 'php-gearman'
  | 'perl-gearman'
  | 'tmpfs'
  | 'systemd-analyze'
  | 'script';

/** Connection URLs of the databases, from the environment or the machine's defaults. */
export const serviceUrls = {
  postgres: process.env.GEARBOX_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test',
  mysql: process.env.GEARBOX_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/test',
  redis: process.env.GEARBOX_TEST_REDIS ?? 'redis://127.0.0.1:6379',
};

/** Paths of the third-party binaries. */
export const tools = {
  gearmand: process.env.GEARMAND_BIN ?? 'gearmand',
  gearman: process.env.GEARMAN_BIN ?? 'gearman',
  gearadmin: process.env.GEARADMIN_BIN ?? 'gearadmin',
  php: process.env.PHP_BIN ?? 'php',
  perl: process.env.PERL_BIN ?? 'perl',
  /** systemd's unit checker (Debian's `systemd`). */
  systemdAnalyze: process.env.SYSTEMD_ANALYZE_BIN ?? 'systemd-analyze',
  /** util-linux's `script`, which runs a command on a pseudo-terminal. */
  script: process.env.SCRIPT_BIN ?? 'script',
};

function tcpReachable(url: string, fallbackPort: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname, port: Number(u.port || fallbackPort) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function runs(file: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 10_000 }, (err) => resolve(err === null));
  });
}

const probes: Record<ServiceName, () => Promise<boolean>> = {
  postgres: () => tcpReachable(serviceUrls.postgres, 5432),
  mysql: () => tcpReachable(serviceUrls.mysql, 3306),
  redis: () => tcpReachable(serviceUrls.redis, 6379),
  gearmand: () => runs(tools.gearmand, ['--version']),
  'gearman-tools': async () =>
    (await runs(tools.gearman, ['-H'])) && (await runs(tools.gearadmin, ['--help'])),
  'php-gearman': () => runs(tools.php, ['-r', 'exit(extension_loaded("gearman") ? 0 : 1);']),
  'perl-gearman': () => runs(tools.perl, ['-MGearman::Client', '-MGearman::Worker', '-e', '1']),
  // Debian's `systemd` package: checks the unit files under deploy/systemd.
  'systemd-analyze': () => runs(tools.systemdAnalyze, ['--version']),
  script: () => runs(tools.script, ['-qec', 'true', '/dev/null']),
  // A small file system of its own, to fill up: mounting one needs root.
  tmpfs: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gearbox-tmpfs-probe-'));
    try {
      if (!(await runs('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]))) return false;
      return await runs('umount', [dir]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

const cache = new Map<ServiceName, Promise<boolean>>();

/**
 * Resolves to `false` when every named service is there; otherwise to a skip reason for
 * `describe(name, { skip }, …)` — or throws, when GEARBOX_REQUIRE_SERVICES=1.
 */
export async function skipUnless(
  testName: string,
  ...needed: ServiceName[]
): Promise<false | string> {
  const missing: ServiceName[] = [];
  for (const name of needed) {
    let probe = cache.get(name);
    if (!probe) {
      probe = probes[name]();
      cache.set(name, probe);
    }
    if (!(await probe)) missing.push(name);
  }
  if (missing.length === 0) return false;
  const reason = `${testName}: ${missing.join(', ')} not available`;
  if (process.env.GEARBOX_REQUIRE_SERVICES === '1') {
    throw new Error(`${reason} (GEARBOX_REQUIRE_SERVICES=1 makes this a failure)`);
  }
  if (process.env.GEARBOX_SKIP_FILE) appendFileSync(process.env.GEARBOX_SKIP_FILE, `${reason}\n`);
  console.warn(`SKIPPED ${reason}`);
  return reason;
}
