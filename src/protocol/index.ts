export * from './packet-types.js';
export * from './decoder.js';
export * from './encoder.js';
export * from './errors.js';
export * from './error-frames.js';
export * from './stored-job.js';
