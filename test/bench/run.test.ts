import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { prepareBackgroundSubmit } from '../../bench/lib/background-submitter.js';
import { runBenchmark, tableRows, type BenchmarkRecord } from '../../bench/lib/benchmark.js';
import {
  DEFAULT_SHAPE,
  QUICK_SIZES,
  SCENARIO_NAMES,
  percentile,
  type Sizes,
} from '../../bench/lib/scenarios.js';
import { defaultServerPaths } from '../../bench/lib/servers.js';
import { startGearmand } from '../helpers/processes.js';
import { skipUnless, tools } from '../helpers/services.js';

/** Sends one admin command and returns the reply up to the closing `.` line. */
function adminList(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`no reply to ${command}`));
    });
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      if (reply === '.\n' || reply.endsWith('\n.\n')) {
        socket.destroy();
        resolve(reply);
      }
    });
    socket.write(`${command}\n`);
  });
}

const gearmandMissing = await skipUnless('bench smoke run', 'gearmand');

describe('bench load generator against gearmand', { skip: gearmandMissing }, () => {
  it('--quick counts, in every scenario, exactly the jobs it sent', async () => {
    const sizes: Sizes = { ...QUICK_SIZES, queuedJobs: 3_000, probeJobs: 500, libraryJobs: 2 };
    const record = await runBenchmark({
      scenarios: SCENARIO_NAMES,
      servers: ['gearmand'],
      sizes,
      shape: DEFAULT_SHAPE,
      paths: { ...defaultServerPaths, gearmand: tools.gearmand },
      repeat: 1,
      timeoutMs: 60_000,
    });
    assert.deepEqual(record.failures, []);
    // deep-queue counts an empty-server probe, the fill up to queuedJobs and a full-server probe.
    const expectedJobs: Record<string, number> = {
      'bg-submit.rate': sizes.bgJobs,
      'end-to-end.rate': sizes.e2eJobs,
      'fg-latency.p99': sizes.latencyJobs,
      'fg-throughput.rate': sizes.fgJobs,
      'memory.bytes-per-job': sizes.queuedJobs,
      'deep-queue.rate-full': sizes.queuedJobs + sizes.probeJobs,
      'library-10mb.mb-per-s': sizes.libraryJobs,
    };
    for (const [key, jobs] of Object.entries(expectedJobs)) {
      const m = record.measurements.find((x) => x.key === key && x.server === 'gearmand');
      assert.ok(m, `no ${key}`);
      assert.deepEqual(
        { key, counted: m.jobsCounted, expected: m.jobsExpected },
        {
          key,
          counted: jobs,
          expected: jobs,
        },
      );
    }
    for (const m of record.measurements) {
      // CPU time comes in 10 ms ticks, which a tiny run may not reach; everything else must move.
      if (m.key.endsWith('.cpu')) assert.ok(m.value >= 0, `${m.key} is ${m.value}`);
      else assert.ok(m.value > 0, `${m.key} is ${m.value}`);
    }
    assert.ok(record.commandLines.gearmand?.includes('--hashtable-buckets 99991'));
  });

  it('the server really queued every job the submitter counted, each under its own unique id', async () => {
    const server = await startGearmand();
    const functionName = `bench-smoke-${process.pid}-${Date.now()}`;
    try {
      const task = await prepareBackgroundSubmit({
        kind: 'bg-submit',
        port: server.port,
        functionName,
        connections: 3,
        jobsPerConnection: 259,
        payloadBytes: 10,
        window: 40,
        uniques: 'distinct',
      });
      const result = await task.start();
      task.close();
      assert.equal(result.sent, 777);
      assert.equal(result.counted, 777);
      const status = await adminList(server.port, 'status');
      const line = status.split('\n').find((l) => l.startsWith(`${functionName}\t`));
      assert.equal(line, `${functionName}\t777\t0\t0`);
      const uniques = (await adminList(server.port, 'show unique jobs'))
        .split('\n')
        .filter((l) => l !== '' && l !== '.');
      assert.equal(new Set(uniques).size, 777);
      for (const u of uniques)
        assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-\d{12}$/);
    } finally {
      await server.stop();
    }
  });
});

describe('bench figures', () => {
  it('percentile takes the nearest rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(sorted, 0.5), 50);
    assert.equal(percentile(sorted, 0.99), 99);
    assert.equal(percentile([7], 0.99), 7);
    assert.equal(percentile([], 0.5), 0);
  });

  it('the table compares Gearbox with tuned gearmand and judges the targets', () => {
    const base = { jobsCounted: 1, jobsExpected: 1 };
    const record: BenchmarkRecord = {
      date: '',
      machine: {},
      sizes: QUICK_SIZES,
      shape: DEFAULT_SHAPE,
      repeat: 1,
      commandLines: {},
      failures: [],
      skipped: [],
      measurements: [
        { ...base, key: 'bg-submit.rate', server: 'gearmand', value: 400_000, runs: [400_000] },
        { ...base, key: 'bg-submit.rate', server: 'gearbox', value: 300_000, runs: [300_000] },
        { ...base, key: 'fg-latency.p99', server: 'gearmand', value: 440, runs: [440] },
        { ...base, key: 'fg-latency.p99', server: 'gearbox', value: 300, runs: [300] },
        { ...base, key: 'memory.bytes-per-job', server: 'gearbox', value: 380, runs: [380] },
      ],
    };
    const rows = tableRows(record);
    assert.deepEqual(
      rows.map((r) => [r.metric, r.gearmand, r.gearbox, r.ratio, r.met]),
      [
        ['background submit, 100 B', '400,000', '300,000', '0.75×', 'NOT met'],
        ['foreground latency p99', '440', '300', '0.68×', 'met'],
        ['memory per queued 1-byte job', '—', '380', '—', 'met'],
      ],
    );
  });
});
