/**
 * How each figure is labelled, which way is better, the target Gearbox has to meet, and the
 * figure the issue quotes for gearmand on this machine (to compare our gearmand runs against).
 */

/** The figures of one metric on each server of a run. */
export interface Figures {
  readonly null?: number;
  readonly gearmand?: number;
  readonly gearmandDefault?: number;
  readonly gearbox?: number;
}

/** The description of one figure. */
export interface MetricSpec {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly higherIsBetter: boolean;
  /** The target, in words. */
  readonly target: string;
  /** What the issue measured for gearmand 1.1.20 here. */
  readonly issueGearmand: string;
  /** False when Gearbox ÷ gearmand means nothing for this figure (it is already a share). */
  readonly compare?: boolean;
  /** Whether Gearbox meets the target; undefined when the figures needed are missing. */
  met(figures: Figures): boolean | undefined;
}

/** The share of the null server's background-submit rate Gearbox has to reach (issue 16). */
export const NULL_SHARE_TARGET = 0.85;

const atLeastTuned = (f: Figures): boolean | undefined =>
  f.gearbox === undefined || f.gearmand === undefined ? undefined : f.gearbox >= f.gearmand;
const atMostTuned = (f: Figures): boolean | undefined =>
  f.gearbox === undefined || f.gearmand === undefined ? undefined : f.gearbox <= f.gearmand;
const reported = (): undefined => undefined;

/** The words for each load pattern in labels. */
const STREAM = 'streaming';
const LIBGEARMAN = 'libgearman batches of 100';

/** A throughput figure and the server's CPU per job beside it. */
function rateAndCpu(
  scenario: string,
  label: string,
  pattern: string,
  issueGearmand: string,
): MetricSpec[] {
  return [
    {
      key: `${scenario}.rate`,
      label: `${label}, ${pattern}`,
      unit: 'jobs/s',
      higherIsBetter: true,
      target: '≥ 1.0× gearmand tuned',
      issueGearmand,
      met: atLeastTuned,
    },
    cpu(scenario, `${label}, ${pattern}`),
  ];
}

function cpu(scenario: string, what: string): MetricSpec {
  return {
    key: `${scenario}.cpu`,
    label: `server CPU per job, ${what}`,
    unit: 'µs',
    higherIsBetter: false,
    target: '(reported)',
    issueGearmand: '',
    met: reported,
  };
}

/** Background submits as a share of the null server's rate, same pattern, same run. */
function nullShare(scenario: string, pattern: string): MetricSpec {
  return {
    key: `${scenario}.share-of-null`,
    label: `background submit ÷ null server, ${pattern}`,
    unit: '×',
    higherIsBetter: true,
    target: `Gearbox ≥ ${NULL_SHARE_TARGET.toFixed(2)}`,
    issueGearmand: pattern === LIBGEARMAN ? '0.78' : '',
    compare: false,
    met: (f) => (f.gearbox === undefined ? undefined : f.gearbox >= NULL_SHARE_TARGET),
  };
}

/** Sequential foreground latency: p50, p99 and p99.9, and the CPU per job. */
function latency(scenario: string, pattern: string, issue: [string, string]): MetricSpec[] {
  const percentiles: [string, string, boolean][] = [
    ['p50', issue[0], true],
    ['p99', issue[1], true],
    ['p99.9', '', false],
  ];
  return [
    ...percentiles.map(([p, issueGearmand, targeted]): MetricSpec => ({
      key: `${scenario}.${p}`,
      label: `foreground latency ${p}, sequential, ${pattern}`,
      unit: 'µs',
      higherIsBetter: false,
      target: targeted ? '≤ gearmand tuned' : '(reported)',
      issueGearmand,
      met: targeted ? atMostTuned : reported,
    })),
    cpu(scenario, `sequential foreground, ${pattern}`),
  ];
}

const STREAM_WORKERS = 'streaming (GRAB_JOB workers)';
const LIBGEARMAN_WORKERS = 'libgearman (GRAB_JOB_ALL workers)';

/** Every metric, in table order. */
export const METRICS: readonly MetricSpec[] = [
  ...rateAndCpu('bg-submit', 'background submit, 100 B', STREAM, '300k–480k tuned, 47k default'),
  nullShare('bg-submit', STREAM),
  ...rateAndCpu('bg-submit-libgearman', 'background submit, 100 B', LIBGEARMAN, '~450k'),
  nullShare('bg-submit-libgearman', LIBGEARMAN),
  ...rateAndCpu('end-to-end', 'end to end, 2 clients + 4 workers', STREAM, '49k tuned'),
  ...rateAndCpu('end-to-end-libgearman', 'end to end, 2 clients + 4 workers', LIBGEARMAN, ''),
  ...latency('fg-latency', STREAM_WORKERS, ['180', '440']),
  ...latency('fg-latency-libgearman', LIBGEARMAN_WORKERS, ['', '']),
  ...rateAndCpu(
    'fg-throughput',
    'foreground throughput, 4 clients + 4 workers',
    'streaming (16 in flight)',
    '50k–68k',
  ),
  ...rateAndCpu(
    'fg-throughput-libgearman',
    'foreground throughput, 4 clients + 4 workers',
    LIBGEARMAN,
    '',
  ),
  {
    key: 'memory.bytes-per-job',
    label: 'memory per queued 1-byte job',
    unit: 'B',
    higherIsBetter: false,
    target: '≤ 200 B',
    issueGearmand: '~830',
    met: (f) => (f.gearbox === undefined ? undefined : f.gearbox <= 200),
  },
  {
    key: 'deep-queue.rate-full',
    label: 'submit rate with 1M queued',
    unit: 'jobs/s',
    higherIsBetter: true,
    target: '≥ 1.0× gearmand tuned',
    issueGearmand: '~3.5k default',
    met: atLeastTuned,
  },
  {
    key: 'deep-queue.full-vs-empty',
    label: 'submit rate, 1M queued ÷ empty',
    unit: '×',
    higherIsBetter: true,
    target: 'Gearbox ≥ 0.90',
    issueGearmand: '',
    met: (f) => (f.gearbox === undefined ? undefined : f.gearbox >= 0.9),
  },
  {
    key: 'library-10mb.mb-per-s',
    label: 'client library, 10 MB jobs echoed (payload MB/s each way)',
    unit: 'MB/s',
    higherIsBetter: true,
    target: '≥ 1.0× gearmand tuned',
    issueGearmand: '',
    met: atLeastTuned,
  },
];
