#!/usr/bin/env node
// Runs the compiled tests with Node's own runner. It lists the test files itself and fails when
// it finds none, and at the end it prints, loudly, every test that was skipped because a real
// service or tool (PostgreSQL, MariaDB, Redis, Debian's gearman tools, PHP, Perl) was missing.
// With GEARBOX_REQUIRE_SERVICES=1 (set by .ci/run) such a skip is a failure instead.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
// GEARBOX_DIST lets several people build into their own folders side by side.
const testRoot = join(process.env.GEARBOX_DIST ?? join(root, 'dist'), 'test');
const filters = process.argv.slice(2);

function list(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return list(path);
    return name.endsWith('.test.js') ? [path] : [];
  });
}

// A compiled test whose source was renamed or deleted stays in dist/ until it is cleaned: run
// only those whose test/*.ts source still exists.
const hasSource = (f) =>
  existsSync(join(root, relative(dirname(testRoot), f).replace(/\.js$/, '.ts')));
const files = list(testRoot)
  .filter(hasSource)
  .filter((f) => filters.length === 0 || filters.some((p) => relative(root, f).includes(p)))
  .sort();
if (files.length === 0) {
  console.error(
    `run-tests: no test files found under ${relative(root, testRoot)}` +
      (filters.length ? ` matching ${filters.join(', ')}` : ''),
  );
  process.exit(1);
}

const skipDir = mkdtempSync(join(tmpdir(), 'gearbox-skips-'));
const skipFile = join(skipDir, 'skips.txt');
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=180000', ...files],
  { stdio: 'inherit', env: { ...process.env, GEARBOX_SKIP_FILE: skipFile } },
);
let skipped = [];
if (existsSync(skipFile))
  skipped = [...new Set(readFileSync(skipFile, 'utf8').split('\n').filter(Boolean))];
rmSync(skipDir, { recursive: true, force: true });
if (skipped.length > 0) {
  const bar = '!'.repeat(78);
  console.error(
    `\n${bar}\n!! SKIPPED because a service or tool is missing (set the variables to run them):`,
  );
  for (const line of skipped) console.error(`!!   ${line}`);
  console.error(`${bar}\n`);
}
process.exit(result.status ?? 1);
