/**
 * `gearbox bench` finds the compiled benchmark only in a source checkout (the package ships
 * `dist/src`, not `dist/bench`), and says so plainly elsewhere instead of an
 * ERR_MODULE_NOT_FOUND stack.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BENCH_NEEDS_CHECKOUT } from '../../src/cli/main.js';
import { runGearbox } from '../helpers/gearbox-cli.js';
import { copyPackageFiles } from '../helpers/package-files.js';
import { runToEnd } from '../helpers/processes.js';

describe('gearbox bench', () => {
  it('runs the compiled benchmark in a checkout (its --help)', async () => {
    const result = await runGearbox(['bench', '--help']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^usage: node dist\/bench\/run\.js \[options\]/);
    assert.match(result.stdout, /--scenario LIST/);
  });

  it('outside a checkout, says it runs only in one, with status 2 and no stack', async () => {
    const install = mkdtempSync(join(tmpdir(), 'gearbox-installed-'));
    try {
      // What `npm install gearbox` puts on disk: package.json plus the "files" entries.
      const pkg = copyPackageFiles(install);
      assert.deepEqual(
        pkg.files.filter((f) => f.includes('bench') || f === 'dist'),
        [],
      );
      const bin = join(install, pkg.bin.gearbox ?? 'bin/gearbox.js');
      // The copy is a working gearbox: only the benchmark is missing.
      const version = await runToEnd(process.execPath, [bin, '--version']);
      assert.equal(version.code, 0, version.stderr);
      for (const args of [['bench'], ['bench', '--help'], ['help', 'bench']]) {
        const result = await runToEnd(process.execPath, [bin, ...args]);
        assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
        assert.equal(result.stdout, '');
        assert.equal(result.stderr, `${BENCH_NEEDS_CHECKOUT}\n`);
      }
      assert.equal(
        BENCH_NEEDS_CHECKOUT,
        'gearbox bench runs only in a Gearbox source checkout (npm run bench)',
      );
    } finally {
      rmSync(install, { recursive: true, force: true });
    }
  });
});
