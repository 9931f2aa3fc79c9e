/**
 * Perl's Gearman::Client and Gearman::Worker (a pure-Perl implementation, independent of
 * libgearman) against `gearbox server`, and the same against Debian's gearmand.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { skipUnless, tools } from '../helpers/services.js';
import type { RunningServer } from '../helpers/processes.js';
import { TARGETS, runTool, startTool, type Background } from './interop-kit.js';
import { PERL_CLIENT, PERL_WORKER } from './perl-scripts.js';

for (const target of TARGETS) {
  const skip = await skipUnless(
    `perl gearman against ${target.name}`,
    'perl-gearman',
    ...target.needs,
  );
  describe(`Perl Gearman::Client/Worker against ${target.name}`, { skip }, () => {
    let server: RunningServer;
    let worker: Background;
    let dir: string;
    const suffix = randomBytes(4).toString('hex');

    before(async () => {
      server = await target.start();
      dir = mkdtempSync(join(tmpdir(), 'gearbox-perl-'));
      worker = startTool(tools.perl, ['-e', PERL_WORKER, String(server.port), suffix, dir, 'B']);
    });
    after(async () => {
      await worker.kill();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('round-trips do_task, dispatch_background, get_status, progress and failure', async () => {
      const result = await runTool(tools.perl, ['-e', PERL_CLIENT, String(server.port), suffix]);
      assert.equal(result.code, 0, result.stderr);
      const out = Object.fromEntries(
        result.stdout
          .trim()
          .split('\n')
          .map((line) => line.split('=', 2) as [string, string]),
      );
      assert.equal(out.rev, '7a00ff620061', 'binary argument reversed byte for byte');
      assert.match(
        out.handle ?? '',
        /^127\.0\.0\.1:\d+\/\/H:[^:]+:\d+$/,
        'Perl prefixes the server',
      );
      assert.equal(out.queued, '1,0', 'a queued background job is known and not running');
      assert.equal(out.coalesced, '1', 'the same uniq gets the same handle');
      assert.equal(out.events, 'complete:p:x|fail|status:1/2');
    });
  });
}
