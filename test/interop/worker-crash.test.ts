/**
 * A worker process killed by PID in the middle of a job: the server puts the job back and
 * another worker runs it, and the waiting foreground client gets that worker's result. Perl
 * workers, a Perl client; run against gearbox and against gearmand.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { skipUnless, tools } from '../helpers/services.js';
import type { RunningServer } from '../helpers/processes.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { TARGETS, eventually, startTool, statusRows, type Background } from './interop-kit.js';
import { PERL_SLOW_CLIENT, PERL_WORKER } from './perl-scripts.js';

async function adminStatus(port: number): Promise<Map<string, string[]>> {
  const peer = await RawPeer.connect(port, 'text');
  try {
    peer.write('status\n');
    return statusRows(await peer.readUntilMatch(/(^|\n)\.\n/));
  } finally {
    peer.close();
  }
}

for (const target of TARGETS) {
  const skip = await skipUnless(
    `worker crash against ${target.name}`,
    'perl-gearman',
    ...target.needs,
  );
  describe(`a worker killed mid-job, against ${target.name}`, { skip }, () => {
    let server: RunningServer;
    let dir: string;
    const started: Background[] = [];
    const suffix = randomBytes(4).toString('hex');
    const perl = (script: string, ...args: string[]): Background => {
      const proc = startTool(tools.perl, ['-e', script, ...args]);
      started.push(proc);
      return proc;
    };
    const runs = (): string[] => {
      const file = join(dir, 'runs');
      return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
    };

    before(async () => {
      server = await target.start();
      dir = mkdtempSync(join(tmpdir(), 'gearbox-crash-'));
    });
    after(async () => {
      for (const proc of started) await proc.kill();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('requeues the job and runs it again on another worker', async () => {
      const fn = `slow_${suffix}`;
      const hanging = perl(PERL_WORKER, String(server.port), suffix, dir, 'A');
      await eventually('worker A registered', async () =>
        (await adminStatus(server.port)).get(fn)?.[2] === '1' ? true : undefined,
      );
      const client = perl(PERL_SLOW_CLIENT, String(server.port), suffix, 'job-1');
      await eventually('worker A running the job', () =>
        runs().includes('A:job-1') ? true : undefined,
      );
      assert.deepEqual((await adminStatus(server.port)).get(fn), ['1', '1', '1']);

      await hanging.kill('SIGKILL');
      await eventually('the job queued again', async () => {
        const row = (await adminStatus(server.port)).get(fn);
        return row?.[0] === '1' && row[1] === '0' && row[2] === '0' ? true : undefined;
      });

      perl(PERL_WORKER, String(server.port), suffix, dir, 'B');
      assert.equal(await client.exited, 0, client.stderr());
      assert.equal(client.stdout(), 'result=B:job-1\n');
      assert.deepEqual(runs(), ['A:job-1', 'B:job-1']);
      assert.deepEqual((await adminStatus(server.port)).get(fn)?.slice(0, 2), ['0', '0']);
    });
  });
}
