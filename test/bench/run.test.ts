import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { prepareBackgroundSubmit } from '../../bench/lib/background-submitter.js';
import { runBenchmark, tableRows, type BenchmarkRecord } from '../../bench/lib/benchmark.js';
import { SCALING_FIGURES, type ScalingSizes } from '../../bench/lib/scaling-figures.js';
import { runScaling, scalingChart } from '../../bench/lib/scaling.js';
import {
  DEFAULT_SHAPE,
  QUICK_SIZES,
  SCENARIOS,
  SCENARIO_NAMES,
  percentile,
  type Sizes,
} from '../../bench/lib/scenarios.js';
import { defaultServerPaths } from '../../bench/lib/servers.js';
import { svgChart } from '../../bench/lib/svg-chart.js';
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
  it('--quick counts, in every scenario and both patterns, exactly the jobs it sent; the null server runs the bg-submit ones', async () => {
    const sizes: Sizes = { ...QUICK_SIZES, queuedJobs: 3_000, probeJobs: 500, libraryJobs: 2 };
    const record = await runBenchmark({
      scenarios: SCENARIO_NAMES,
      servers: ['null', 'gearmand'],
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
      'bg-submit-libgearman.rate': sizes.bgJobs,
      'end-to-end.rate': sizes.e2eJobs,
      'end-to-end-libgearman.rate': sizes.e2eJobs,
      'fg-latency.p99': sizes.latencyJobs,
      'fg-latency-libgearman.p99.9': sizes.latencyJobs,
      'fg-throughput.rate': sizes.fgJobs,
      'fg-throughput-libgearman.rate': sizes.fgJobs,
      'memory.bytes-per-job': sizes.queuedJobs,
      'deep-queue.rate-full': sizes.queuedJobs + sizes.probeJobs,
      'library-10mb.mb-per-s': sizes.libraryJobs,
    };
    const onNull = ['bg-submit.rate', 'bg-submit-libgearman.rate'];
    const runs = [
      ...Object.entries(expectedJobs).map(([key, jobs]) => ({ key, jobs, server: 'gearmand' })),
      ...onNull.map((key) => ({ key, jobs: expectedJobs[key], server: 'null' })),
    ];
    for (const { key, jobs, server } of runs) {
      const m = record.measurements.find((x) => x.key === key && x.server === server);
      assert.ok(m, `no ${key} on ${server}`);
      assert.deepEqual(
        { key, server, counted: m.jobsCounted, expected: m.jobsExpected },
        { key, server, counted: jobs, expected: jobs },
      );
    }
    // The null server sits out (with a note, not a failure) wherever it cannot answer.
    assert.deepEqual(
      record.skipped.map((s) => s.scenario),
      SCENARIO_NAMES.filter((n) => SCENARIOS[n].nullServer !== true),
    );
    assert.ok(record.skipped.every((s) => s.server === 'null'));
    assert.ok(!record.measurements.some((m) => m.server === 'null' && m.key.startsWith('fg-')));
    for (const scenario of ['bg-submit', 'bg-submit-libgearman']) {
      const rateOn = (server: string): number | undefined =>
        record.measurements.find((m) => m.key === `${scenario}.rate` && m.server === server)?.value;
      const share = record.measurements.find(
        (m) => m.key === `${scenario}.share-of-null` && m.server === 'gearmand',
      );
      assert.ok(share, `no share of the null server for ${scenario}`);
      assert.equal(share.value, (rateOn('gearmand') ?? NaN) / (rateOn('null') ?? NaN));
    }
    for (const m of record.measurements) {
      // CPU time comes in 10 ms ticks, which a tiny run may not reach; everything else must move.
      if (m.key.endsWith('.cpu')) assert.ok(m.value >= 0, `${m.key} is ${m.value}`);
      else assert.ok(m.value > 0, `${m.key} is ${m.value}`);
    }
    assert.ok(record.commandLines.gearmand?.includes('--hashtable-buckets 99991'));
  });

  it('libgearman batches spread over several functions queue exactly the jobs counted, evenly', async () => {
    const server = await startGearmand();
    const functionName = `bench-spread-${process.pid}-${Date.now()}`;
    try {
      const task = await prepareBackgroundSubmit({
        kind: 'bg-submit',
        port: server.port,
        functionName,
        functions: 7,
        connections: 3,
        jobsPerConnection: 259,
        payloadBytes: 10,
        window: 100,
        uniques: 'distinct',
        pattern: 'libgearman',
      });
      const result = await task.start();
      task.close();
      assert.deepEqual([result.sent, result.counted], [777, 777]);
      const lines = (await adminList(server.port, 'status'))
        .split('\n')
        .filter((l) => l.startsWith(`${functionName}-`))
        .sort();
      assert.deepEqual(
        lines,
        Array.from({ length: 7 }, (_, i) => `${functionName}-0000${i}\t111\t0\t0`),
      );
    } finally {
      await server.stop();
    }
  });

  it('a tiny scaling run measures every figure, counts every job, and skips what the open-file limit forbids', async () => {
    const sizes: ScalingSizes = {
      connections: [2, 5],
      functions: [1, 3],
      workers: [1, 3],
      queued: [0, 300],
      jobs: 200,
      workerJobs: 50,
      latencyJobs: 10,
    };
    // Limits of 20 soft and 105 hard: every point needs more than 20 (its connections + 100),
    // so the load generators and servers start with their soft limit raised to 105, and 5 idle
    // connections plus the submitter (5 + 1 + 100) do not fit at all.
    const record = await runScaling({
      figures: SCALING_FIGURES,
      servers: ['null', 'gearmand'],
      sizes,
      load: { pattern: 'libgearman', window: 100, uniques: 'distinct' },
      paths: { ...defaultServerPaths, gearmand: tools.gearmand },
      repeat: 1,
      timeoutMs: 60_000,
      fdLimits: { soft: 20, hard: 105 },
    });
    const lines = (figure: string): string[] => [
      ...new Set(record.points.filter((p) => p.figure === figure).map((p) => p.series)),
    ];
    assert.deepEqual(lines('connections-idle'), ['null', 'gearmand']);
    assert.deepEqual(lines('functions'), ['gearmand']);
    assert.deepEqual(lines('workers'), ['gearmand', 'gearmand -w 1']);
    assert.match(
      record.commandLines['gearmand -w 1'] ?? '',
      /^ulimit -S -n 105; \S*gearmand .* -w 1$/,
    );
    for (const p of record.points) {
      const where = `${p.figure} x=${p.x} ${p.series}`;
      assert.equal(p.failed, undefined, where);
      if (p.figure === 'connections-idle' && p.x === 5) {
        assert.match(p.skipped ?? '', /^skipped: 6 connections need 106 open files/, where);
        continue;
      }
      assert.equal(p.skipped, undefined, where);
      assert.deepEqual(p.jobsCounted, p.jobsExpected, where);
      assert.ok((p.jobsCounted[0] ?? 0) > 0, where);
      for (const [key, value] of Object.entries(p.values))
        assert.ok(Number.isFinite(value) && value >= 0, `${where} ${key} = ${value}`);
      assert.ok((p.values.rss ?? 0) > 0, `${where}: no RSS`);
    }
    const deep = record.points.filter((p) => p.figure === 'deep-queue');
    assert.deepEqual(
      deep.map((p) => [p.x, p.jobsExpected[0]]),
      [
        [0, 200],
        [300, 500],
      ],
    );
    assert.equal(deep[0]?.values['vs-empty'], 1);
    const svg = svgChart(scalingChart(record, 'workers'));
    assert.ok(svg.includes('>gearmand -w 1<'));
    assert.equal(svg.match(/<polyline /g)?.length, 2 * 5, 'two lines in each of five panels');
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
        { ...base, key: 'bg-submit.rate', server: 'null', value: 500_000, runs: [500_000] },
        { ...base, key: 'bg-submit.rate', server: 'gearmand', value: 400_000, runs: [400_000] },
        { ...base, key: 'bg-submit.rate', server: 'gearbox', value: 300_000, runs: [300_000] },
        { ...base, key: 'bg-submit.share-of-null', server: 'gearbox', value: 0.6, runs: [0.6] },
        { ...base, key: 'fg-latency.p99', server: 'gearmand', value: 440, runs: [440] },
        { ...base, key: 'fg-latency.p99', server: 'gearbox', value: 300, runs: [300] },
        { ...base, key: 'memory.bytes-per-job', server: 'gearbox', value: 380, runs: [380] },
      ],
    };
    const rows = tableRows(record);
    assert.deepEqual(
      rows.map((r) => [r.metric, r.null, r.gearmand, r.gearbox, r.ratio, r.met]),
      [
        [
          'background submit, 100 B, streaming',
          '500,000',
          '400,000',
          '300,000',
          '0.75×',
          'NOT met',
        ],
        ['background submit ÷ null server, streaming', '—', '—', '0.60', '—', 'NOT met'],
        [
          'foreground latency p99, sequential, streaming (GRAB_JOB workers)',
          '—',
          '440',
          '300',
          '0.68×',
          'met',
        ],
        ['memory per queued 1-byte job', '—', '—', '380', '—', 'NOT met'],
      ],
    );
  });
});
