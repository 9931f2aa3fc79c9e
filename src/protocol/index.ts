export * from './packet-types.js';
export * from './decoder.js';
export * from './encoder.js';
export * from './errors.js';
