/**
 * A client-only install is light (issue 10, part 8). The package is packed once and installed
 * into one empty project, as `npm install gearbox` would: that adds gearbox alone — no database
 * driver (they are optional peers), nothing to compile — and `Client`, `Worker` and
 * `AdminClient` run a job there, with every driver proven absent by the script's own `import()`.
 * The server installed that way names the package a store needs and the flag that chose the
 * store, and runs with `-q builtin` without any driver.
 */
import assert from 'node:assert/strict';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { STORE_DRIVERS } from '../../src/sql/store-drivers.js';
import { startGearboxServer } from '../helpers/gearbox-cli.js';
import { checkoutRoot, copyPackageFiles, type PackageJson } from '../helpers/package-files.js';
import { freePort, runToEnd, startProcess, type ProcessResult } from '../helpers/processes.js';

const DRIVERS = Object.values(STORE_DRIVERS).map((d) => d.driver);

/**
 * The packages a client-only install may add besides gearbox. A runtime dependency
 * in package.json's `dependencies` reaches every client and must be listed here, with its own
 * dependencies, so that the client grows by decision; one that only the server side needs goes
 * with the drivers in the optional peers (docs/architecture.md, "A light client install").
 */
const CLIENT_INSTALL_EXTRAS: readonly string[] = [
  // Pure-JS runtime dependencies of the server side (metrics, config files, the manager's
  // watch), small enough to install for everyone; no driver, no native addon, no install script.
  '@opentelemetry/api',
  'bintrees',
  'chokidar',
  'prom-client',
  'readdirp',
  'tdigest',
  'yaml',
];

/**
 * The program a client-only project would write: a worker, a client and an admin client, one
 * job. It first tries to import every driver, so that the test sees from inside the project
 * that none can be loaded (an `import()` is what Gearbox's lazy loading does). Plain JS with
 * JSDoc, so that tsc can check it against the installed type declarations as well.
 */
const CLIENT_SCRIPT = `// @ts-check
import { AdminClient, Client, Worker } from 'gearbox';

const [port, ...drivers] = process.argv.slice(2);
const servers = \`127.0.0.1:\${port}\`;
/** @type {string[]} */
const importable = [];
for (const driver of drivers) {
  try {
    await import(driver);
    importable.push(driver);
  } catch (err) {
    if (/** @type {{ code?: unknown }} */ (err).code !== 'ERR_MODULE_NOT_FOUND') throw err;
  }
}
const worker = new Worker({ servers });
worker.register('reverse', (job) => job.text().split('').reverse().join(''));
await worker.start();
const client = new Client({ servers, timeout: 10_000 });
const admin = new AdminClient({ server: servers, timeout: 10_000 });
try {
  const result = await client.run('reverse', 'hello');
  const functions = (await admin.status()).map((f) => f.name);
  console.log(JSON.stringify({ result: result.text(), functions, importable }));
} finally {
  await admin.close();
  await client.close();
  await worker.stop();
}
`;

/** This environment without npm's own variables (`npm test` sets npm_config_local_prefix &c.). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

function npm(args: string[], cwd: string): Promise<ProcessResult> {
  return runToEnd('npm', args, { cwd, env: cleanEnv(), timeoutMs: 120_000 });
}

/** Every path under `dir` whose name matches. */
function findFiles(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => pattern.test(p));
}

describe('a client-only install', () => {
  let work = '';
  let project = '';
  let installedBin = '';
  let packed: PackageJson;
  let tarball = '';
  let packedBytes = 0;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'gearbox-client-install-'));
    const staged = join(work, 'package');
    packed = copyPackageFiles(staged);
    const pack = await npm(
      ['pack', '--ignore-scripts', '--json', '--pack-destination', work],
      staged,
    );
    assert.equal(pack.code, 0, pack.stderr);
    const [info] = JSON.parse(pack.stdout) as { filename: string; size: number }[];
    assert.ok(info);
    tarball = join(work, info.filename);
    packedBytes = info.size;

    project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'client-only', private: true, type: 'module' }),
    );
    writeFileSync(join(project, 'client-job.mjs'), CLIENT_SCRIPT);
    // --ignore-scripts: for a file: tarball, unlike a registry package, npm would run (npm 11:
    // hold back and warn about) gearbox's own `prepare`, the checkout's build. Whether any installed package has an install script
    // is read from the lock file below, which records it whether scripts run or not.
    const install = await npm(
      ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball],
      project,
    );
    assert.equal(install.code, 0, install.stderr);
    installedBin = join(project, 'node_modules', '.bin', 'gearbox');
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('adds gearbox alone: no database driver, no install script, no native addon', (t) => {
    for (const driver of DRIVERS) {
      assert.equal(packed.dependencies?.[driver], undefined, `${driver} is a dependency`);
      assert.ok(packed.peerDependencies?.[driver], `${driver} is not a peer dependency`);
      assert.equal(packed.peerDependenciesMeta?.[driver]?.optional, true, `${driver} not optional`);
    }
    const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    assert.deepEqual(
      Object.keys(lock.packages).sort(),
      ['', ...['gearbox', ...CLIENT_INSTALL_EXTRAS].map((name) => `node_modules/${name}`)].sort(),
    );
    assert.deepEqual(
      Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript),
      [],
      'a package with an install script',
    );
    const modules = join(project, 'node_modules');
    assert.deepEqual(findFiles(modules, /(^|\/)(binding\.gyp|[^/]+\.node)$/), []);
    t.diagnostic(
      `${tarball}: ${Math.round(packedBytes / 1024)} KiB packed, ` +
        `${findFiles(modules, /\.js$/).length} .js files installed`,
    );
  });

  it('runs a job with Client, Worker and AdminClient against gearbox server', async () => {
    const server = await startGearboxServer(['-q', 'builtin']);
    try {
      const run = await runToEnd(
        process.execPath,
        ['client-job.mjs', String(server.port), ...DRIVERS],
        { cwd: project, env: cleanEnv() },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), {
        result: 'olleh',
        functions: ['reverse'],
        importable: [],
      });
    } finally {
      await server.stop();
    }
  });

  it("type-checks against the installed declarations without any driver's types", async () => {
    // A TypeScript project has @types/node; nothing else is added.
    const types = join(project, 'node_modules', '@types');
    const checkout = join(checkoutRoot(), 'node_modules');
    cpSync(join(checkout, '@types', 'node'), join(types, 'node'), { recursive: true });
    cpSync(join(checkout, 'undici-types'), join(project, 'node_modules', 'undici-types'), {
      recursive: true,
    });
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2022',
          strict: true,
          allowJs: true,
          checkJs: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
        },
        files: ['client-job.mjs'],
      }),
    );
    for (const driver of DRIVERS)
      assert.deepEqual(findFiles(types, new RegExp(`^${driver}(/|$)`)), []);
    const tsc = join(checkout, 'typescript', 'bin', 'tsc');
    const check = await runToEnd(process.execPath, [tsc, '-p', 'tsconfig.json'], {
      cwd: project,
      timeoutMs: 60_000,
    });
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });

  it('the installed server names the package a store needs and the flag that chose it', async () => {
    const port = String(await freePort());
    const data = join(work, 'data');
    const cases: [string[], string][] = [
      [
        ['server', '-p', port],
        'gearbox server: the SQLite store needs the `better-sqlite3` package: npm install ' +
          'better-sqlite3 (SQLite is the default store; -q builtin keeps jobs in memory only)',
      ],
      [
        ['server', '-p', port, '--libsqlite3-db', join(data, 'q.sqlite')],
        'gearbox server: --libsqlite3-db: the SQLite store needs the `better-sqlite3` package: ' +
          'npm install better-sqlite3',
      ],
      [
        ['server', '-p', port, '-q', 'libpq'],
        'gearbox server: -q libpq: the PostgreSQL store needs the `pg` package: npm install pg',
      ],
      [
        ['server', '-p', port, '--store', 'mysql://root@127.0.0.1:1/gearbox'],
        'gearbox server: --store: the MySQL/MariaDB store needs the `mysql2` package: ' +
          'npm install mysql2',
      ],
      [
        ['server', '-p', port, '-q', 'redis'],
        'gearbox server: -q redis: the Redis store needs the `ioredis` package: npm install ioredis',
      ],
      [
        [
          'scheduler',
          '--store',
          `sqlite:${join(data, 'sched.sqlite')}`,
          '--servers',
          `127.0.0.1:${port}`,
        ],
        'gearbox scheduler: --store: the SQLite store needs the `better-sqlite3` package: ' +
          'npm install better-sqlite3',
      ],
    ];
    const env = { ...cleanEnv(), GEARBOX_DATA_DIR: data };
    for (const [args, message] of cases) {
      const run = await runToEnd(process.execPath, [installedBin, ...args], { cwd: project, env });
      assert.equal(run.stderr, `${message}\n`, args.join(' '));
      assert.notEqual(run.code, 0, args.join(' '));
    }
  });

  it('the installed server runs with -q builtin, and the client runs a job on it', async () => {
    const port = await freePort();
    const server = await startProcess(
      process.execPath,
      [installedBin, 'server', '-L', '127.0.0.1', '-p', String(port), '-q', 'builtin'],
      port,
    );
    try {
      const run = await runToEnd(process.execPath, ['client-job.mjs', String(port)], {
        cwd: project,
        env: cleanEnv(),
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal((JSON.parse(run.stdout) as { result: string }).result, 'olleh');
    } finally {
      await server.stop();
    }
    assert.match(server.stderr(), /jobs kept in memory only \(-q builtin\)/);
  });
});
