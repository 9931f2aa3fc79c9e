/**
 * Issue 9.1 — a new job must reach an idle worker even when the worker asleep longest cannot
 * answer: Perl Gearman::Worker processes and Debian's `gearman` client against `gearbox server`,
 * and the same scenarios against Debian's gearmand, which wakes every sleeping worker.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { encodePacket, Magic, PacketType } from '../../src/protocol/index.js';
import { skipUnless, tools } from '../helpers/services.js';
import type { RunningServer } from '../helpers/processes.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { startGearboxServer } from '../helpers/gearbox-cli.js';
import {
  TARGETS,
  eventually,
  runTool,
  startTool,
  statusRows,
  type Background,
} from './interop-kit.js';
import { PERL_WAKE_WORKER } from './perl-scripts.js';

/** How long the busy worker's job runs: the idle worker must answer well before it ends. */
const LONG_JOB_SECONDS = 6;

async function workersOn(port: number, fn: string): Promise<number> {
  const result = await runTool(tools.gearadmin, [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '--status',
  ]);
  return Number(statusRows(result.stdout).get(fn)?.[2] ?? 0);
}

/** Waits until `count` workers have registered `fn` on the server, then lets them fall asleep. */
async function waitForSleepers(port: number, fn: string, count: number): Promise<void> {
  await eventually(`${count} workers for ${fn} on :${port}`, async () =>
    (await workersOn(port, fn)) >= count ? true : undefined,
  );
  // CAN_DO, GRAB_JOB → NO_JOB, PRE_SLEEP follow each other at once; give them a moment.
  await new Promise((r) => setTimeout(r, 300));
}

for (const target of TARGETS) {
  const skip = await skipUnless(
    `waking workers against ${target.name}`,
    'perl-gearman',
    'gearman-tools',
    ...target.needs,
  );
  describe(`a new job reaches an idle worker on ${target.name}`, { skip }, () => {
    const servers: RunningServer[] = [];
    const workers: Background[] = [];
    let dir: string;
    let suffix: string;
    const perlWorker = (tag: string, ...ports: number[]): Background => {
      const w = startTool(tools.perl, [
        '-e',
        PERL_WAKE_WORKER,
        tag,
        dir,
        suffix,
        String(LONG_JOB_SECONDS),
        ...ports.map(String),
      ]);
      workers.push(w);
      return w;
    };
    const runs = (): string[] =>
      existsSync(join(dir, 'runs'))
        ? readFileSync(join(dir, 'runs'), 'utf8').trim().split('\n')
        : [];

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'gearbox-wake-'));
    });
    after(async () => {
      for (const w of workers) {
        if (w.child.pid !== undefined && w.child.exitCode === null) {
          try {
            process.kill(w.child.pid, 'SIGCONT');
          } catch {
            // already gone
          }
        }
        await w.kill();
      }
      for (const s of servers) await s.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('runs a job on an idle worker while the worker asleep longest is busy with another server’s job (bug: the job waited for the busy one)', async () => {
      suffix = randomBytes(4).toString('hex');
      const a = await target.start();
      const b = await target.start();
      servers.push(a, b);
      // Worker 1 falls asleep first on both servers, so it is the one a single wake-up picks.
      perlWorker('1', a.port, b.port);
      await waitForSleepers(a.port, `quick_${suffix}`, 1);
      await waitForSleepers(b.port, `quick_${suffix}`, 1);
      perlWorker('2', a.port, b.port);
      await waitForSleepers(a.port, `quick_${suffix}`, 2);
      await waitForSleepers(b.port, `quick_${suffix}`, 2);

      const long = await runTool(tools.gearman, [
        '-h',
        '127.0.0.1',
        '-p',
        String(b.port),
        '-b',
        '-f',
        `long_${suffix}`,
        'x',
      ]);
      assert.equal(long.code, 0, long.stderr);
      const busy = await eventually('the long job to start', () => {
        const started = runs().find((line) => line.endsWith(':start'));
        return started?.split(':')[0];
      });

      const quick = await runTool(
        tools.gearman,
        ['-h', '127.0.0.1', '-p', String(a.port), '-f', `quick_${suffix}`, 'y'],
        { timeoutMs: 20_000 },
      );
      assert.equal(quick.code, 0, quick.stderr);
      const answeredBy = quick.stdout.trim();
      assert.notEqual(answeredBy, busy, 'the idle worker took the job, not the busy one');
      assert.ok(
        !runs().includes(`${busy}:end`),
        'the job was answered while the long job still ran: it did not wait for the busy worker',
      );
    });

    it('runs a job on an idle worker while the worker asleep longest is stopped (SIGSTOP) (bug: the job never ran)', async () => {
      suffix = randomBytes(4).toString('hex');
      const server = await target.start();
      servers.push(server);
      const hung = perlWorker('hung', server.port);
      await waitForSleepers(server.port, `quick_${suffix}`, 1);
      perlWorker('idle', server.port);
      await waitForSleepers(server.port, `quick_${suffix}`, 2);
      if (hung.child.pid !== undefined) process.kill(hung.child.pid, 'SIGSTOP');
      const quick = await runTool(
        tools.gearman,
        ['-h', '127.0.0.1', '-p', String(server.port), '-f', `quick_${suffix}`, 'z'],
        { timeoutMs: 20_000 },
      );
      assert.equal(quick.code, 0, `the client got no answer: ${quick.stderr}`);
      assert.equal(quick.stdout.trim(), 'idle');
    });
  });
}

const skipGearbox = await skipUnless(
  'waking workers with -w on gearbox',
  'perl-gearman',
  'gearman-tools',
);
describe(
  'a worker that never answers NOOP next to one that does (gearbox)',
  { skip: skipGearbox },
  () => {
    for (const flags of [[], ['-w', '1']]) {
      it(`the job runs on the answering worker (${flags.length === 0 ? 'default: all woken' : '-w 1: more woken after 100 ms'})`, async () => {
        const suffix = randomBytes(4).toString('hex');
        const dir = mkdtempSync(join(tmpdir(), 'gearbox-wake-'));
        const server = await startGearboxServer(flags);
        // A peer that registers, falls asleep first, and then never reads or answers again.
        const mute = await RawPeer.connect(server.port);
        const worker = startTool(tools.perl, [
          '-e',
          PERL_WAKE_WORKER,
          'perl',
          dir,
          suffix,
          '1',
          String(server.port),
        ]);
        try {
          mute.write(encodePacket(Magic.REQ, PacketType.CAN_DO, [`quick_${suffix}`]));
          mute.write(encodePacket(Magic.REQ, PacketType.PRE_SLEEP, []));
          mute.socket.pause();
          await waitForSleepers(server.port, `quick_${suffix}`, 2);
          const quick = await runTool(
            tools.gearman,
            ['-h', '127.0.0.1', '-p', String(server.port), '-f', `quick_${suffix}`, 'q'],
            { timeoutMs: 20_000 },
          );
          assert.equal(quick.code, 0, `the client got no answer: ${quick.stderr}`);
          assert.equal(quick.stdout.trim(), 'perl');
        } finally {
          mute.close();
          await worker.kill();
          await server.stop();
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  },
);
