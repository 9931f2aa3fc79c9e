/**
 * How each figure is labelled, which way is better, the target Gearbox has to meet, and the
 * figure the issue quotes for gearmand on this machine (to compare our gearmand runs against).
 */

/** The figures of one metric on each server of a run. */
export interface Figures {
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
  /** Whether Gearbox meets the target; undefined when the figures needed are missing. */
  met(figures: Figures): boolean | undefined;
}

const atLeastTuned = (f: Figures): boolean | undefined =>
  f.gearbox === undefined || f.gearmand === undefined ? undefined : f.gearbox >= f.gearmand;

/** Every metric, in table order. */
export const METRICS: readonly MetricSpec[] = [
  {
    key: 'bg-submit.rate',
    label: 'background submit, 100 B',
    unit: 'jobs/s',
    higherIsBetter: true,
    target: '≥ 1.0× gearmand tuned',
    issueGearmand: '300k–480k tuned, 47k default',
    met: atLeastTuned,
  },
  {
    key: 'bg-submit.cpu',
    label: 'server CPU per job, background submit',
    unit: 'µs',
    higherIsBetter: false,
    target: '(reported)',
    issueGearmand: '',
    met: () => undefined,
  },
  {
    key: 'end-to-end.rate',
    label: 'end to end, 2 clients + 4 workers',
    unit: 'jobs/s',
    higherIsBetter: true,
    target: '≥ 1.0× gearmand tuned',
    issueGearmand: '49k tuned',
    met: atLeastTuned,
  },
  {
    key: 'end-to-end.cpu',
    label: 'server CPU per job, end to end',
    unit: 'µs',
    higherIsBetter: false,
    target: '(reported)',
    issueGearmand: '',
    met: () => undefined,
  },
  {
    key: 'fg-latency.p50',
    label: 'foreground latency p50',
    unit: 'µs',
    higherIsBetter: false,
    target: '(reported)',
    issueGearmand: '180',
    met: () => undefined,
  },
  {
    key: 'fg-latency.p99',
    label: 'foreground latency p99',
    unit: 'µs',
    higherIsBetter: false,
    target: '≤ gearmand tuned',
    issueGearmand: '440',
    met: (f) =>
      f.gearbox === undefined || f.gearmand === undefined ? undefined : f.gearbox <= f.gearmand,
  },
  {
    key: 'fg-throughput.rate',
    label: 'foreground throughput, 4 clients + 4 workers',
    unit: 'jobs/s',
    higherIsBetter: true,
    target: '≥ 1.0× gearmand tuned',
    issueGearmand: '50k–68k',
    met: atLeastTuned,
  },
  {
    key: 'fg-throughput.cpu',
    label: 'server CPU per job, foreground throughput',
    unit: 'µs',
    higherIsBetter: false,
    target: '(reported)',
    issueGearmand: '',
    met: () => undefined,
  },
  {
    key: 'memory.bytes-per-job',
    label: 'memory per queued 1-byte job',
    unit: 'B',
    higherIsBetter: false,
    target: '≤ 400 B',
    issueGearmand: '~830',
    met: (f) => (f.gearbox === undefined ? undefined : f.gearbox <= 400),
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
