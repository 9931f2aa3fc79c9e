/**
 * The fault test's crashing instance: `gearbox scheduler` itself (the CLI's own `run`, the same
 * options and wiring), plus one observer of the service's events that kills the process by
 * SIGKILL right after its n-th claim commits, before the claimed jobs are dispatched. The hook
 * lives here, not in the production CLI.
 *
 * usage: node crashing-scheduler.js N [gearbox scheduler options]
 */
import { run } from '../../src/cli/scheduler.js';

const [n, ...argv] = process.argv.slice(2);
let claimsLeft = Number(n);
if (!Number.isInteger(claimsLeft) || claimsLeft < 1)
  throw new Error(`crashing-scheduler: N must be a positive integer, got '${String(n)}'`);

process.exitCode = await run(argv, {
  // Called after the history log has recorded the claim, as the CLI's own hook was.
  onEvent: (e) => {
    if (e.type === 'claimed' && --claimsLeft === 0) process.kill(process.pid, 'SIGKILL');
  },
});
