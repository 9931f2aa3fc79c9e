import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FD_MARGIN, planFds, readFdLimits, withFdLimit } from '../../bench/lib/fd-limits.js';
import { niceTicks, shortNumber, svgChart } from '../../bench/lib/svg-chart.js';

describe('open-file limits of the scaling figures', () => {
  it('reads the soft and hard limits from a limits file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-limits-'));
    try {
      const file = join(dir, 'limits');
      writeFileSync(
        file,
        [
          'Limit                     Soft Limit           Hard Limit           Units     ',
          'Max processes             63748                63748                processes ',
          'Max open files            1024                 unlimited            files     ',
        ].join('\n'),
      );
      assert.deepEqual(readFdLimits(file), { soft: 1024, hard: Infinity });
      const own = readFdLimits();
      assert.ok(own.soft > 0 && own.soft <= own.hard);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('keeps, raises to the hard limit, or skips with a note', () => {
    const limits = { soft: 1024, hard: 20_000 };
    assert.deepEqual(planFds(10, limits, 'server'), { ok: true });
    assert.deepEqual(planFds(10_000, limits, 'server'), { ok: true, raiseTo: 20_000 });
    const plan = planFds(20_000, limits, 'server');
    assert.equal(plan.ok, false);
    assert.match(
      plan.ok ? '' : plan.note,
      new RegExp(
        `^skipped: 20000 connections need ${20_000 + FD_MARGIN} open files in the server, over the hard limit \\(ulimit -Hn\\) of 20000$`,
      ),
    );
  });

  it('starts a child with the soft limit it is given', () => {
    const { soft } = readFdLimits();
    const wanted = Math.min(soft, 777);
    const command = withFdLimit(wanted, '/bin/sh', ['-c', 'ulimit -S -n']);
    assert.equal(
      execFileSync(command.file, command.args, { encoding: 'utf8' }).trim(),
      String(wanted),
    );
  });
});

describe('SVG charts of the scaling figures', () => {
  it('rounds the axis to a tick at or above the largest value', () => {
    assert.deepEqual(niceTicks(100), [0, 25, 50, 75, 100]);
    assert.deepEqual(niceTicks(90), [0, 25, 50, 75, 100]);
    assert.deepEqual(niceTicks(0), [0, 1]);
    assert.deepEqual(niceTicks(3), [0, 1, 2, 3]);
    assert.equal(shortNumber(1_250_000), '1.3M');
    assert.equal(shortNumber(350_000), '350k');
    assert.equal(shortNumber(2_500), '2.5k');
    assert.equal(shortNumber(0.25), '0.25');
  });

  it('draws a line per server in every panel, broken where a point is missing', () => {
    const svg = svgChart({
      title: 'Idle connections <test>',
      xTitle: 'connections',
      xLabels: ['10', '1,000', '10,000'],
      panels: [
        {
          title: 'rate',
          unit: 'jobs/s',
          series: [
            { name: 'gearmand', values: [300_000, 290_000, 280_000] },
            { name: 'gearbox', values: [250_000, undefined, 240_000] },
          ],
        },
        {
          title: 'RSS',
          unit: 'MB',
          series: [
            { name: 'gearmand', values: [10, 20, 100] },
            { name: 'gearbox', values: [50, undefined, 150] },
          ],
        },
      ],
    });
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.ok(svg.includes('Idle connections &lt;test&gt;'));
    // gearmand's three points make a line in each panel; gearbox's gap leaves single points.
    assert.equal(svg.match(/<polyline /g)?.length, 2);
    assert.equal(svg.match(/<circle /g)?.length, 10);
    for (const label of ['10,000', 'gearmand', 'gearbox', 'rate (jobs/s)', 'RSS (MB)'])
      assert.ok(svg.includes(`>${label}<`), label);
  });
});
