#!/usr/bin/env node
// The built CLI lives in dist/ (npm install runs `prepare`, which compiles it).
import('../dist/src/cli/main.js').then(
  (cli) => cli.main(process.argv.slice(2)),
  (err) => {
    console.error('gearbox: the build is missing; run `npm install` (or `npm run build`) first');
    console.error(String(err));
    process.exit(1);
  },
);
