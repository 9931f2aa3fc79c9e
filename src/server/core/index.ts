export * from './effects.js';
export * from './server-core.js';
