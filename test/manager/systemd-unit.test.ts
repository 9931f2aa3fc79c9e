/** The systemd unit shipped for the manager passes `systemd-analyze verify` without a warning. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { skipUnless } from '../helpers/services.js';

/** The unit in the source tree, found upwards from this compiled file (any outDir). */
function unitFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    const candidate = join(dir, 'deploy', 'systemd', 'gearbox-manager.service');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('deploy/systemd/gearbox-manager.service not found above the tests');
}

describe(
  'deploy/systemd/gearbox-manager.service',
  { skip: await skipUnless('systemd unit check', 'systemd-analyze') },
  () => {
    it('passes systemd-analyze verify with nothing to say', async () => {
      const { code, output } = await new Promise<{ code: number; output: string }>((resolve) =>
        execFile(
          'systemd-analyze',
          ['verify', unitFile()],
          { timeout: 30_000 },
          (err, out, errText) => resolve({ code: err ? 1 : 0, output: `${out}${errText}` }),
        ),
      );
      // verify exits 0 on values it ignores, but says so: any output is a problem.
      assert.equal(output, '');
      assert.equal(code, 0);
    });
  },
);
