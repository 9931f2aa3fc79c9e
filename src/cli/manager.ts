/**
 * `gearbox manager`: argv → config → Manager. `gearbox manager CONFIG` runs the workers the
 * config declares in the foreground (SIGTERM/SIGINT stop them gracefully, a second one kills
 * them, SIGHUP reloads the config); `status`, `scale` and `reload` talk to a running manager
 * through its control socket. The parsing is self-contained here (node:util parseArgs tokens).
 */
import { parseArgs } from 'node:util';
import { defaultControlSocket, loadConfig, ManagerConfigError } from '../manager/config.js';
import { sendControl } from '../manager/control-client.js';
import type { ControlRequest, StatusReport } from '../manager/control-protocol.js';
import { Manager } from '../manager/manager.js';
import { StderrLogger } from '../manager/manager-logger.js';
import { usageLine } from './usage-error.js';

const HELP = `usage: gearbox manager [-v] CONFIG            run the workers CONFIG declares
       gearbox manager --check CONFIG          check CONFIG and exit
       gearbox manager status [--json]         processes of the running manager
       gearbox manager scale NAME N            run N processes of entry NAME
       gearbox manager reload                  re-read the config (as SIGHUP does)

CONFIG is YAML or JSON (see docs/manager.md). SIGTERM or SIGINT stops the workers gracefully
(running jobs finish within each entry's stop_timeout; a second signal kills them at once),
SIGHUP re-reads CONFIG and converges to it.

options:
  -v, --verbose        log more (-v: INFO, -vv: DEBUG; default NOTICE)
      --check          check CONFIG, print a summary and exit (0: good, 2: bad)
  -s, --socket PATH    the control socket of status/scale/reload (default: the config's
                       control_socket with -c, else ${defaultControlSocket()})
  -c, --config FILE    take the control socket from this config
      --json           status as JSON (numbers as numbers)
      --help           this text`;

const OPTIONS = {
  verbose: { type: 'boolean', short: 'v', multiple: true },
  check: { type: 'boolean' },
  socket: { type: 'string', short: 's' },
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A bad command line: printed with a pointer to --help, exit status 2. */
class UsageProblem extends Error {}

interface Parsed {
  readonly verbose: number;
  readonly check: boolean;
  readonly socket: string | undefined;
  readonly config: string | undefined;
  readonly json: boolean;
  readonly help: boolean;
  readonly positionals: string[];
}

function parse(argv: string[]): Parsed {
  const { values, positionals, tokens } = parseArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = (OPTIONS as Record<string, { type: string }>)[token.name];
    if (spec === undefined) throw new UsageProblem(`unknown option ${token.rawName}`);
    if (spec.type === 'string' && token.value === undefined)
      throw new UsageProblem(`option ${token.rawName} needs a value`);
    if (spec.type === 'boolean' && token.value !== undefined)
      throw new UsageProblem(`option ${token.rawName} takes no value`);
  }
  return {
    verbose: Array.isArray(values.verbose) ? values.verbose.length : 0,
    check: values.check === true,
    socket: typeof values.socket === 'string' ? values.socket : undefined,
    config: typeof values.config === 'string' ? values.config : undefined,
    json: values.json === true,
    help: values.help === true,
    positionals,
  };
}

/** Runs `gearbox manager …`; resolves with the exit status. */
export async function run(argv: string[]): Promise<number> {
  let args: Parsed;
  try {
    args = parse(argv);
    if (args.help) {
      console.log(HELP);
      return 0;
    }
    const [first, ...rest] = args.positionals;
    switch (first) {
      case 'status':
        if (rest.length > 0) throw new UsageProblem('status takes no arguments');
        return await control(args, { command: 'status' });
      case 'reload':
        if (rest.length > 0) throw new UsageProblem('reload takes no arguments');
        return await control(args, { command: 'reload' });
      case 'scale': {
        const [name, countText, ...extra] = rest;
        const count = Number(countText);
        if (name === undefined || countText === undefined || extra.length > 0)
          throw new UsageProblem('scale needs NAME and N');
        if (!/^\d+$/.test(countText) || !Number.isSafeInteger(count))
          throw new UsageProblem(`scale: N must be a whole number ≥ 0, got '${countText}'`);
        return await control(args, { command: 'scale', name, count });
      }
      case undefined:
        throw new UsageProblem('CONFIG is required');
      default:
        if (rest.length > 0) throw new UsageProblem(`unexpected argument '${rest[0]}'`);
        return await manage(first, args);
    }
  } catch (err) {
    if (err instanceof UsageProblem) {
      console.error(usageLine('manager', err.message));
      return 2;
    }
    if (err instanceof ManagerConfigError) {
      console.error(`gearbox manager: ${err.message}`);
      return 2;
    }
    console.error(`gearbox manager: ${(err as Error).message}`);
    return 1;
  }
}

async function manage(file: string, args: Parsed): Promise<number> {
  const config = loadConfig(file);
  if (args.check) {
    console.log(`${config.file}: good; ${config.workers.length} entries`);
    for (const w of config.workers)
      console.log(
        `  ${w.name}: ${w.kind} ${w.argv.join(' ')}, ${w.autoscale ? `autoscale ${w.autoscale.min}..${w.autoscale.max}` : `count ${w.count}`}`,
      );
    return 0;
  }
  const log = new StderrLogger(StderrLogger.levelFor(args.verbose));
  const manager = new Manager(config, log);
  let signals = 0;
  const stopped = new Promise<void>((resolve) => {
    const onStop = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals === 1) {
        log.log('NOTICE', `${signal}: stopping gracefully (send it again to kill the workers)`);
        void manager.stop().then(resolve);
      } else {
        log.log('WARNING', `${signal} again: killing every worker now`);
        manager.kill();
      }
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
  });
  process.on('SIGHUP', () => {
    log.log('NOTICE', 'SIGHUP: reloading the config');
    manager.reload();
  });
  await manager.start();
  await stopped;
  return signals > 1 ? 1 : 0;
}

async function control(args: Parsed, request: ControlRequest): Promise<number> {
  const socket =
    args.socket ?? (args.config ? loadConfig(args.config).controlSocket : defaultControlSocket());
  const answer = await sendControl(socket, request);
  if (!answer.ok) {
    console.error(`gearbox manager: ${answer.error}`);
    return 1;
  }
  if (request.command !== 'status') {
    if (args.json) console.log(JSON.stringify(answer));
    else console.log(answer.message ?? 'ok');
    return 0;
  }
  const { ok: _ok, message: _message, ...report } = answer;
  if (args.json) console.log(JSON.stringify(report, null, 2));
  else console.log(formatStatus(report as StatusReport));
  return 0;
}

/** The human table of `gearbox manager status`. */
export function formatStatus(report: StatusReport): string {
  const header = ['NAME', 'PID', 'STATE', 'UPTIME', 'JOBS', 'RESTARTS', 'CURRENT JOB'];
  const rows = report.processes.map((p) => [
    p.name,
    p.pid === null ? '-' : String(p.pid),
    p.restart_in_seconds === null
      ? p.state
      : `${p.state} (restart in ${p.restart_in_seconds.toFixed(1)} s)`,
    p.uptime_seconds === null ? '-' : duration(p.uptime_seconds),
    p.jobs_done === null ? '-' : String(p.jobs_done),
    String(p.restarts),
    p.current_jobs === null || p.current_jobs.length === 0
      ? '-'
      : p.current_jobs.map((j) => `${j.handle} (${j.function})`).join(', '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const summary = report.entries
    .map((e) => {
      const auto = e.autoscale
        ? `, autoscale ${e.autoscale.min}..${e.autoscale.max}, backlog ${e.autoscale.queued ?? '?'} queued + ${e.autoscale.running ?? '?'} running`
        : '';
      return `${e.name}: ${e.kind}, ${e.desired} wanted${auto}`;
    })
    .join('\n');
  return [
    `manager ${report.pid} (${report.state}, up ${duration(report.uptime_seconds)}), ${report.config}`,
    summary,
    '',
    line(header),
    ...rows.map(line),
  ].join('\n');
}

function duration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400)
    return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor(s / 3600) % 24).padStart(2, '0')}h`;
}
