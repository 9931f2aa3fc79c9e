/**
 * `gearbox bench` finds the compiled benchmark only in a source checkout (the package ships
 * `dist/src`, not `dist/bench`), and says so plainly elsewhere instead of an
 * ERR_MODULE_NOT_FOUND stack.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BENCH_NEEDS_CHECKOUT } from '../../src/cli/main.js';
import { runGearbox } from '../helpers/gearbox-cli.js';

/** The compiled tree this test runs from (`dist/`, or GEARBOX_DIST) and the checkout above it. */
const distRoot = fileURLToPath(new URL('../../', import.meta.url));

function checkoutRoot(): string {
  for (let dir = distRoot; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (
      existsSync(file) &&
      (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'gearbox'
    )
      return dir;
  }
  throw new Error(`no gearbox package.json above ${distRoot}`);
}

async function run(
  file: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

describe('gearbox bench', () => {
  it('runs the compiled benchmark in a checkout (its --help)', async () => {
    const result = await runGearbox(['bench', '--help']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^usage: node dist\/bench\/run\.js \[options\]/);
    assert.match(result.stdout, /--scenario LIST/);
  });

  it('outside a checkout, says it runs only in one, with status 2 and no stack', async () => {
    const root = checkoutRoot();
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      files: string[];
      bin: Record<string, string>;
    };
    // What `npm install gearbox` puts on disk: package.json plus the "files" entries.
    assert.deepEqual(
      pkg.files.filter((f) => f.includes('bench') || f === 'dist'),
      [],
    );
    const install = mkdtempSync(join(tmpdir(), 'gearbox-installed-'));
    try {
      cpSync(join(root, 'package.json'), join(install, 'package.json'));
      for (const entry of pkg.files) {
        const from = entry.startsWith('dist/') ? join(distRoot, entry.slice(5)) : join(root, entry);
        cpSync(from, join(install, entry), { recursive: true });
      }
      const bin = join(install, pkg.bin.gearbox ?? 'bin/gearbox.js');
      // The copy is a working gearbox: only the benchmark is missing.
      const version = await run(bin, ['--version']);
      assert.equal(version.code, 0, version.stderr);
      for (const args of [['bench'], ['bench', '--help'], ['help', 'bench']]) {
        const result = await run(bin, args);
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
