/**
 * What `npm pack` puts in the package: the build, its sources (so that the source maps
 * resolve: `node --enable-source-maps` then points a stack trace at the TypeScript line), the
 * binary, the systemd units and the legal files — and no tests, benchmarks or examples.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

interface PackEntry {
  readonly path: string;
}

/** `npm pack --dry-run --json`, without the build scripts (the tests run from this build). */
function packList(): Promise<string[]> {
  return new Promise((resolve, reject) =>
    execFile(
      'npm',
      ['pack', '--dry-run', '--json', '--ignore-scripts'],
      { cwd: repo, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout) => {
        if (err) return reject(new Error(err.message, { cause: err }));
        const [pack] = JSON.parse(stdout) as Array<{ files: PackEntry[] }>;
        resolve((pack?.files ?? []).map((f) => f.path));
      },
    ),
  );
}

describe('the npm package', () => {
  let files: string[];
  before(async () => {
    files = await packList();
  });

  it('holds the build, its sources, the binary, the units and the legal files', () => {
    for (const path of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'bin/gearbox.js',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/server/index.js',
      'dist/src/scheduler/index.js',
      'dist/src/cli/main.js',
      'src/index.ts',
      'deploy/systemd/gearbox-server.service',
      'deploy/systemd/gearbox-scheduler.service',
    ])
      assert.ok(files.includes(path), `${path} is packed`);
    // Every entry point package.json names is in the package.
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; default: string }>;
    };
    for (const entry of Object.values(pkg.exports))
      for (const path of [entry.types, entry.default])
        assert.ok(files.includes(posix.normalize(path)), `${path} is packed`);
  });

  it('holds no tests, benchmarks, examples or build scripts', () => {
    const unwanted = files.filter(
      (f) =>
        /(^|\/)test\//.test(f) ||
        /\.test\.(js|ts|d\.ts)$/.test(f) ||
        /(^|\/)bench\//.test(f) ||
        f.startsWith('examples/') ||
        f.startsWith('scripts/') ||
        f.startsWith('.ci/') ||
        f.startsWith('node_modules/'),
    );
    assert.deepEqual(unwanted, []);
  });

  it('has source maps that resolve to sources it ships', () => {
    const maps = files.filter((f) => f.endsWith('.js.map'));
    assert.ok(maps.length > 10, 'the build has maps');
    const missing: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot = '' } = JSON.parse(readFileSync(join(repo, map), 'utf8')) as {
        sources: string[];
        sourceRoot?: string;
      };
      for (const source of sources) {
        const path = posix.normalize(posix.join(dirname(map), sourceRoot, source));
        if (!files.includes(path)) missing.push(`${map} → ${path}`);
      }
    }
    // A stale dist/ (build output of a source that is gone, after a rename) fails here too:
    // npm pack cleans it first (prepack); a checkout needs `rm -rf dist && npm run build`.
    assert.deepEqual(
      missing,
      [],
      'maps without their source: a stale dist/? rm -rf dist && npm run build',
    );
    for (const js of files.filter((f) => f.startsWith('dist/src/') && f.endsWith('.js')))
      assert.ok(files.includes(`${js}.map`), `${js} has its map`);
  });
});
