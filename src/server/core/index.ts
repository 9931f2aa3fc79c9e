export * from './effects.js';
export * from './core-options.js';
export * from './server-core.js';
export * from './view.js';
export { REWAKE_DELAY_MS } from './sleep-machine.js';
export type { RunIdSource } from './store-keys.js';
export { TIME_BUCKETS_MS, type JobCounters, type Distribution } from './job-stats.js';
